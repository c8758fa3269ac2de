"""The batch after a closed one: found or created, then opened, by the weekly loop.

The loop samples the next batch's comparisons from the newly trained policy, so the next
batch must exist before the policy is done; it opens once it is filled.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

from paddock.annotation.models import Batch, BatchStatus
from paddock.annotation.services.batches import batch_move

TRAILING_NUMBER = re.compile(r"^(?P<stem>.*?)(?P<number>\d+)$")


def next_batch_name(name: str) -> str:
    """A free name for the batch after ``name``, as a manager would write it: "demo week 1"
    is followed by "demo week 2" (the next free number), any other name by "<name> (next
    week)". The old "demo week 1 + 1 week" grew with every cycle."""
    found = TRAILING_NUMBER.match(name.strip())
    if found:
        stem, digits = found["stem"], found["number"]  # "week 01" goes on to "week 02"
        candidates = (f"{stem}{int(digits) + step:0{len(digits)}d}" for step in range(1, 10_000))
    else:
        stem = name[:180]  # Batch.name holds 200 characters
        candidates = (f"{stem} (next week{f' {n}' if n > 1 else ''})" for n in range(1, 10_000))
    for candidate in candidates:
        if not Batch.objects.filter(name=candidate).exists():
            return candidate
    raise ValueError(f"no free name after batch {name!r}")


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
    return Batch.objects.create(
        name=next_batch_name(batch.name), status=BatchStatus.DRAFT, opens_at=opens,
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
