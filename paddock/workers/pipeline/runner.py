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
seconds (:mod:`paddock.workers.heartbeat`, as for curation runs); the watchdog
(:func:`paddock.workers.pipeline.service.pipeline_watch`) re-sends a step whose heartbeat
stopped. A failure marks the step and the run failed and stops
the chain; re-running from that step resumes the run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from celery.exceptions import Ignore
from django.db import transaction
from django.utils import timezone

from paddock.kernel.throttle import ProgressThrottle
from paddock.platform.failure_text import failure_sentence
from paddock.workers.heartbeat import Heartbeat, stale_after
from paddock.workers.models import DONE_STEP_STATES, PipelineRun, RunState, StepRun
from paddock.workers.pipeline.plan import STEP_NAMES, step_enabled

logger = logging.getLogger(__name__)
LOG_TAIL_CHARS = 8_000
PROGRESS_WRITE_INTERVAL_SECONDS = 0.5


@dataclass
class StepContext:
    """What a step function gets: its run, its row, a folder, and a way to report."""

    pipeline: PipelineRun
    step: StepRun
    _lines: list[str] = field(default_factory=list)
    _throttle: ProgressThrottle = field(
        default_factory=lambda: ProgressThrottle(PROGRESS_WRITE_INTERVAL_SECONDS))

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
        if not self._throttle.ready(fraction):
            return
        update: dict[str, Any] = {"heartbeat_at": timezone.now()}
        if fraction is not None:
            update["progress"] = min(max(float(fraction), 0.0), 1.0)
        if message:
            update["message"] = message[:500]
        if self._lines:
            update["log_tail"] = "\n".join(self._lines)[-LOG_TAIL_CHARS:]
        StepRun.objects.filter(pk=self.step.pk, state=RunState.RUNNING).update(**update)


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
    """The step failed: the traceback to the worker's log, a sentence to the run's page
    (never a traceback or SQL: :mod:`paddock.platform.failure_text`)."""
    now = timezone.now()
    logger.error("pipeline %s step %s failed", row.pipeline_id, row.step, exc_info=error)
    text = failure_sentence(error, reference=f"pipeline {row.pipeline_id}, step {row.step}")
    summary = text[:500]
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
    beat = Heartbeat(StepRun.objects.filter(pk=claimed.pk, state=RunState.RUNNING),
                     name=f"heartbeat-{claimed.pk}")
    beat.start()  # _claim has just set heartbeat_at
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
