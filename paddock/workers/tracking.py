"""The base class of every paddock task: mirrors a task's life into its Job row.

Redis forgets; managers must not. A task enqueued through :func:`paddock.workers.jobs.job_enqueue`
has a Job row whose id is the Celery task id, and this class moves that row through
queued -> running -> succeeded/failed as the worker runs it. A second delivery of a job
that already succeeded returns the stored result instead of doing the work again.
"""

from __future__ import annotations

from typing import Any

from celery import Task
from celery.exceptions import Retry

from paddock.workers import jobs
from paddock.workers.jobs import JOB_HEADER, is_tracked
from paddock.workers.models import RunState

__all__ = ["JOB_HEADER", "TrackedTask", "is_tracked"]


class TrackedTask(Task):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not is_tracked(self.request):
            return super().__call__(*args, **kwargs)
        job = jobs.job_begin(self.request.id, worker=self.request.hostname or "")
        if job is None:  # the row is gone (deleted by a manager): nothing to report to
            return super().__call__(*args, **kwargs)
        if job.is_finished or job.state == RunState.FAILED:
            return job.result  # done already, or failed by job_begin: its workers died
        try:
            result = super().__call__(*args, **kwargs)
        except Retry as retry:
            jobs.job_retrying(job.pk, attempt=job.attempts, reason=str(retry.exc or retry))
            raise
        except BaseException as exc:
            jobs.job_fail(job.pk, error=exc)
            raise
        jobs.job_succeed(job.pk, result=result)
        return result
