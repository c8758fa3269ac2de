"""Start, re-run, cancel and watch pipeline runs; the scheduler's tick.

The database is the truth and Redis only carries messages: a run's rows say what is done,
and the watchdog re-sends a step whose worker was lost, so neither a killed worker nor a
lost message leaves a run stuck.
"""

from __future__ import annotations

import logging
import shutil
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from paddock.annotation.models import Batch, BatchStatus
from paddock.annotation.services.batches import batch_move
from paddock.platform.celery import app
from paddock.workers.heartbeat import stale_after
from paddock.workers.models import (
    ACTIVE_RUN_STATES,
    DONE_STEP_STATES,
    PipelineRun,
    RunState,
    StepRun,
)
from paddock.workers.pipeline.canvas import pipeline_canvas
from paddock.workers.pipeline.plan import BY_NAME, STEP_NAMES, STEPS, plan_with

logger = logging.getLogger(__name__)


class PipelineError(ValueError):
    """A request the pipeline cannot take (a run already active, an unknown step...)."""


def _send(pipeline_id: str, from_step: str | None = None) -> None:
    pipeline_canvas(str(pipeline_id), from_step=from_step).apply_async()


def _create_steps(run: PipelineRun, *, now) -> None:
    StepRun.objects.bulk_create(
        StepRun(pipeline=run, step=spec.name, position=index, queue=spec.queue.value,
                state=RunState.QUEUED, sent_at=now)
        for index, spec in enumerate(STEPS)
    )


def pipeline_start(
    batch: Batch, *, trigger: str = PipelineRun.Trigger.MANUAL, plan: dict | None = None,
    user=None,
) -> PipelineRun:
    """A new run for ``batch``, sent once the transaction commits; the active run when
    the batch already has one (a second click or a duplicate tick starts nothing)."""
    stored = batch.pipeline_plan or {}
    if not isinstance(stored, dict):  # written around the console (admin, SQL)
        raise ValueError(f"batch {batch.name}: its stored plan must be a JSON object, not "
                         f"{type(stored).__name__}; fix it on the batch page")
    plan = plan_with({**stored, **(plan or {})})
    now = timezone.now()
    try:
        with transaction.atomic():
            run = PipelineRun.objects.create(batch=batch, trigger=trigger, plan=plan,
                                             created_by=user)
            _create_steps(run, now=now)
    except IntegrityError:
        active = PipelineRun.objects.filter(batch=batch, state__in=ACTIVE_RUN_STATES).first()
        if active is None:
            raise
        return active
    transaction.on_commit(lambda: _send(run.pk))
    return run


def pipeline_rerun(run: PipelineRun, *, from_step: str, user=None) -> PipelineRun:
    """A new run of the same batch and plan that reuses the results of the steps before
    ``from_step`` and starts there. A failed step's folder (with its checkpoints) moves to
    the new run, so a re-run of a failed training step resumes where it stopped."""
    if from_step not in BY_NAME:
        raise PipelineError(f"unknown step {from_step!r}; expected one of "
                            f"{', '.join(STEP_NAMES)}")
    if run.is_active:
        raise PipelineError("this run is still active: cancel it first, or wait for it")
    group = BY_NAME[from_step].group
    if group:  # a group re-runs whole: its steps run in parallel and feed one step
        from_step = next(s.name for s in STEPS if s.group == group)
    start = STEP_NAMES.index(from_step)
    earlier = {row.step: row for row in run.steps.all()}
    missing = [n for n in STEP_NAMES[:start] if earlier.get(n) is None
               or earlier[n].state not in DONE_STEP_STATES]
    if missing:
        raise PipelineError(f"cannot start at {from_step}: {', '.join(missing)} did not "
                            "finish in that run; re-run from the first of them")
    now = timezone.now()
    with transaction.atomic():
        try:
            new = PipelineRun.objects.create(
                batch=run.batch, trigger=PipelineRun.Trigger.RERUN, plan=run.plan,
                next_batch=run.next_batch, created_by=user)
        except IntegrityError:
            raise PipelineError(f"batch {run.batch.name} already has an active run") from None
        _create_steps(new, now=now)
        for name in STEP_NAMES[:start]:
            old = earlier[name]
            StepRun.objects.filter(pipeline=new, step=name).update(
                state=old.state, progress=1.0, result=old.result, attempts=old.attempts,
                worker=old.worker, started_at=old.started_at, finished_at=old.finished_at,
                message=f"reused from run {str(run.pk)[:8]}", seconds_inside=old.seconds_inside)
    for name in STEP_NAMES[start:]:
        old = earlier.get(name)
        source = run.workdir / name
        if old is not None and old.state in (RunState.FAILED, RunState.RUNNING,
                                             RunState.CANCELLED) and source.is_dir():
            new.workdir.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), str(new.workdir / name))
    transaction.on_commit(lambda: _send(new.pk, from_step))
    return new


def pipeline_cancel(run: PipelineRun) -> PipelineRun:
    """Stop a run: steps not started never start; a running step's worker is told to
    stop it (its training child dies with it)."""
    with transaction.atomic():
        locked = PipelineRun.objects.select_for_update().get(pk=run.pk)
        if not locked.is_active:
            return locked
        running = list(locked.steps.filter(state=RunState.RUNNING).exclude(task_id=""))
        now = timezone.now()
        locked.steps.filter(state__in=ACTIVE_RUN_STATES).update(
            state=RunState.CANCELLED, finished_at=now, message="cancelled")
        locked.state = RunState.CANCELLED
        locked.finished_at = now
        locked.save(update_fields=["state", "finished_at"])
    for step in running:
        app.control.revoke(step.task_id, terminate=True, signal="SIGTERM")
    return locked


def pipeline_watch(now=None) -> dict[str, Any]:
    """Re-send the steps whose worker was lost (heartbeat older than
    ``PADDOCK_PIPELINE_STALE_AFTER``) and those still queued ``PADDOCK_PIPELINE_RESEND_AFTER``
    after the steps before them finished (a message lost with a Redis that kept nothing,
    or a chord whose bookkeeping a Redis crash cut).
    Duplicates are harmless: the runner drops a delivery of a step that is running."""
    now = now or timezone.now()
    resend_after = timedelta(seconds=settings.PADDOCK_PIPELINE_RESEND_AFTER)
    resent = []
    for run in PipelineRun.objects.filter(state__in=ACTIVE_RUN_STATES):
        steps = list(run.steps.order_by("position"))
        pending = [s for s in steps if s.state not in DONE_STEP_STATES]
        if not pending:
            continue
        first = pending[0]
        stale = (first.state == RunState.RUNNING and first.heartbeat_at is not None
                 and now - first.heartbeat_at >= stale_after())
        # A step can start only once the steps before it are done: it has waited since
        # the later of its sending and the last of them finishing.
        finished = [s.finished_at for s in steps if s.position < first.position
                    and s.finished_at is not None]
        waiting_since = max([first.sent_at, *finished]) if first.sent_at else None
        lost = (first.state == RunState.QUEUED and waiting_since is not None
                and now - waiting_since >= resend_after)
        if not (stale or lost):
            continue
        updated = StepRun.objects.filter(pk=first.pk, state=first.state).update(
            state=RunState.QUEUED, sent_at=now,
            message="worker lost; re-sent" if stale else "message lost; re-sent")
        if updated:
            logger.warning("pipeline %s: re-sending %s (%s)", run.pk, first.step,
                           "stale heartbeat" if stale else "queued too long")
            transaction.on_commit(lambda r=run.pk, s=first.step: _send(r, s))
            resent.append(f"{run.pk}:{first.step}")
    return {"resent": resent}


def pipelines_tick(now=None) -> dict[str, Any]:
    """The weekly schedule, checked every minute: scheduled batches open at ``opens_at``;
    open batches past ``closes_at`` start their pipeline (which closes them), or just
    close when their plan says not to run one."""
    now = now or timezone.now()
    opened, started, closed, refused = [], [], [], []
    for batch in Batch.objects.filter(status=BatchStatus.SCHEDULED, opens_at__lte=now,
                                      closes_at__gt=now):
        batch_move(batch=batch, to=BatchStatus.OPEN)
        opened.append(batch.name)
    for batch in Batch.objects.filter(status=BatchStatus.OPEN, closes_at__lte=now):
        if not batch.pipeline_on_close:
            batch_move(batch=batch, to=BatchStatus.CLOSED)
            closed.append(batch.name)
            continue
        if PipelineRun.objects.filter(batch=batch).exists():
            continue  # it has (or had) a run: re-running is a manager's decision
        try:
            pipeline_start(batch, trigger=PipelineRun.Trigger.SCHEDULE)
        except ValueError as error:  # a refused plan stops this batch, not the others
            refused.append(f"{batch.name}: {error}")
            continue
        started.append(batch.name)
    return {"opened": opened, "started": started, "closed": closed, "refused": refused}
