"""The batch after a closed one: found or created, then opened, by the weekly loop.

The loop samples the next batch's comparisons from the newly trained policy, so the next
batch must exist before the policy is done; it opens once it is filled.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from paddock.annotation.models import Batch, BatchStatus
from paddock.annotation.services.batches import batch_move


def next_batch_ensure(*, after_batch_id: int, created_by_id: int | None = None) -> Batch:
    """The earliest draft or scheduled batch opening at or after the close of batch
    ``after_batch_id`` (an hour's slack), else a new draft batch as long as that one (a
    week) with the same settings, opening now. Callers that must not create two (the
    pipeline) hold a lock and remember the answer."""
    batch = Batch.objects.get(pk=after_batch_id)
    following = (Batch.objects.filter(status__in=[BatchStatus.DRAFT, BatchStatus.SCHEDULED],
                                      opens_at__gte=batch.closes_at - timedelta(hours=1))
                 .order_by("opens_at").first())
    if following is not None:
        return following
    opens = timezone.now()  # it opens when the loop has filled it, for as long as this one
    name = f"{batch.name} + 1 week"
    suffix = 2
    while Batch.objects.filter(name=name).exists():
        name, suffix = f"{batch.name} + 1 week ({suffix})", suffix + 1
    return Batch.objects.create(
        name=name, status=BatchStatus.DRAFT, opens_at=opens,
        closes_at=opens + (batch.closes_at - batch.opens_at),
        helpfulness_quota=batch.helpfulness_quota, safety_quota=batch.safety_quota,
        overlap=batch.overlap, gold_share=batch.gold_share,
        test_split_size=batch.test_split_size,
        reveal_gold_accuracy=batch.reveal_gold_accuracy,
        created_by_id=created_by_id,
    )


def next_batch_open(*, batch_id: int) -> Batch:
    """Open a filled next batch (or schedule it, when it opens later); a batch already
    open, closed or exported is left as it is."""
    following = Batch.objects.get(pk=batch_id)
    if following.status in (BatchStatus.DRAFT, BatchStatus.SCHEDULED):
        target = (BatchStatus.OPEN if following.opens_at <= timezone.now()
                  else BatchStatus.SCHEDULED)
        following = batch_move(batch=following, to=target)
    return following
