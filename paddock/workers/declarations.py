"""What ``@paddock_task`` recorded about each task: its queue and retry policy.

Kept apart from :mod:`paddock.workers.declare` (which builds the Celery task on the
tracked base class) so that enqueuing a job and routing a message can read a task's
queue without importing the task machinery that itself reports into jobs.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import InterfaceError, OperationalError

from paddock.workers.queues import Queue

# Errors that say "the database, Redis or the network hiccuped", not "this input is bad".
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    OperationalError,
    InterfaceError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Which errors are retried, how often, and how long to wait (exponential, jittered)."""

    on: tuple[type[BaseException], ...] = ()
    max_retries: int = 0
    first_delay_seconds: int = 10
    max_delay_seconds: int = 600

    @classmethod
    def transient(cls, max_retries: int = 5) -> RetryPolicy:
        return cls(on=TRANSIENT_ERRORS, max_retries=max_retries)



@dataclass(frozen=True)
class TaskDeclaration:
    name: str
    queue: Queue
    retry: RetryPolicy
    idempotent: bool
    function: str


_DECLARED: dict[str, TaskDeclaration] = {}


def declaration_record(declaration: TaskDeclaration) -> None:
    """Remember ``declaration``; a second function under the same name is refused (queued
    messages carry the name, so it must mean one function)."""
    existing = _DECLARED.get(declaration.name)
    if existing is not None and existing.function != declaration.function:
        raise ValueError(f"task name {declaration.name!r} is declared twice: "
                         f"{existing.function}, {declaration.function}")
    _DECLARED[declaration.name] = declaration


def declared_queue(name: str) -> Queue | None:
    declaration = _DECLARED.get(name)
    return declaration.queue if declaration else None


def declarations() -> dict[str, TaskDeclaration]:
    return dict(_DECLARED)
