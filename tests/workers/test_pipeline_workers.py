"""The weekly loop on real Redis and real worker processes (CPU and GPU-queue workers),
tiny models: judgements through the API, the whole pipeline, a killed training worker,
duplicate deliveries."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from paddock.annotation.models import Axis, BatchStatus
from paddock.kernel.registry import POLICY, REWARD_HELPFULNESS, ModelRegistry
from paddock.platform.accounts.models import Role
from paddock.workers.models import RunState, StepRun
from paddock.workers.pipeline.service import pipeline_start, pipeline_watch
from paddock.workers.tasks.pipeline import STEP_TASKS
from tests.annotation.factories import make_batch, make_comparisons
from tests.support.timing import scaled, wait_until
from tests.workers.pipeline_support import FAST_PLAN, wait_for_run

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FAST_BEAT = {"PADDOCK_PIPELINE_HEARTBEAT": "0.5", "PADDOCK_PIPELINE_STALE_AFTER": "4"}


@pytest.fixture(scope="module")
def cpu_worker(start_worker):
    worker = start_worker(["default", "curation"], FAST_BEAT)
    yield worker
    worker.stop()


def steps_state(run_id) -> str:
    """Each step's state, progress and last heartbeat, for a wait that timed out."""
    return "; ".join(
        f"{s.step} {s.state} {s.progress:.2f} beat {s.heartbeat_at:%H:%M:%S}" if s.heartbeat_at
        else f"{s.step} {s.state} {s.progress:.2f}"
        for s in StepRun.objects.filter(pipeline_id=run_id).order_by("pk"))


def judged_batch(make_user):
    """A batch judged through the API by two annotators, as the web UI would."""
    batch = make_batch(name="week 1", overlap=1, test_split_size=4)
    make_comparisons(batch, 10)
    make_comparisons(batch, 6, axis=Axis.SAFETY)
    for _ in range(2):
        client = APIClient()
        client.force_authenticate(make_user(Role.ANNOTATOR))
        while (lease := client.post("/api/v1/annotation/next")).status_code == 200:
            body = lease.json()
            choice = {"chosen": "left", "strength": "better"}
            if body["axis"] == "safety":
                choice |= {"left_safe": True, "right_safe": False}
            answer = client.post(f"/api/v1/annotation/assignments/{body['assignment_id']}/submit",
                                 choice, format="json")
            assert answer.status_code == 201, answer.content
    return batch


@pytest.mark.timeout(scaled(300))
def test_the_whole_loop_on_real_workers(base_models, cpu_worker, start_worker, make_user):
    gpu = start_worker(["generation", "training"], FAST_BEAT)
    try:
        batch = judged_batch(make_user)
        run = pipeline_start(batch, plan=FAST_PLAN)
        run = wait_for_run(run.pk, workers=[cpu_worker, gpu], timeout=scaled(150))
        steps = {s.step: s for s in run.steps.all()}
        assert run.state == RunState.SUCCEEDED, {n: s.error[-800:] for n, s in steps.items()}
        # Each step ran where its queue is consumed: the CPU steps never on the GPU worker.
        assert steps["close_batch"].worker != gpu.name
        assert steps["train_helpfulness_rm"].worker == gpu.name
        registry = ModelRegistry(settings.MODEL_REGISTRY_DIR)
        policy = registry.get(steps["register_policy"].result["version"])
        assert policy.batch == batch.name
        following = run.next_batch
        assert following.status == BatchStatus.OPEN
        assert following.comparisons.filter(response_a__model_version=policy.version).exists() \
            or following.comparisons.filter(response_b__model_version=policy.version).exists()

        # The same step task delivered again through the broker: its stored result, no run.
        versions = len(registry.list(REWARD_HELPFULNESS))
        again = STEP_TASKS["train_helpfulness_rm"].delay(str(run.pk)).get(timeout=scaled(60))
        assert again == steps["train_helpfulness_rm"].result
        assert len(registry.list(REWARD_HELPFULNESS)) == versions
        assert StepRun.objects.get(pk=steps["train_helpfulness_rm"].pk).attempts == 1
    finally:
        gpu.stop()


@pytest.mark.timeout(scaled(600))
def test_a_killed_training_worker_is_replaced_and_the_step_resumes_once(
    base_models, cpu_worker, start_worker, make_user, settings
):
    settings.PADDOCK_PIPELINE_STALE_AFTER = 4.0
    batch = judged_batch(make_user)
    slow = {**FAST_PLAN, "reward": {**FAST_PLAN["reward"], "epochs": 40, "batch_pairs": 2,
                                    "micro_batch_pairs": 2}}
    gpu = start_worker(["generation", "training"], FAST_BEAT)
    run = pipeline_start(batch, plan=slow)

    def training_row():
        return StepRun.objects.get(pipeline=run, step="train_helpfulness_rm")

    row = wait_until(
        lambda: (r := training_row()).state == RunState.RUNNING and r.progress >= 0.15 and r,
        timeout=180,
        describe=lambda: (f"train_helpfulness_rm did not run past 0.15 "
                          f"({steps_state(run.pk)})\n{gpu.log()[-3000:]}"))
    gpu.kill()
    killed_at = row.progress

    replacement = start_worker(["generation", "training"], FAST_BEAT)
    try:
        time.sleep(4.5)  # the heartbeat goes stale
        # On a busy machine the watchdog may need more than one look.
        wait_until(lambda: pipeline_watch()["resent"], timeout=30, interval=1.0,
                   describe=lambda: f"the watchdog did not re-send the lost step "
                                    f"({steps_state(run.pk)})")
        run = wait_for_run(run.pk, workers=[cpu_worker, replacement], timeout=scaled(400))
        assert run.state == RunState.SUCCEEDED, run.error
        row = StepRun.objects.get(pipeline=run, step="train_helpfulness_rm")
        assert row.attempts == 2 and row.worker == replacement.name
        # It resumed from a checkpoint, not from step 0: the first progress the second
        # attempt printed was past the step where the first one was killed.
        progress = [json.loads(line) for line in row.log_tail.splitlines()
                    if line.startswith("{") and '"progress"' in line]
        assert progress[0]["step"] > 1 and progress[0]["step"] / progress[0]["total_steps"] \
            >= killed_at - 0.1, progress[0]
        registry = ModelRegistry(settings.MODEL_REGISTRY_DIR)
        made = [v for v in registry.list(REWARD_HELPFULNESS) if v.key.startswith(str(run.pk))]
        assert len(made) == 1
        assert len([v for v in registry.list(POLICY) if v.key.startswith(str(run.pk))]) == 1
    finally:
        replacement.stop()


@pytest.mark.timeout(scaled(600))
def test_a_redis_crash_mid_pipeline_loses_nothing(base_models, make_user, tmp_path):
    """Redis killed (SIGKILL) while a reward model trains and the other waits in the queue,
    then started again: with the append-only file the README asks for, the queued messages
    are still there, the workers reconnect, the watchdog re-sends what the crash left
    waiting, and the run finishes with each step run once."""
    from celery import Celery
    from django.db import connection

    from tests.support.celery_worker import WorkerProcess, worker_environment
    from tests.support.redis_server import RedisServer

    server = RedisServer(tmp_path).start()
    probe = Celery("probe", broker=server.url, backend=server.url, set_as_current=False)
    probe.conf.broker_transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    probe.conf.result_backend_transport_options = settings.CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS
    env = {**worker_environment(database_name=str(connection.settings_dict["NAME"])),
           "REDIS_URL": server.url, **FAST_BEAT}
    workers = [WorkerProcess(queues=queues, env=env, log_dir=tmp_path).start(probe)
               for queues in (["default", "curation"], ["generation", "training"])]
    try:
        batch = judged_batch(make_user)
        slow = {**FAST_PLAN, "reward": {**FAST_PLAN["reward"], "epochs": 20, "batch_pairs": 2,
                                        "micro_batch_pairs": 2}}
        started = subprocess.run(
            [sys.executable, "-m", "tests.support.start_pipeline", str(batch.pk),
             json.dumps(slow)], env=env, capture_output=True, text=True, check=True)
        run_id = started.stdout.strip().splitlines()[-1]

        def training_started():
            first = StepRun.objects.filter(pipeline_id=run_id, step__startswith="train_",
                                           state=RunState.RUNNING).first()
            return first if first is not None and first.progress >= 0.1 else None

        wait_until(training_started, timeout=180, describe=lambda: (
            f"no reward model trained past 0.1 ({steps_state(run_id)})\n"
            f"{workers[1].log()[-3000:]}"))
        waiting = StepRun.objects.get(pipeline_id=run_id, step__startswith="train_",
                                      state=RunState.QUEUED)

        server.crash()
        time.sleep(2)
        server.start()

        # Beat's watchdog, every few seconds: a step the crash left waiting (the chord's
        # count can be cut mid-update) is re-sent once the steps before it are done.
        watch_env = {**env, "PADDOCK_PIPELINE_RESEND_AFTER": "15"}
        deadline = time.monotonic() + scaled(200)
        while time.monotonic() < deadline:
            if StepRun.objects.filter(pipeline_id=run_id, step="open_next_batch").exclude(
                    state__in=[RunState.QUEUED, RunState.RUNNING]).exists():
                break
            subprocess.run([sys.executable, "-m", "tests.support.start_pipeline", "watch"],
                           env=watch_env, capture_output=True, text=True, check=True)
            time.sleep(5)
        run = wait_for_run(run_id, workers=workers, timeout=scaled(30))
        assert run.state == RunState.SUCCEEDED, run.error
        assert StepRun.objects.get(pk=waiting.pk).state == RunState.SUCCEEDED
        assert all(s.attempts == 1 for s in run.steps.exclude(state=RunState.SKIPPED)), [
            (s.step, s.attempts) for s in run.steps.all()]
    finally:
        for worker in workers:
            worker.stop()
        server.stop()
