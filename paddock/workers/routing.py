"""Route each task to the queue it was declared with (``task_routes`` points here)."""

from __future__ import annotations

from typing import Any

from paddock.workers.declarations import declared_queue


def route_task(
    name: str, args: Any, kwargs: Any, options: dict[str, Any], task: Any = None, **_: Any
) -> dict[str, str] | None:
    """The declared queue of a paddock task; None lets Celery use the default queue.

    Routing by the declaration (never by a caller's ``queue=`` argument) keeps the queue of
    a task in one place, its ``@paddock_task`` line.
    """
    queue = declared_queue(name)
    if queue is None:
        return None
    return {"queue": queue.value, "routing_key": queue.value, "exchange": queue.value}
