"""The background jobs a data manager starts on a batch: an export, an import.

Both front doors (the console and the REST API) start them here, so a second export click
gets the job already under way on either door, never a second job writing the same file.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from paddock.annotation.models import Batch
from paddock.annotation.services.export import KINDS as EXPORT_KINDS
from paddock.annotation.services.importing import upload_save
from paddock.workers.jobs import job_enqueue
from paddock.workers.models import Job, JobState
from paddock.workers.tasks.annotation import export_batch_task, import_file_task

LIVE_STATES = (JobState.QUEUED, JobState.RUNNING)


@dataclass(frozen=True)
class Started:
    """A job a manager asked for: ``created`` is False when one already under way answered."""

    job: Job
    created: bool


def batch_export_start(*, batch: Batch, kind: str, requested_by=None) -> Started:
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
    *, batch: Batch, upload, kind: str, dataset: str = "", axis: str, requested_by=None
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
