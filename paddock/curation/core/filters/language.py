"""Keep documents in chosen languages, identified with enough confidence.

FineWeb keeps English scored above 0.65 by fastText lid.176; the language and score come
from :func:`paddock.curation.core.enrich.detect_language` on the ingest path, so this
filter is a comparison, not a second identification.
"""

from __future__ import annotations

from dataclasses import dataclass

from paddock.curation.core.filters.base import Drop


@dataclass(frozen=True)
class LanguageFilterConfig:
    """Off by default: a curation run keeps every language unless asked (many users curate
    multilingual corpora, and a wrong default silently loses them)."""

    enabled: bool = False
    languages: tuple[str, ...] = ("en",)  # empty: any language, as long as the score passes
    min_score: float = 0.65  # kept when the score is above this (datatrove: strictly above)


def language_filter(language: str, score: float, config: LanguageFilterConfig) -> Drop | None:
    """None to keep a document identified as ``language`` with ``score``; else (rule,
    evidence). An unidentified document ("") is dropped when the filter is on."""
    evidence = {"language": language, "score": round(score, 4)}
    if config.languages and language not in config.languages:
        return "language_not_kept", {**evidence, "languages": list(config.languages)}
    if score <= config.min_score:
        return "language_score", {**evidence, "min": config.min_score}
    return None
