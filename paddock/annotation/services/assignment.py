"""Which comparison an annotator gets next, and how a judgement is accepted.

One function answers "next comparison for this annotator". On PostgreSQL it takes the
first eligible comparison with ``SELECT ... FOR UPDATE SKIP LOCKED``: concurrent requests
never wait on each other and never take the same row; the count of live leases plus
stored judgements is re-read under that row lock, so the batch's overlap is never
exceeded. Leases are not swept: a lease whose ``expires_at`` has passed simply stops
counting, and the comparison is back in the pool at that instant.

Every write that changes a comparison's count (assign, submit, skip) holds the
comparison's row lock, and every request of one annotator holds the annotator's row lock,
which serialises double clicks.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from paddock.annotation.models import (
    Assignment,
    AssignmentState,
    Axis,
    Batch,
    BatchStatus,
    Comparison,
    Judgement,
    Strength,
)

_random = random.SystemRandom()


class AnnotationError(Exception):
    """A request the service refuses; ``code`` is stable, the message is for people."""

    code = "refused"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LeaseLost(AnnotationError):
    code = "lease_lost"


class BatchNotOpen(AnnotationError):
    code = "batch_not_open"


class InvalidJudgement(AnnotationError):
    code = "invalid"


def lease_duration() -> timedelta:
    return timedelta(minutes=getattr(settings, "PADDOCK_LEASE_MINUTES", 30))


def max_open_leases() -> int:
    return int(getattr(settings, "PADDOCK_MAX_OPEN_LEASES", 1))


def _live(now) -> Q:
    return Q(state=AssignmentState.ACTIVE, expires_at__gt=now)


def _lock_annotator(annotator) -> None:
    get_user_model().objects.select_for_update().filter(pk=annotator.pk).first()


def open_batches(now=None, batch: Batch | None = None):
    now = now or timezone.now()
    batches = Batch.objects.filter(status=BatchStatus.OPEN, opens_at__lte=now, closes_at__gt=now)
    if batch is not None:
        batches = batches.filter(pk=batch.pk)
    return batches.order_by("closes_at", "id")  # the batch that closes first is served first


LOCKED_RETRIES = 25
LOCKED_BACKOFF_SECONDS = 0.01


def _eligible(batch: Batch, annotator, *, gold: bool, now):
    live_leases = (
        Assignment.objects.filter(_live(now), comparison=OuterRef("pk"))
        .order_by()
        .values("comparison")
        .annotate(n=Count("id"))
        .values("n")
    )
    seen = Assignment.objects.filter(comparison=OuterRef("pk"), annotator=annotator)
    return (
        Comparison.objects.filter(batch=batch, is_gold=gold, judgement_count__lt=batch.overlap)
        .filter(Q(author__isnull=True) | ~Q(author=annotator))  # never your own prompt
        .filter(~Exists(seen))
        .annotate(
            live=Coalesce(Subquery(live_leases, output_field=IntegerField()), Value(0))
        )
        .filter(judgement_count__lt=batch.overlap - F("live"))
        # Closest to its target first, so comparisons complete instead of all half-filling.
        .order_by("-judgement_count", "id")
    )


def _candidate(batch: Batch, annotator, *, gold: bool, now) -> Comparison | None:
    """Lock an eligible comparison whose count, re-read under the lock, has room.

    The filter's counts come from the statement's snapshot; a lease committed by another
    request between that snapshot and our lock would not be in it, so the count is read
    again once the row is ours (every lease is created under this lock). When all
    eligible rows are momentarily locked by concurrent requests, wait briefly and retry
    rather than tell an annotator there is nothing to do.
    """
    rejected: list[int] = []
    for _attempt in range(LOCKED_RETRIES):
        eligible = _eligible(batch, annotator, gold=gold, now=now).exclude(pk__in=rejected)
        comparison = eligible.select_for_update(skip_locked=True, of=("self",)).first()
        if comparison is None:
            if not eligible.exists():
                return None
            time.sleep(LOCKED_BACKOFF_SECONDS)
            continue
        live = Assignment.objects.filter(_live(now), comparison=OuterRef("pk")).values("pk")
        taken = (
            Comparison.objects.filter(pk=comparison.pk)
            .annotate(live=Coalesce(Subquery(
                live.order_by().values("comparison").annotate(n=Count("id")).values("n"),
                output_field=IntegerField(),
            ), Value(0)))
            .values_list(F("judgement_count") + F("live"), flat=True)[0]
        )
        if taken < batch.overlap:
            return comparison
        rejected.append(comparison.pk)
    return None


def next_assignment(
    *, annotator, batch: Batch | None = None, rng: random.Random | None = None
) -> Assignment | None:
    """The annotator's current lease, or a new one; None when nothing is left for them."""
    rng = rng or _random
    now = timezone.now()
    with transaction.atomic():
        _lock_annotator(annotator)
        current = list(
            Assignment.objects.filter(_live(now), annotator=annotator)
            .select_related("comparison")
            .order_by("leased_at")[: max_open_leases()]
        )
        if len(current) >= max_open_leases():
            return current[0]
        for candidate_batch in open_batches(now, batch):
            gold_first = rng.random() < candidate_batch.gold_share
            for gold in (gold_first, not gold_first):
                comparison = _candidate(candidate_batch, annotator, gold=gold, now=now)
                if comparison is not None:
                    return Assignment.objects.create(
                        comparison=comparison,
                        annotator=annotator,
                        leased_at=now,
                        expires_at=now + lease_duration(),
                        a_on_left=rng.random() < 0.5,
                    )
    return None


def _locked_assignment(annotator, assignment_id: int) -> Assignment:
    """The annotator's own assignment, locked; another annotator's id looks like none."""
    return (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("comparison__batch", "comparison__response_a", "comparison__response_b")
        .get(pk=assignment_id, annotator=annotator)
    )


def _claim(assignment: Assignment, now) -> Comparison:
    """Lock the comparison; refuse when the lease expired and someone else holds it."""
    comparison = Comparison.objects.select_for_update().get(pk=assignment.comparison_id)
    batch = assignment.comparison.batch
    if not batch.is_accepting(now):
        raise BatchNotOpen(f"Batch {batch.name} is not open any more; nothing was stored.")
    if assignment.state == AssignmentState.ACTIVE and assignment.expires_at <= now:
        others = (
            Assignment.objects.filter(_live(now), comparison=comparison)
            .exclude(pk=assignment.pk)
            .count()
        )
        if comparison.judgement_count + others >= batch.overlap:
            raise LeaseLost(
                "Your time on this comparison ran out and another annotator has it now; "
                "your answer was not stored. Take the next comparison."
            )
    return comparison


@dataclass(frozen=True)
class Submitted:
    judgement: Judgement
    created: bool  # False: the same assignment was submitted before; nothing changed


def submit_judgement(
    *,
    annotator,
    assignment_id: int,
    chosen_side: str,
    strength: str,
    left_safe: bool | None = None,
    right_safe: bool | None = None,
    comment: str = "",
    flagged_harmful: bool = False,
) -> Submitted:
    """Store a judgement. Submitting the same assignment again returns the first one."""
    if chosen_side not in ("left", "right"):
        raise InvalidJudgement("chosen_side must be 'left' or 'right'.")
    if strength not in Strength.values:
        raise InvalidJudgement(f"strength must be one of {', '.join(Strength.values)}.")
    now = timezone.now()
    with transaction.atomic():
        assignment = _locked_assignment(annotator, assignment_id)
        existing = Judgement.objects.filter(assignment=assignment).first()
        if existing is not None:
            return Submitted(existing, created=False)
        is_safety = assignment.comparison.axis == Axis.SAFETY
        if is_safety and (left_safe is None or right_safe is None):
            raise InvalidJudgement("A safety comparison needs safe/unsafe for both responses.")
        comparison = _claim(assignment, now)
        left, right = assignment.left, assignment.right
        chosen, rejected = (left, right) if chosen_side == "left" else (right, left)
        chosen_safe, rejected_safe = (
            (left_safe, right_safe) if chosen_side == "left" else (right_safe, left_safe)
        )
        judgement = Judgement.objects.create(
            assignment=assignment,
            comparison=comparison,
            annotator=annotator,
            left_response=left,
            chosen=chosen,
            rejected=rejected,
            strength=strength,
            chosen_safe=chosen_safe if is_safety else None,
            rejected_safe=rejected_safe if is_safety else None,
            comment=comment,
            flagged_harmful=flagged_harmful,
            seconds=(now - assignment.leased_at).total_seconds(),
        )
        Assignment.objects.filter(pk=assignment.pk).update(state=AssignmentState.SUBMITTED)
        Comparison.objects.filter(pk=comparison.pk).update(judgement_count=F("judgement_count") + 1)
    return Submitted(judgement, created=True)


def skip_comparison(
    *, annotator, assignment_id: int, reason: str, flagged_harmful: bool = False
) -> Submitted:
    """Record a skip (with its reason); the comparison goes back to the pool at once."""
    reason = reason.strip()
    if not reason:
        raise InvalidJudgement("Say why you skip: the reason helps fix the comparison.")
    now = timezone.now()
    with transaction.atomic():
        assignment = _locked_assignment(annotator, assignment_id)
        existing = Judgement.objects.filter(assignment=assignment).first()
        if existing is not None:
            return Submitted(existing, created=False)
        comparison = Comparison.objects.select_for_update().get(pk=assignment.comparison_id)
        judgement = Judgement.objects.create(
            assignment=assignment,
            comparison=comparison,
            annotator=annotator,
            left_response=assignment.left,
            skipped=True,
            skip_reason=reason[:300],
            flagged_harmful=flagged_harmful,
            seconds=(now - assignment.leased_at).total_seconds(),
        )
        Assignment.objects.filter(pk=assignment.pk).update(state=AssignmentState.SKIPPED)
    return Submitted(judgement, created=True)
