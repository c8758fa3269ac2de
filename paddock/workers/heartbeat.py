"""Heartbeats of running work, and when a silent one counts as lost.

A pipeline step and a curation run beat their row (``heartbeat_at``) every
``PADDOCK_PIPELINE_HEARTBEAT`` seconds while a worker runs them; the watchdog (the beat
tick: :func:`paddock.workers.pipeline.service.pipeline_watch`,
:func:`paddock.curation.services.runs.runs_fail_stale`) treats one silent for
``PADDOCK_PIPELINE_STALE_AFTER`` as lost with its worker.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import QuerySet
from django.utils import timezone


def heartbeat_seconds() -> float:
    return settings.PADDOCK_PIPELINE_HEARTBEAT


def stale_after() -> timedelta:
    """Running work whose heartbeat is older than this lost its worker."""
    return timedelta(seconds=settings.PADDOCK_PIPELINE_STALE_AFTER)


class Heartbeat(threading.Thread):
    """Sets ``heartbeat_at`` on ``rows`` (the running row, filtered so that a row that
    stopped running is left alone) every :func:`heartbeat_seconds` until stopped.

    As a context manager it beats once on entry, runs while the block runs, and stops
    with it, however the block ends."""

    def __init__(self, rows: QuerySet, *, name: str) -> None:
        super().__init__(daemon=True, name=name)
        self.rows = rows
        self.stopped = threading.Event()

    def beat(self) -> None:
        self.rows.update(heartbeat_at=timezone.now())

    def run(self) -> None:
        try:
            while not self.stopped.wait(heartbeat_seconds()):
                self.beat()
        finally:
            close_old_connections()

    def __enter__(self) -> Heartbeat:
        self.beat()
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
