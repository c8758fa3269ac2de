"""Job rows follow a tracked task through its life (run in-process, without a broker)."""

import pytest

from paddock.workers.jobs import job_enqueue
from paddock.workers.models import Job, JobState
from paddock.workers.tracking import JOB_HEADER
from tests.support import tasks

pytestmark = pytest.mark.django_db


def run_in_process(task, job: Job, **kwargs):
    """What a worker does with a delivered message, minus the broker."""
    return task.apply(
        kwargs=kwargs or job.kwargs, task_id=str(job.pk), headers={JOB_HEADER: True}
    )


def queued_job(task, **kwargs) -> Job:
    return Job.objects.create(task_name=task.name, queue="default", kwargs=kwargs)


def test_enqueue_sends_nothing_until_the_transaction_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = job_enqueue(task=tasks.count_words, kwargs={"text": "a b"}, label="words")
    assert job.state == JobState.QUEUED and job.queue == "default"
    assert len(callbacks) == 1


def test_enqueue_refuses_undeclared_tasks():
    from celery import shared_task

    @shared_task(name="tests.undeclared")
    def undeclared():
        return None

    with pytest.raises(ValueError, match="not declared with @paddock_task"):
        job_enqueue(task=undeclared)


def test_success_stores_result_and_full_progress():
    job = queued_job(tasks.count_words, text="alpha beta gamma delta")

    outcome = run_in_process(tasks.count_words, job)

    job.refresh_from_db()
    assert outcome.successful()
    assert (job.state, job.result, job.progress, job.attempts) == (
        JobState.SUCCEEDED, {"words": 4}, 1.0, 1,
    )
    assert job.started_at is not None and job.finished_at is not None


def test_second_delivery_of_a_finished_job_does_not_run_it_again():
    job = queued_job(tasks.count_words, text="once only")
    run_in_process(tasks.count_words, job)
    calls_after_first = len(tasks.CALLS)

    again = run_in_process(tasks.count_words, job)

    job.refresh_from_db()
    assert again.result == {"words": 2}
    assert len(tasks.CALLS) == calls_after_first
    assert job.attempts == 1


def test_failure_keeps_the_message_and_logs_the_traceback(caplog):
    job = queued_job(tasks.explode, message="bad shard")

    outcome = run_in_process(tasks.explode, job)

    job.refresh_from_db()
    assert outcome.failed()
    assert job.state == JobState.FAILED
    assert job.message == job.error == "ValueError: bad shard"  # people never see a traceback
    logged = [record for record in caplog.records if record.name == "paddock.workers.jobs"]
    assert logged and logged[0].exc_info[1].args == ("bad shard",)


def test_transient_errors_are_retried_then_succeed():
    job = queued_job(tasks.flaky, key=f"retry-{id(object())}", failures=2)

    outcome = run_in_process(tasks.flaky, job)

    job.refresh_from_db()
    assert outcome.result == "done after 3 attempts"
    assert job.state == JobState.SUCCEEDED
    assert job.attempts == 3


def test_transient_errors_beyond_the_retry_budget_fail_the_job():
    job = queued_job(tasks.flaky, key=f"give-up-{id(object())}", failures=5)

    outcome = run_in_process(tasks.flaky, job)

    job.refresh_from_db()
    assert outcome.failed()
    assert job.state == JobState.FAILED
    assert "lost the connection" in job.message


def test_tasks_not_sent_as_jobs_never_touch_the_job_table(django_assert_num_queries):
    job = queued_job(tasks.count_words, text="no row for me")
    with django_assert_num_queries(0):
        outcome = tasks.count_words.apply(kwargs={"text": "a b c"}, task_id=str(job.pk))
    assert outcome.result == {"words": 3}
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.attempts == 0
