"""Issue 18, H1: a task that kills its worker is not redelivered forever.

Tasks declared idempotent are acknowledged late and rejected when their worker dies, so
the broker hands them to the next worker; one input that kills a worker (out of memory)
then killed every worker in turn. The Job row counts the deliveries whose worker died
(a delivery that finds its job still running) and fails the job, with that reason, on the
third delivery instead of running it.
"""

from __future__ import annotations

import pytest

from paddock.workers.jobs import WORKERS_LOST_MESSAGE, job_enqueue
from paddock.workers.models import Job, JobState
from tests.support import tasks
from tests.workers.test_celery_worker import wait_for_job
from tests.workers.test_jobs import queued_job, run_in_process


@pytest.mark.django_db
def test_a_job_whose_worker_died_once_runs_again():
    job = queued_job(tasks.count_words, text="alpha beta")
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, attempts=1)  # worker died

    outcome = run_in_process(tasks.count_words, job)

    job.refresh_from_db()
    assert outcome.successful() and job.state == JobState.SUCCEEDED
    assert (job.attempts, job.workers_lost) == (2, 1)


@pytest.mark.django_db
def test_the_third_delivery_after_two_dead_workers_fails_with_the_reason_unrun():
    job = queued_job(tasks.count_words, text="never counted")
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, attempts=2, workers_lost=1)
    calls = len(tasks.CALLS)

    outcome = run_in_process(tasks.count_words, job)

    job.refresh_from_db()
    assert outcome.successful()  # acknowledged: the broker forgets the message
    assert len(tasks.CALLS) == calls
    assert (job.state, job.workers_lost, job.attempts) == (JobState.FAILED, 2, 2)
    assert job.message == job.error == WORKERS_LOST_MESSAGE
    assert "stopped twice (out of memory?)" in job.message


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_task_that_kills_its_real_worker_fails_on_the_third_delivery(default_worker, tmp_path):
    tally = tmp_path / "deliveries.txt"
    job = job_enqueue(task=tasks.kill_own_worker, kwargs={"tally": str(tally)})

    job = wait_for_job(job.pk, states={JobState.FAILED}, worker=default_worker, timeout=60.0)

    assert tally.read_text().count("delivered") == 2
    assert job.message == WORKERS_LOST_MESSAGE and job.workers_lost == 2
