"""A real worker process consuming from the real Redis."""

import json
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from paddock.workers.jobs import job_enqueue
from paddock.workers.models import Job, JobState
from paddock.workers.tasks.diagnostics import probe_default, probe_training
from tests.support import tasks
from tests.support.celery_worker import worker_environment
from tests.support.redis_queues import queues_clean
from tests.support.timing import scaled, wait_until

pytestmark = pytest.mark.worker


def wait_for_job(job_id, *, states, worker, timeout=30.0) -> Job:
    def finished():
        job = Job.objects.get(pk=job_id)
        return job if job.state in states else None

    def describe():
        job = Job.objects.get(pk=job_id)
        return (f"job {job.label or job_id} stayed {job.state} (progress {job.progress}, "
                f"worker {job.worker or 'none'}); worker log:\n{worker.log()[-4000:]}")

    return wait_until(finished, timeout=timeout, interval=0.1, describe=describe)


def test_the_suite_uses_its_own_redis_database_and_a_session_prefix_workers_share():
    # Database 0 is where `make run` and a user's own data live.
    assert urlsplit(settings.REDIS_URL).path not in ("", "/", "/0"), settings.REDIS_URL
    assert settings.REDIS_KEY_PREFIX.startswith("paddock-test-")
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] == \
        settings.REDIS_KEY_PREFIX
    # A worker process started by the tests reads the same Redis and prefix.
    seen = subprocess.run(
        [sys.executable, "-c", "import django, json; django.setup(); "
         "from django.conf import settings as s; "
         "print(json.dumps([s.REDIS_URL, s.REDIS_KEY_PREFIX]))"],
        env=worker_environment(), capture_output=True, text=True, check=True, timeout=scaled(60))
    assert json.loads(seen.stdout.strip().splitlines()[-1]) == [
        settings.REDIS_URL, settings.REDIS_KEY_PREFIX]


def test_cleaning_empties_every_queue_of_the_session_and_nothing_else(redis_client):
    # Queue names no worker consumes: a running worker would take these messages itself.
    prefix = settings.REDIS_KEY_PREFIX
    redis_client.rpush(f"{prefix}probe-a", "left by a failed test")
    redis_client.rpush(f"{prefix}probe-b\x06\x163", "a priority message")
    redis_client.set(f"{prefix}celery-task-meta-x", "a result")
    try:
        removed = queues_clean(redis_client, prefix=prefix, queues=["probe-a", "probe-b"])
        assert {key: n for key, n in removed.items() if "probe" in key} == {
            f"{prefix}probe-a": 1, f"{prefix}probe-b\x06\x163": 1}
        assert redis_client.exists(f"{prefix}celery-task-meta-x")
        with pytest.raises(ValueError, match="outside a test session"):
            queues_clean(redis_client, prefix="", queues=["default"])
    finally:
        redis_client.delete(f"{prefix}celery-task-meta-x")


def test_task_sent_through_the_broker_returns_its_result(default_worker):
    report = probe_default.delay().get(timeout=scaled(30))

    assert report["queue"] == "default"
    assert report["worker"] == default_worker.name


def test_training_task_is_not_consumed_by_a_default_only_worker(
    default_worker, start_worker, redis_client
):
    training = probe_training.delay()
    # A default probe sent afterwards comes back: the worker is alive and consuming, and
    # with prefetch 1 it would have taken the older training message first if it could.
    assert probe_default.delay().get(timeout=scaled(30))["worker"] == default_worker.name
    assert training.state == "PENDING"
    assert redis_client.llen(f"{settings.REDIS_KEY_PREFIX}training") == 1

    training_worker = start_worker(["training"])
    assert training.get(timeout=scaled(30))["worker"] == training_worker.name
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
def test_failed_job_keeps_the_error_for_managers_and_the_traceback_in_the_log(default_worker):
    job = job_enqueue(task=tasks.explode, kwargs={"message": "shard 7 is not gzip"})

    job = wait_for_job(job.pk, states={JobState.SUCCEEDED, JobState.FAILED}, worker=default_worker)

    assert job.state == JobState.FAILED
    assert job.message == "ValueError: shard 7 is not gzip"
    assert job.error == "ValueError: shard 7 is not gzip"
    assert "Traceback" in default_worker.log() and "shard 7 is not gzip" in default_worker.log()


def test_waits_scale_with_the_environment_and_say_what_they_saw(monkeypatch):
    monkeypatch.setenv("PADDOCK_TEST_TIMEOUT_SCALE", "2.5")
    assert scaled(10) == 25
    monkeypatch.setenv("PADDOCK_TEST_TIMEOUT_SCALE", "0.001")
    with pytest.raises(AssertionError, match=r"(?s)waited 0 s.*run is stuck in queued"):
        wait_until(lambda: None, timeout=1, interval=0.01,
                   describe=lambda: "run is stuck in queued")
    monkeypatch.setenv("PADDOCK_TEST_TIMEOUT_SCALE", "fast")
    with pytest.raises(ValueError, match="not a number"):
        scaled(1)


def test_a_sqlite_test_database_lets_writers_wait_long_for_the_lock():
    # A step's heartbeat thread, the worker and the test write at once; on a busy machine
    # production's 20 s wait ran out ("database is locked").
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("PostgreSQL: writers do not lock the whole database")
    assert database["OPTIONS"]["timeout"] >= 60
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]
