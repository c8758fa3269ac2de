"""A real worker process consuming from the real Redis."""

import time

import pytest
from django.conf import settings

from paddock.workers.jobs import job_enqueue
from paddock.workers.models import Job, JobState
from paddock.workers.tasks.diagnostics import probe_default, probe_training
from tests.support import tasks

pytestmark = pytest.mark.worker


def wait_for_job(job_id, *, states, worker, timeout=30.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.state in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job stayed {job.state} for {timeout} s; worker log:\n{worker.log()}")


def test_task_sent_through_the_broker_returns_its_result(default_worker):
    report = probe_default.delay().get(timeout=30)

    assert report["queue"] == "default"
    assert report["worker"] == default_worker.name


def test_training_task_is_not_consumed_by_a_default_only_worker(
    default_worker, start_worker, redis_client
):
    training = probe_training.delay()
    # A default probe sent afterwards comes back: the worker is alive and consuming, and
    # with prefetch 1 it would have taken the older training message first if it could.
    assert probe_default.delay().get(timeout=30)["worker"] == default_worker.name
    assert training.state == "PENDING"
    assert redis_client.llen(f"{settings.REDIS_KEY_PREFIX}training") == 1

    training_worker = start_worker(["training"])
    assert training.get(timeout=30)["worker"] == training_worker.name
    assert redis_client.llen(f"{settings.REDIS_KEY_PREFIX}training") == 0
    training_worker.stop()


@pytest.mark.django_db(transaction=True)
def test_tracked_job_records_worker_progress_and_result(default_worker):
    job = job_enqueue(task=tasks.count_words, kwargs={"text": "one two three"}, label="count")

    job = wait_for_job(job.pk, states={JobState.SUCCEEDED, JobState.FAILED}, worker=default_worker)

    assert job.state == JobState.SUCCEEDED, job.error
    assert job.result == {"words": 3}
    assert job.progress == 1.0
    assert job.worker == default_worker.name
    assert job.attempts == 1
    assert job.started_at <= job.finished_at


@pytest.mark.django_db(transaction=True)
def test_failed_job_keeps_the_error_for_managers(default_worker):
    job = job_enqueue(task=tasks.explode, kwargs={"message": "shard 7 is not gzip"})

    job = wait_for_job(job.pk, states={JobState.SUCCEEDED, JobState.FAILED}, worker=default_worker)

    assert job.state == JobState.FAILED
    assert job.message == "ValueError: shard 7 is not gzip"
    assert "Traceback" in job.error and "shard 7 is not gzip" in job.error
