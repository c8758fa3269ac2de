"""Reads for the annotation API, shaped as plain data.

``lease_payload`` runs on every "next" click, so it is one plain SQL statement rather
than ORM queries whose building cost more than the database's work; ``judgement_payload``
answers every submit, so it builds by hand what ``JudgementSerializer`` would (a
ModelSerializer spends about a millisecond building its fields per instance).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, F, Q
from django.utils import timezone

from paddock.annotation.models import (
    Assignment,
    AssignmentState,
    Batch,
    BatchStatus,
    Comparison,
    Conversation,
    Judgement,
    Response,
    Turn,
)
from paddock.annotation.services.assignment import aware_datetime, holds_limit, max_open_leases
from paddock.platform.prepared import run

# One statement: the lease, its comparison and one row per turn of the conversation (the
# lease's columns repeat on each; conversations are a few turns). The other tables are
# read by scalar subqueries rather than joins: PostgreSQL planned the seven-table join in
# 2.5 ms (it runs in 0.15 ms); this plans in a quarter of that, and is prepared.
_LEASE = (
    "SELECT a.id, a.comparison_id, a.a_on_left, a.leased_at, a.expires_at,"
    f" (SELECT b.name FROM {Batch._meta.db_table} b WHERE b.id = c.batch_id), c.axis,"
    f" (SELECT v.risk_category FROM {Conversation._meta.db_table} v"
    " WHERE v.id = c.conversation_id),"
    f" (SELECT r.text FROM {Response._meta.db_table} r WHERE r.id = c.response_a_id),"
    f" (SELECT r.text FROM {Response._meta.db_table} r WHERE r.id = c.response_b_id),"
    " (c.author_id IS NOT NULL AND c.author_id = a.annotator_id), t.role, t.content"
    f" FROM {Assignment._meta.db_table} a"
    f" JOIN {Comparison._meta.db_table} c ON c.id = a.comparison_id"
    f" LEFT JOIN {Turn._meta.db_table} t ON t.conversation_id = c.conversation_id"
    " WHERE a.id = %s ORDER BY t.\"index\""
)


def lease_payload(assignment_id: int) -> dict[str, Any]:
    """What an annotator sees of a lease: blinded sides, never response ids or models."""
    with connection.cursor() as cursor:
        rows = run(cursor, "lease_payload", _LEASE, [assignment_id]).fetchall()
    if not rows:
        raise Assignment.DoesNotExist(f"no assignment {assignment_id}")
    (pk, comparison_id, a_on_left, leased_at, expires_at, batch, axis, risk_category, a, b,
     own_prompt, _, _) = rows[0]
    return {
        "assignment_id": pk,
        "comparison_id": comparison_id,
        "batch": batch,
        "axis": axis,
        "risk_category": risk_category,
        "conversation": [{"role": row[-2], "content": row[-1]} for row in rows
                         if row[-2] is not None],
        "left": a if a_on_left else b,
        "right": b if a_on_left else a,
        "leased_at": aware_datetime(leased_at),
        "expires_at": aware_datetime(expires_at),
        "own_prompt": bool(own_prompt),
    }


def judgement_payload(judgement: Judgement) -> dict[str, Any]:
    """An annotator's own judgement as they gave it: sides, never response ids.

    The same fields and formats as ``JudgementSerializer`` (a test holds them equal).
    """
    chosen = None
    if judgement.chosen_id is not None:
        chosen = "left" if judgement.chosen_id == judgement.left_response_id else "right"
    safety_bin = judgement.safety_bin
    return {
        "id": judgement.pk,
        "comparison": judgement.comparison_id,
        "chosen": chosen,
        "strength": judgement.strength,
        "safety_bin": None if safety_bin is None else str(safety_bin),
        "skipped": judgement.skipped,
        "skip_reason": judgement.skip_reason,
        "flagged_harmful": judgement.flagged_harmful,
        "comment": judgement.comment,
        "seconds": judgement.seconds,
        "created_at": _iso(judgement.created_at),
    }


def _iso(value) -> str:
    """DRF's DateTimeField format: ISO 8601 in the current time zone, UTC as "Z"."""
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def open_batches(now=None):
    """Batches taking judgements now, the one closing first first (as ``next`` serves them)."""
    now = now or timezone.now()
    return Batch.objects.filter(
        status=BatchStatus.OPEN, opens_at__lte=now, closes_at__gt=now
    ).order_by("closes_at", "id")


def annotator_progress(annotator, now=None) -> dict[str, Any]:
    """An annotator's own progress: today, and per open batch (with the batch's overall
    progress, and gold accuracy where the batch reveals it to annotators)."""
    now = now or timezone.now()
    start_of_day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    # Annotation names must not shadow the model's own ``skipped`` field.
    judged, skipped = Count("id", filter=Q(skipped=False)), Count("id", filter=Q(skipped=True))
    mine = Judgement.objects.filter(annotator=annotator)
    counts = mine.filter(created_at__gte=start_of_day).aggregate(n_judged=judged,
                                                                  n_skipped=skipped)
    today = {"judged": counts["n_judged"], "skipped": counts["n_skipped"]}
    batches = list(open_batches(now))
    ids = [batch.pk for batch in batches]
    own = {
        row["comparison__batch"]: row
        for row in mine.filter(comparison__batch__in=ids)
        .values("comparison__batch")
        .annotate(
            n_judged=judged, n_skipped=skipped,
            gold_judged=Count("id", filter=Q(skipped=False, comparison__is_gold=True)),
            gold_correct=Count("id", filter=Q(skipped=False, comparison__is_gold=True,
                                              chosen=F("comparison__gold_choice"))),
        )
        .order_by()
    }
    overall = {
        row["batch"]: row
        for row in Comparison.objects.filter(batch__in=ids)
        .values("batch")
        .annotate(total=Count("id"),
                  complete=Count("id", filter=Q(judgement_count__gte=F("batch__overlap"))))
        .order_by()
    }
    rows = []
    for batch in batches:
        mine_here = own.get(batch.pk, {})
        gold = None
        if batch.reveal_gold_accuracy:
            total, correct = mine_here.get("gold_judged", 0), mine_here.get("gold_correct", 0)
            gold = {"judged": total, "correct": correct,
                    "accuracy": round(correct / total, 4) if total else None}
        rows.append({
            "id": batch.pk, "name": batch.name, "closes_at": batch.closes_at,
            "judged": mine_here.get("n_judged", 0), "skipped": mine_here.get("n_skipped", 0),
            "comparisons": overall.get(batch.pk, {}).get("total", 0),
            "complete": overall.get(batch.pk, {}).get("complete", 0),
            "gold_revealed": batch.reveal_gold_accuracy, "gold": gold,
        })
    return {"today": today, "batches": rows}


@dataclass(frozen=True)
class EmptyQueue:
    """Why ``next`` had nothing for an annotator: ``reason`` is a stable code, ``detail``
    the sentence the workspace shows."""

    reason: str
    detail: str


def _plural(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def queue_empty_reason(*, annotator, now=None, holding=()) -> EmptyQueue:
    """Why the queue is empty for this annotator, so the workspace can say it rather than
    guess: the client holds as many comparisons as the annotator may, no batch open (or the
    last one closed), nothing added to the open batch, every comparison has all its
    judgements, the annotator has done their share, or the rest is leased to other
    annotators right now.

    Read after ``next_assignment`` returned None; the rules mirror its eligibility.
    """
    now = now or timezone.now()
    if holds_limit(annotator=annotator, holding=holding, now=now):
        limit = max_open_leases()
        return EmptyQueue("holding_limit", f"You hold {_plural(limit, 'comparison', 'comparisons')}"
                          " already, as many as you may at once: judge or skip one first.")
    batches = list(open_batches(now))
    if not batches:
        closed = (Batch.objects.filter(Q(status__in=[BatchStatus.CLOSED, BatchStatus.EXPORTED])
                                       | Q(status=BatchStatus.OPEN, closes_at__lte=now))
                  .order_by("-closes_at").first())
        coming = (Batch.objects.filter(status__in=[BatchStatus.OPEN, BatchStatus.SCHEDULED],
                                       opens_at__gt=now)
                  .order_by("opens_at").first())
        then = (f" Batch {coming.name} opens on {_when(coming.opens_at)}." if coming
                else " A data manager opens the next one.")
        if closed is not None:
            return EmptyQueue("batch_closed", f"Batch {closed.name} closed on "
                              f"{_when(closed.closes_at)} and no batch is open now.{then}")
        return EmptyQueue("no_open_batch", f"No batch is open.{then}")
    names = ", ".join(batch.name for batch in batches)
    comparisons = Comparison.objects.filter(batch__in=batches)
    if not comparisons.exists():
        return EmptyQueue("nothing_assigned", f"No comparisons have been added to {names} "
                          "yet. They appear here when a data manager imports or samples them.")
    wanted = comparisons.filter(judgement_count__lt=F("batch__overlap"))
    if not wanted.exists():
        return EmptyQueue("quota_met", f"Every comparison in {names} has all the judgements "
                          "it needs. Thank you: new work appears here when the next batch opens.")
    open_to_you = wanted.exclude(author=annotator).exclude(assignments__annotator=annotator)
    if not open_to_you.exists():
        mine = Judgement.objects.filter(annotator=annotator, comparison__batch__in=batches)
        done = _plural(mine.count(), "comparison", "comparisons")
        return EmptyQueue("done_by_you", f"You have done your share of {names} ({done} "
                          "judged or skipped); the comparisons left need other annotators' "
                          "judgements.")
    live = Assignment.objects.filter(comparison__in=open_to_you, state=AssignmentState.ACTIVE,
                                     expires_at__gt=now)
    soonest = live.order_by("expires_at").values_list("expires_at", flat=True).first()
    back = (f" Any not finished come back by {_when(soonest)}: check again then."
            if soonest else " Check again in a moment.")
    count = open_to_you.count()
    left = f"{_plural(count, 'comparison', 'comparisons')} left in {names} " + (
        "is" if count == 1 else "are")
    return EmptyQueue("assigned_to_others", f"The {left} with other annotators right "
                      f"now.{back}")


def _when(value) -> str:
    return timezone.localtime(value).strftime("%d %b %Y, %H:%M %Z")
