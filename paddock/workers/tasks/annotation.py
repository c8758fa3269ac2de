"""Annotation jobs: exports, imports and sampling for written prompts run here, never
inside a web request."""

from __future__ import annotations

import uuid

from django.contrib.auth import get_user_model

from paddock.annotation.generation import configured_generator
from paddock.annotation.models import Batch
from paddock.annotation.services.authoring import AuthoringRequest, authoring_fulfil
from paddock.annotation.services.export import export_batch
from paddock.annotation.services.import_summary import import_summary
from paddock.annotation.services.importing import import_run
from paddock.workers.declare import RetryPolicy, paddock_task
from paddock.workers.demo import demo_live_batch_fill
from paddock.workers.jobs import report_progress
from paddock.workers.queues import Queue


@paddock_task(name="annotation.export_batch", queue=Queue.DEFAULT, idempotent=True)
def export_batch_task(batch_id: int, kind: str = "preferences") -> dict:
    return export_batch(Batch.objects.get(pk=batch_id), kind, progress=report_progress)


@paddock_task(name="annotation.import_file", queue=Queue.DEFAULT, idempotent=True)
def import_file_task(
    batch_id: int, path: str, kind: str, dataset: str = "", axis: str = "helpfulness",
    user_id: int | None = None,
) -> dict:
    """Idempotent: the import is keyed by the file's fingerprint and resumes by line. The
    result says in words what was added (or that the file was already imported, and
    nothing new was), the same sentences the batch page shows."""
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    outcome = import_run(
        batch=Batch.objects.get(pk=batch_id), path=path, kind=kind, dataset=dataset, axis=axis,
        created_by=user, progress=report_progress,
    )
    report = outcome.report
    return {"import_id": report.pk, "imported": report.imported, "problems": report.problem_count,
            "added": 0 if outcome.repeat else report.imported,
            "already_imported": outcome.repeat,
            "first_imported_at": report.created_at.isoformat(),
            "summary": import_summary(report, repeat=outcome.repeat)}


@paddock_task(
    name="annotation.sample_responses", queue=Queue.GENERATION, idempotent=True,
    retry=RetryPolicy.transient(), soft_time_limit=15 * 60,
)
def sample_responses_task(request: dict, request_id: str) -> dict:
    """Two responses for an annotator's prompt, leased to them. Idempotent: keyed by
    ``request_id``, a redelivery returns the first delivery's lease."""
    lease = authoring_fulfil(
        AuthoringRequest.from_kwargs(request), request_id=uuid.UUID(request_id),
        generator=configured_generator(),
    )
    return {"assignment_id": lease.pk}


@paddock_task(
    name="annotation.fill_demo_batch", queue=Queue.GENERATION, idempotent=True,
    retry=RetryPolicy.transient(), soft_time_limit=60 * 60,
)
def fill_demo_batch_task(batch_id: int) -> dict:
    """The demo's open batch answered by the registered policy. Idempotent: prompts that
    already have their comparison are skipped."""
    answered = demo_live_batch_fill(Batch.objects.get(pk=batch_id),
                                    generator=configured_generator(), progress=report_progress)
    return {"answered": answered}
