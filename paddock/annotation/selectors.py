"""Reads for the annotation API, shaped as plain data.

``lease_payload`` runs on every "next" click, so it is two plain SQL statements rather
than ORM queries whose building cost more than the database's work.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

from paddock.annotation.models import Assignment, Batch, Comparison, Conversation, Response, Turn
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
