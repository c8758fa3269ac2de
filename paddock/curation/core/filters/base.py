"""What every filter returns: None to keep the document, or the rule that dropped it and
the figures that made the decision, so a dropped document can be explained."""

from __future__ import annotations

from typing import Any, TypeAlias

Drop: TypeAlias = tuple[str, dict[str, Any]]  # (rule name, evidence)


def ratio(part: float, whole: float) -> float:
    """``part / whole`` rounded for evidence (4 places); 0 when ``whole`` is 0."""
    return round(part / whole, 4) if whole else 0.0
