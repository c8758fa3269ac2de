"""Reads for the annotation API, shaped as plain data.

``lease_payload`` runs on every "next" click, so it is two plain SQL statements rather
than ORM queries whose building cost more than the database's work; ``judgement_payload``
answers every submit, so it builds by hand what ``JudgementSerializer`` would (a
ModelSerializer spends about a millisecond building its fields per instance).
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone

from paddock.annotation.models import (
    Assignment,
    Batch,
    Comparison,
    Conversation,
    Judgement,
    Response,
    Turn,
)
from paddock.annotation.services.assignment import aware_datetime

_LEASE = (
    "SELECT a.id, a.comparison_id, a.a_on_left, a.leased_at, a.expires_at, b.name, c.axis,"
    " c.conversation_id, v.risk_category, ra.text, rb.text"
    f" FROM {Assignment._meta.db_table} a"
    f" JOIN {Comparison._meta.db_table} c ON c.id = a.comparison_id"
    f" JOIN {Batch._meta.db_table} b ON b.id = c.batch_id"
    f" JOIN {Conversation._meta.db_table} v ON v.id = c.conversation_id"
    f" JOIN {Response._meta.db_table} ra ON ra.id = c.response_a_id"
    f" JOIN {Response._meta.db_table} rb ON rb.id = c.response_b_id"
    " WHERE a.id = %s"
)
_TURNS = (
    f"SELECT role, content FROM {Turn._meta.db_table} WHERE conversation_id = %s ORDER BY \"index\""
)


def lease_payload(assignment_id: int) -> dict[str, Any]:
    """What an annotator sees of a lease: blinded sides, never response ids or models."""
    with connection.cursor() as cursor:
        cursor.execute(_LEASE, [assignment_id])
        row = cursor.fetchone()
        if row is None:
            raise Assignment.DoesNotExist(f"no assignment {assignment_id}")
        (pk, comparison_id, a_on_left, leased_at, expires_at, batch, axis, conversation_id,
         risk_category, a, b) = row
        cursor.execute(_TURNS, [conversation_id])
        turns = [{"role": role, "content": content} for role, content in cursor.fetchall()]
    return {
        "assignment_id": pk,
        "comparison_id": comparison_id,
        "batch": batch,
        "axis": axis,
        "risk_category": risk_category,
        "conversation": turns,
        "left": a if a_on_left else b,
        "right": b if a_on_left else a,
        "leased_at": aware_datetime(leased_at),
        "expires_at": aware_datetime(expires_at),
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
