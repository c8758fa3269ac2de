"""The quality stage's decision for one document: kept (None) or a drop reason with evidence.

Plain functions of a document's text and measurements, so the stage gives the same answer
in one process or spread over shards on the curation workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class QualityConfig:
    """Documents dropped before deduplication, each with its reason."""

    min_words: int = 5  # fewer words: "too_short" (none at all: "empty")
    max_chars: int = 1_000_000  # more characters: "too_long" (a dump, not a document)


@dataclass(frozen=True, slots=True)
class QualityDrop:
    reason: str  # a DropReason value
    detail: dict[str, Any]


def quality_drop(
    *, text: str | None, words: int, length: int, config: QualityConfig,
    language: str = "", language_score: float = 0.0, url: str = "",
) -> QualityDrop | None:
    """Why the document is dropped at the quality stage, or None when it is kept.

    ``text`` may be None for callers that only have the measurements (the length gates
    need no text). ``language``, ``language_score`` and ``url`` are passed by the stage
    for the filters that will decide on them; the length gates ignore them.
    """
    evidence = {"words": words, "chars": length}
    if words == 0:
        return QualityDrop("empty", evidence)
    if words < config.min_words:
        return QualityDrop("too_short", evidence)
    if length > config.max_chars:
        return QualityDrop("too_long", evidence)
    return None
