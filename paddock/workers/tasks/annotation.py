"""Annotation jobs: exports run here, never inside a web request."""

from __future__ import annotations

from paddock.annotation.models import Batch
from paddock.annotation.services.export import export_batch
from paddock.workers.declare import paddock_task
from paddock.workers.jobs import report_progress
from paddock.workers.queues import Queue


@paddock_task(name="annotation.export_batch", queue=Queue.DEFAULT, idempotent=True)
def export_batch_task(batch_id: int, kind: str = "preferences") -> dict:
    return export_batch(Batch.objects.get(pk=batch_id), kind, progress=report_progress)
