"""Services for Job rows: enqueue a tracked task, and record what the worker reports."""

from __future__ import annotations

import logging
from typing import Any, Final

from celery import Task, current_task
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError

from paddock.kernel.throttle import ProgressThrottle
from paddock.platform.errors import BrokerUnavailable
from paddock.platform.failure_text import failure_sentence
from paddock.workers.declarations import declared_queue
from paddock.workers.models import Job, RunState

# Message header marking a task sent as a Job; retries carry it along. Untracked tasks
# (probes, internal fan-out) never touch the database.
JOB_HEADER = "paddock_job"

PROGRESS_WRITE_INTERVAL_SECONDS = 1.0
# Deliveries whose worker died mid-task (killed, out of memory) before the job is failed
# instead of run again: acks_late + reject_on_worker_lost put the message back each time,
# so without this one input that kills its worker kills every worker in turn.
MAX_WORKERS_LOST: Final = 2
WORKERS_LOST_MESSAGE: Final = (
    "Stopped: the worker running this stopped twice (out of memory?), so it is not started "
    "again. Check the input, or the worker's memory, and start it anew."
)
logger = logging.getLogger(__name__)
_throttles: dict[str, ProgressThrottle] = {}


def is_tracked(request: Any) -> bool:
    """Whether the task being run was sent as a Job (not a probe or internal fan-out)."""
    return bool(request.id and (request.headers or {}).get(JOB_HEADER))


def job_enqueue(
    *, task: Task, kwargs: dict[str, Any] | None = None, label: str = "", created_by=None
) -> Job:
    """Create the Job row and send the task once the surrounding transaction commits.

    Sending after commit means a worker never receives a task id whose row it cannot see
    yet, and a rolled-back request sends nothing.
    """
    queue = declared_queue(task.name)
    if queue is None:
        raise ValueError(f"{task.name!r} was not declared with @paddock_task; it cannot be a job")
    kwargs = dict(kwargs or {})
    job = Job.objects.create(
        task_name=task.name,
        queue=queue.value,
        label=label,
        kwargs=kwargs,
        created_by=created_by,
    )
    transaction.on_commit(lambda: _send(task, job, kwargs))
    return job


def _send(task: Task, job: Job, kwargs: dict[str, Any]) -> None:
    """Send the job's message; when the broker is down, the row says so (failed, nothing
    started) and the request answers 503 instead of leaving a job queued forever."""
    try:
        task.apply_async(kwargs=kwargs, task_id=str(job.pk), headers={JOB_HEADER: True})
    except BrokerOperationalError as error:
        Job.objects.filter(pk=job.pk, state=RunState.QUEUED).update(
            state=RunState.FAILED, finished_at=timezone.now(), updated_at=timezone.now(),
            message="Not started: the task queue (Redis) could not be reached. Try again.",
            error=f"{type(error).__name__}: {error}")
        raise BrokerUnavailable(str(error)) from error


def job_begin(job_id: str, *, worker: str) -> Job | None:
    """Mark a tracked job running; None when the task was not enqueued as a job.

    A job found running was being run by a worker that died (a finished or retried
    attempt leaves it succeeded, failed or queued). After :data:`MAX_WORKERS_LOST` such
    deaths the job is failed with that reason and not run: check ``job.should_run``.
    """
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return job
        if job.state == RunState.RUNNING:
            job.workers_lost += 1
            if job.workers_lost >= MAX_WORKERS_LOST:
                logger.error("job %s: its worker died %s times; failed", job.pk, job.workers_lost)
                _fail_lost(job)
                return job
        job.state = RunState.RUNNING
        job.attempts += 1
        job.worker = worker
        job.error = ""
        job.started_at = job.started_at or timezone.now()
        job.save(update_fields=[
            "state", "attempts", "workers_lost", "worker", "error", "started_at", "updated_at",
        ])
    return job


def _fail_lost(job: Job) -> None:
    job.state = RunState.FAILED
    job.message = job.error = WORKERS_LOST_MESSAGE
    job.finished_at = timezone.now()
    job.save(update_fields=[
        "state", "workers_lost", "message", "error", "finished_at", "updated_at",
    ])


def job_report_progress(job_id: str, *, fraction: float, message: str = "") -> None:
    fraction = min(max(float(fraction), 0.0), 1.0)
    Job.objects.filter(pk=job_id, state=RunState.RUNNING).update(
        progress=fraction, message=message[:500], updated_at=timezone.now()
    )


def job_succeed(job_id: str, *, result: Any) -> None:
    Job.objects.filter(pk=job_id).update(
        state=RunState.SUCCEEDED,
        progress=1.0,
        result=result,
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )
    _throttles.pop(str(job_id), None)


def job_fail(job_id: str, *, error: BaseException) -> None:
    """The job failed: people get one sentence (never a traceback or SQL), the worker's
    log the traceback (:mod:`paddock.platform.failure_text`)."""
    logger.error("job %s failed", job_id, exc_info=error)
    sentence = failure_sentence(error, reference=f"job {job_id}")
    Job.objects.filter(pk=job_id).update(
        state=RunState.FAILED,
        message=sentence[:500],
        error=sentence[:20_000],
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )
    _throttles.pop(str(job_id), None)


def job_retrying(job_id: str, *, attempt: int, reason: str) -> None:
    # Only this attempt's row: the retry message is already on the broker, and another
    # worker may have begun the next attempt.
    Job.objects.filter(pk=job_id, state=RunState.RUNNING, attempts=attempt).update(
        state=RunState.QUEUED, message=f"retrying after: {reason}"[:500], updated_at=timezone.now()
    )


def report_progress(fraction: float, message: str = "") -> None:
    """Progress callback for services run inside a tracked task.

    Services take a ``progress(fraction, message)`` callable instead of knowing about Celery;
    tasks pass this one. Writes are throttled to one per second per job, so a service may
    call it for every document it processes.
    """
    request = getattr(current_task, "request", None)
    if request is None or not is_tracked(request):
        return
    job_id = request.id
    throttle = _throttles.setdefault(job_id, ProgressThrottle(PROGRESS_WRITE_INTERVAL_SECONDS))
    if not throttle.ready(fraction):
        return
    job_report_progress(job_id, fraction=fraction, message=message)
