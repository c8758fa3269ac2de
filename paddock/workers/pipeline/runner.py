"""Running one step of a pipeline so that any delivery of its task is safe.

Each step has one row (unique per run and step). A delivery of the step's task:

- finds the step done: returns the stored result, so the chain goes on (a duplicate
  delivery after success does nothing);
- finds it running with a fresh heartbeat: another worker has it, so this delivery is
  dropped (``Ignore``: the chain goes on from the worker that has it, once);
- finds it running with a stale heartbeat (its worker was killed), pending, queued or
  failed: claims it and runs it. Trainers resume from their checkpoints in the step's
  folder, so a resumed step continues where the killed one stopped.

While the step function runs, a thread beats the row every ``PADDOCK_PIPELINE_HEARTBEAT``
seconds; the watchdog (:func:`paddock.workers.pipeline.service.pipeline_watch`) re-sends
a step whose heartbeat stopped. A failure marks the step and the run failed and stops
the chain; re-running from that step resumes the run.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from celery.exceptions import Ignore
from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from paddock.workers.models import DONE_STEP_STATES, PipelineRun, RunState, StepRun
from paddock.workers.pipeline.plan import STEP_NAMES, step_enabled

logger = logging.getLogger(__name__)
LOG_TAIL_CHARS = 8_000


def heartbeat_seconds() -> float:
    return settings.PADDOCK_PIPELINE_HEARTBEAT


def stale_after() -> timedelta:
    """A running step whose heartbeat is older than this lost its worker."""
    return timedelta(seconds=settings.PADDOCK_PIPELINE_STALE_AFTER)


@dataclass
class StepContext:
    """What a step function gets: its run, its row, a folder, and a way to report."""

    pipeline: PipelineRun
    step: StepRun
    _lines: list[str] = field(default_factory=list)
    _last_write: float = 0.0

    @property
    def workdir(self):
        folder = self.pipeline.workdir
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def result_of(self, step: str) -> dict[str, Any]:
        row = StepRun.objects.get(pipeline=self.pipeline, step=step)
        return row.result or {}

    def report(self, fraction: float | None = None, message: str = "", *,
               line: str = "") -> None:
        """Progress, a status line and a log line; written at most twice a second."""
        if line:
            self._lines.append(line.rstrip("\n"))
            del self._lines[:-200]
        now = time.monotonic()
        if fraction is not None and fraction < 1.0 and now - self._last_write < 0.5:
            return
        self._last_write = now
        update: dict[str, Any] = {"heartbeat_at": timezone.now()}
        if fraction is not None:
            update["progress"] = min(max(float(fraction), 0.0), 1.0)
        if message:
            update["message"] = message[:500]
        if self._lines:
            update["log_tail"] = "\n".join(self._lines)[-LOG_TAIL_CHARS:]
        StepRun.objects.filter(pk=self.step.pk, state=RunState.RUNNING).update(**update)


class _Heartbeat(threading.Thread):
    def __init__(self, step_id: int) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{step_id}")
        self.step_id = step_id
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(heartbeat_seconds()):
                StepRun.objects.filter(pk=self.step_id, state=RunState.RUNNING).update(
                    heartbeat_at=timezone.now()
                )
        finally:
            close_old_connections()


def _claim(pipeline_id: str, step: str, *, task_id: str, worker: str) -> StepRun | dict:
    """Lock the step's row and decide: a stored result (dict) or the claimed row."""
    now = timezone.now()
    with transaction.atomic():
        row = (
            StepRun.objects.select_for_update()
            .select_related("pipeline")
            .get(pipeline_id=pipeline_id, step=step)
        )
        pipeline = row.pipeline
        if row.state in DONE_STEP_STATES:
            return row.result or {}
        if pipeline.state in (RunState.CANCELLED, RunState.SUCCEEDED):
            raise Ignore()  # cancelled runs stop here; the chain ends
        if (row.state == RunState.RUNNING and row.heartbeat_at is not None
                and now - row.heartbeat_at < stale_after()):
            logger.info("step %s of %s is running on %s: dropping a duplicate delivery",
                        step, pipeline_id, row.worker)
            raise Ignore()
        if not step_enabled(pipeline.plan, step):
            row.state = RunState.SKIPPED
            row.finished_at = now
            row.result = {"skipped": "switched off in the run's plan"}
            row.save(update_fields=["state", "finished_at", "result"])
            _succeed_if_last(row, now)  # a plan may switch off the last step
            return row.result
        resumed = row.state == RunState.RUNNING
        row.state = RunState.RUNNING
        row.attempts += 1
        row.worker = worker
        row.task_id = task_id
        row.error = ""
        row.message = "resuming after a lost worker" if resumed else "started"
        row.started_at = row.started_at or now
        row.heartbeat_at = now
        row.save(update_fields=["state", "attempts", "worker", "task_id", "error", "message",
                                "started_at", "heartbeat_at"])
        if pipeline.state != RunState.RUNNING:
            pipeline.state = RunState.RUNNING
            pipeline.started_at = pipeline.started_at or now
            pipeline.error = ""
            pipeline.save(update_fields=["state", "started_at", "error"])
    return row


def _finish(row: StepRun, *, result: dict, seconds: float) -> None:
    now = timezone.now()
    with transaction.atomic():
        StepRun.objects.filter(pk=row.pk).update(
            state=RunState.SUCCEEDED, progress=1.0, result=result, finished_at=now,
            heartbeat_at=now, message="done", seconds_inside=row.seconds_inside + seconds,
        )
        _succeed_if_last(row, now)


def _succeed_if_last(row: StepRun, now) -> None:
    """The run is done when its last step is, whether that step ran or was skipped."""
    if row.step == STEP_NAMES[-1]:
        PipelineRun.objects.filter(pk=row.pipeline_id, state=RunState.RUNNING).update(
            state=RunState.SUCCEEDED, finished_at=now
        )


def _fail(row: StepRun, *, error: BaseException, seconds: float) -> None:
    now = timezone.now()
    text = "".join(traceback.format_exception(error))[-20_000:]
    summary = f"{type(error).__name__}: {error}"[:500]
    with transaction.atomic():
        StepRun.objects.filter(pk=row.pk).update(
            state=RunState.FAILED, error=text, message=summary, finished_at=now,
            seconds_inside=row.seconds_inside + seconds,
        )
        PipelineRun.objects.filter(pk=row.pipeline_id).exclude(
            state=RunState.CANCELLED
        ).update(state=RunState.FAILED, error=f"{row.step}: {summary}", finished_at=now)


def run_step(
    pipeline_id: str, step: str, function: Callable[[StepContext], dict], *,
    task_id: str, worker: str,
) -> dict:
    claimed = _claim(pipeline_id, step, task_id=task_id, worker=worker)
    if isinstance(claimed, dict):
        return claimed
    context = StepContext(pipeline=claimed.pipeline, step=claimed)
    beat = _Heartbeat(claimed.pk)
    beat.start()
    started = time.perf_counter()
    try:
        result = function(context)
    except BaseException as error:
        beat.stopped.set()
        _fail(claimed, error=error, seconds=time.perf_counter() - started)
        raise
    beat.stopped.set()
    _finish(claimed, result=result or {}, seconds=time.perf_counter() - started)
    return result or {}
