"""One run engine: one state vocabulary, one progress throttle, heartbeats and the
watchdog for curation runs as for pipeline steps, one declaration of a run's stages."""

from __future__ import annotations

import pytest

from paddock.curation import models as curation_models
from paddock.kernel import throttle as throttle_module
from paddock.kernel.throttle import ProgressThrottle
from paddock.workers import models as workers_models
from paddock.workers.states import RunState


def test_one_vocabulary_and_each_row_keeps_the_values_it_stored():
    assert workers_models.JobState is RunState
    assert curation_models.RunStatus is RunState

    def stored(model, field):
        return [value for value, _ in model._meta.get_field(field).choices]

    assert stored(workers_models.Job, "state") == [
        "queued", "running", "succeeded", "failed", "cancelled"]
    assert stored(workers_models.PipelineRun, "state") == stored(
        workers_models.StepRun, "state") == [
        "pending", "queued", "running", "succeeded", "skipped", "failed", "cancelled"]
    assert stored(curation_models.CurationRun, "status") == [
        "draft", "queued", "running", "succeeded", "failed"]


def test_the_throttle_lets_the_first_the_last_and_one_per_interval_through(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(throttle_module.time, "monotonic", lambda: clock[0])
    throttle = ProgressThrottle(0.5)
    assert throttle.ready(0.1)
    clock[0] += 0.2
    assert not throttle.ready(0.2)
    assert throttle.ready(1.0)  # a final report always passes
    assert throttle.ready(None)  # so does a status or log line
    clock[0] += 0.2
    assert not throttle.ready(0.3)
    clock[0] += 0.5
    assert throttle.ready(0.4)




@pytest.mark.django_db
def test_the_watchdog_fails_a_curation_run_whose_worker_stopped_beating(redis_client):
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from paddock.curation.models import CurationRun
    from paddock.workers.tasks.pipeline import tick

    redis_client.delete(f"{settings.REDIS_KEY_PREFIX}curation")  # earlier tests' messages

    now = timezone.now()
    lost = CurationRun.objects.create(name="lost", status=RunState.RUNNING,
                                      heartbeat_at=now - timedelta(minutes=10))
    alive = CurationRun.objects.create(name="alive", status=RunState.RUNNING,
                                       heartbeat_at=now)
    in_process = CurationRun.objects.create(name="in one process", status=RunState.RUNNING)
    done = CurationRun.objects.create(name="done", status=RunState.SUCCEEDED,
                                      heartbeat_at=now - timedelta(minutes=10))

    assert tick()["curation_runs_failed"] == [lost.pk]

    lost.refresh_from_db()
    assert lost.status == RunState.FAILED and lost.finished_at is not None
    assert lost.message.startswith("worker lost: no heartbeat since")
    for run, status in ((alive, RunState.RUNNING), (in_process, RunState.RUNNING),
                        (done, RunState.SUCCEEDED)):
        run.refresh_from_db()
        assert run.status == status, run.name


@pytest.mark.django_db
def test_a_silent_curation_run_is_not_lost_while_its_queue_holds_waiting_work(redis_client):
    """Shards queued behind other work beat nothing; the run waits, it is not lost."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from paddock.curation.models import CurationRun
    from paddock.workers.tasks.pipeline import tick

    run = CurationRun.objects.create(name="waiting", status=RunState.RUNNING,
                                     heartbeat_at=timezone.now() - timedelta(minutes=10))
    queue = f"{settings.REDIS_KEY_PREFIX}curation"
    redis_client.rpush(queue, b"a shard's message")
    try:
        result = tick()
        assert result["curation_runs_failed"] == [] and result["curation_messages_waiting"] == 1
        run.refresh_from_db()
        assert run.status == RunState.RUNNING
    finally:
        redis_client.delete(queue)
    assert tick()["curation_runs_failed"] == [run.pk]  # the queue is empty: the worker died


@pytest.mark.django_db
def test_a_curation_task_beats_its_run_only_while_the_run_is_running():
    from datetime import timedelta

    from django.utils import timezone

    from paddock.curation.models import CurationRun
    from paddock.curation.services.runs import run_begin
    from paddock.workers.tasks.near_dedup import curation_run_heartbeat

    old = timezone.now() - timedelta(hours=1)
    running = CurationRun.objects.create(name="running", status=RunState.DRAFT)
    run_begin(running)
    failed = CurationRun.objects.create(name="failed", status=RunState.FAILED, heartbeat_at=old)
    running.refresh_from_db()
    assert running.heartbeat_at is None  # no worker has it yet: nothing for the watchdog

    with curation_run_heartbeat(running.pk), curation_run_heartbeat(failed.pk):
        pass
    with curation_run_heartbeat(None):  # a shard task sent without a run: beats nothing
        pass

    running.refresh_from_db()
    failed.refresh_from_db()
    assert running.heartbeat_at is not None and running.heartbeat_at > old
    assert failed.heartbeat_at == old


def test_the_stage_order_of_a_curation_run_is_declared_once():
    """The in-process run and the Celery tasks both take it from runs.STAGES; the tasks
    name no stage but the one they spread over the workers."""
    import inspect

    from paddock.curation.services import runs
    from paddock.workers.tasks import curation as curation_tasks

    assert [*runs.STAGES_BEFORE_FAN_OUT, runs.FAN_OUT, *runs.STAGES_AFTER_FAN_OUT] == runs.STAGES
    assert [runs.SHARD_FAN_OUT, *runs.STAGES_BETWEEN_FAN_OUTS] == runs.STAGES_BEFORE_FAN_OUT
    assert "Stage." not in inspect.getsource(curation_tasks)
    assert "stage_" not in inspect.getsource(curation_tasks).replace("stages_", "")
