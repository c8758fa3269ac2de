"""The background work a data manager starts on a batch: an export, an import, its
weekly cycle (the training pipeline).

Both front doors (the console and the REST API) start them here, so a second click gets
the job or run already under way on either door, never a second one writing the same
files.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from paddock.annotation.models import Batch, BatchStatus
from paddock.annotation.services.batches import BatchError
from paddock.annotation.services.export import KINDS as EXPORT_KINDS
from paddock.annotation.services.importing import upload_save
from paddock.platform.accounts.models import User
from paddock.workers.jobs import job_enqueue
from paddock.workers.models import ACTIVE_RUN_STATES, Job, JobState, PipelineRun
from paddock.workers.pipeline.service import pipeline_start
from paddock.workers.tasks.annotation import export_batch_task, import_file_task

LIVE_STATES = (JobState.QUEUED, JobState.RUNNING)
# A batch that never opened has no judgements: its weekly cycle's first step would fail.
RUNNABLE = (BatchStatus.OPEN, BatchStatus.CLOSED, BatchStatus.EXPORTED)


@dataclass(frozen=True)
class Started:
    """A job a manager asked for: ``created`` is False when one already under way answered."""

    job: Job
    created: bool


@dataclass(frozen=True)
class RunStarted:
    """A weekly cycle a manager asked for: ``created`` is False when the batch's active run
    answered."""

    run: PipelineRun
    created: bool


def batch_export_start(
    *, batch: Batch, kind: str, requested_by: User | None = None
) -> Started:
    """Queue an export of ``kind`` (preferences or raw) of ``batch``; while one of that kind
    is queued or running, that job answers instead (both would write the same file)."""
    if kind not in EXPORT_KINDS:
        raise ValueError(f"export kind must be one of {', '.join(EXPORT_KINDS)}, not {kind!r}")
    with transaction.atomic():
        # The batch's row lock orders two clicks: the second sees the first one's job.
        Batch.objects.select_for_update().get(pk=batch.pk)
        live = Job.objects.filter(task_name=export_batch_task.name, kwargs__batch_id=batch.pk,
                                  kwargs__kind=kind, state__in=LIVE_STATES).first()
        if live is not None:
            return Started(live, created=False)
        job = job_enqueue(task=export_batch_task, kwargs={"batch_id": batch.pk, "kind": kind},
                          label=f"Export {kind} of {batch.name}", created_by=requested_by)
    return Started(job, created=True)


def batch_import_start(
    *, batch: Batch, upload: UploadedFile, kind: str, dataset: str = "", axis: str,
    requested_by: User | None = None,
) -> Job:
    """Save ``upload`` where every worker reads it and queue its import into ``batch``
    (prompts, pairs or HH-RLHF preferences; ``dataset`` and ``axis`` label the latter)."""
    target = upload_save(upload)
    return job_enqueue(
        task=import_file_task,
        kwargs={"batch_id": batch.pk, "path": str(target), "kind": kind, "dataset": dataset,
                "axis": axis, "user_id": requested_by.pk if requested_by else None},
        label=f"Import {upload.name} into {batch.name}", created_by=requested_by,
    )


def batch_pipeline_start(
    *, batch: Batch, preset: str | None = None, requested_by: User | None = None
) -> RunStarted:
    """Start ``batch``'s weekly cycle by hand (its first step closes the batch), with the
    plan stored on the batch, or with ``preset`` in its place, which the batch then keeps
    for its next start. A batch with an active run gets that run, not a second one."""
    try:
        with transaction.atomic():
            # The batch's row lock orders two clicks: the second sees the first one's run.
            locked = Batch.objects.select_for_update().get(pk=batch.pk)
            if locked.status not in RUNNABLE:
                raise BatchError(
                    f"batch {locked.name} is {locked.get_status_display().lower()}; only an "
                    "open or closed batch has judgements to train on")
            active = locked.pipeline_runs.filter(state__in=ACTIVE_RUN_STATES).first()
            if active is not None:
                return RunStarted(active, created=False)
            stored = locked.pipeline_plan
            if not isinstance(stored, dict):  # stored past the forms (admin, SQL)
                raise BatchError("plan: the plan stored with this batch is not a JSON object; "
                                 "edit the batch to set one")
            overrides = {"preset": preset} if preset else {}
            run = pipeline_start(locked, trigger=PipelineRun.Trigger.MANUAL, plan=overrides,
                                 user=requested_by)
            if overrides and stored.get("preset") != preset:
                locked.pipeline_plan = {**stored, **overrides}
                locked.save(update_fields=["pipeline_plan"])
    except BatchError:  # a ValueError too, already worded for the manager
        raise
    except ValueError as error:  # a plan the preset and the batch's overrides make bad
        raise BatchError(str(error)) from error
    return RunStarted(run, created=True)
