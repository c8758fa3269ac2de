"""``@paddock_task``: the one way a Celery task is declared in paddock.

It fixes the three things that must never be left to each caller: the task's name (stable
across refactors, since queued messages carry it), its queue (a :class:`Queue` member, so a
typo fails at import) and its retry policy (retries only for errors a later attempt can
fix, and only for tasks declared safe to run twice).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from celery import shared_task

from paddock.workers.declarations import (
    TRANSIENT_ERRORS,
    RetryPolicy,
    TaskDeclaration,
    declaration_record,
    declarations,
    declared_queue,
)
from paddock.workers.queues import Queue
from paddock.workers.tracking import TrackedTask

TASK_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

NO_RETRY = RetryPolicy()

__all__ = [
    "NO_RETRY", "TRANSIENT_ERRORS", "RetryPolicy", "declarations", "declared_queue",
    "paddock_task",
]


def paddock_task(
    *,
    name: str,
    queue: Queue,
    retry: RetryPolicy = NO_RETRY,
    idempotent: bool = False,
    time_limit: int | None = None,
    soft_time_limit: int | None = None,
) -> Callable[[Callable[..., Any]], Any]:
    """Declare a Celery task.

    ``idempotent=True`` means running the task twice with the same arguments leaves the
    same state as running it once. Only such tasks are acknowledged late (a worker killed
    mid-task gets the message redelivered) and only they may be retried.
    """
    if not isinstance(queue, Queue):
        raise TypeError(
            f"task {name!r}: queue must be a member of paddock.workers.queues.Queue "
            f"({', '.join(q.name for q in Queue)}), not {queue!r}"
        )
    if not TASK_NAME.match(name):
        raise ValueError(
            f"task name {name!r} must be dotted lower-case words, e.g. 'curation.ingest_shard'"
        )
    if retry.on and not idempotent:
        raise ValueError(
            f"task {name!r}: a retried task runs again; make it safe to run twice and "
            "declare idempotent=True, or use NO_RETRY"
        )

    def decorate(function: Callable[..., Any]) -> Any:
        path = f"{function.__module__}.{function.__qualname__}"
        declaration_record(TaskDeclaration(name, queue, retry, idempotent, path))
        return shared_task(
            name=name,
            base=TrackedTask,
            autoretry_for=retry.on,
            max_retries=retry.max_retries,
            retry_backoff=retry.first_delay_seconds,
            retry_backoff_max=retry.max_delay_seconds,
            retry_jitter=True,
            acks_late=idempotent,
            reject_on_worker_lost=idempotent,
            time_limit=time_limit,
            soft_time_limit=soft_time_limit,
        )(function)

    return decorate
