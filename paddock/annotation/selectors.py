"""Reads for the annotation API, shaped as plain data (one or two queries each)."""

from __future__ import annotations

from typing import Any

from paddock.annotation.models import Assignment, Turn


def lease_payload(assignment_id: int) -> dict[str, Any]:
    """What an annotator sees of a lease: blinded sides, never response ids or models."""
    row = (
        Assignment.objects.filter(pk=assignment_id)
        .values(
            "pk", "comparison_id", "a_on_left", "leased_at", "expires_at",
            "comparison__batch__name", "comparison__axis",
            "comparison__conversation_id", "comparison__conversation__risk_category",
            "comparison__response_a__text", "comparison__response_b__text",
        )
        .get()
    )
    a, b = row["comparison__response_a__text"], row["comparison__response_b__text"]
    turns = Turn.objects.filter(conversation_id=row["comparison__conversation_id"])
    return {
        "assignment_id": row["pk"],
        "comparison_id": row["comparison_id"],
        "batch": row["comparison__batch__name"],
        "axis": row["comparison__axis"],
        "risk_category": row["comparison__conversation__risk_category"],
        "conversation": list(turns.order_by("index").values("role", "content")),
        "left": a if row["a_on_left"] else b,
        "right": b if row["a_on_left"] else a,
        "leased_at": row["leased_at"],
        "expires_at": row["expires_at"],
    }
