"""A batch's life: draft -> scheduled -> open -> closed -> exported, one step at a time.

Only these moves exist, so a closed batch cannot quietly reopen after its judgements were
exported and trained on; ``open`` and ``close`` by hand are the same moves the weekly
schedule makes.
"""

from __future__ import annotations

from django.db import transaction

from paddock.annotation.models import Batch, BatchStatus

TRANSITIONS: dict[str, set[str]] = {
    BatchStatus.DRAFT: {BatchStatus.SCHEDULED, BatchStatus.OPEN},
    BatchStatus.SCHEDULED: {BatchStatus.DRAFT, BatchStatus.OPEN},
    BatchStatus.OPEN: {BatchStatus.CLOSED},
    BatchStatus.CLOSED: {BatchStatus.OPEN, BatchStatus.EXPORTED},
    BatchStatus.EXPORTED: set(),
}


class BatchTransitionError(ValueError):
    pass


def batch_move(*, batch: Batch, to: str) -> Batch:
    """Move ``batch`` to status ``to``; raise BatchTransitionError naming the allowed moves."""
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if to == locked.status:
            return locked
        allowed = TRANSITIONS[locked.status]
        if to not in allowed:
            choices = ", ".join(sorted(allowed)) or "none: it is final"
            raise BatchTransitionError(
                f"batch {locked.name} is {locked.status}; it can move to {choices}, not {to}"
            )
        locked.status = to
        locked.save(update_fields=["status"])
    return locked
