"""FineWeb's own quality rules (Penedo et al. 2024, section 3.3): drop documents whose
lines mostly lack final punctuation, are mostly short, repeat one another, or that are
lists (many line breaks per word). These catch what Gopher and C4 miss on Common Crawl:
pagination lists, link farms, alt-text boilerplate.

Same thresholds, order and rule names as datatrove 0.10.1's ``FineWebQualityFilter``.
"""

from __future__ import annotations

from dataclasses import dataclass

from paddock.curation.core.filters._punctuation import TERMINAL_PUNCTUATION
from paddock.curation.core.filters.base import Drop, ratio
from paddock.curation.core.filters.gopher_repetition import find_duplicates
from paddock.curation.core.filters.tokens import split_words

_STOP_CHARS = tuple(TERMINAL_PUNCTUATION)


@dataclass(frozen=True)
class FineWebQualityConfig:
    """datatrove's defaults."""

    enabled: bool = True
    line_punct_thr: float = 0.12  # minimum share of lines ending in terminal punctuation
    line_punct_exclude_zero: bool = False  # True: a document with no such line is kept
    short_line_thr: float = 0.67  # maximum share of short lines
    short_line_length: int = 30  # characters; a line this long or shorter is short
    char_duplicates_ratio: float = 0.01  # maximum share of characters in repeated lines
    new_line_ratio: float = 0.3  # maximum line breaks per word


def fineweb_quality(
    text: str, config: FineWebQualityConfig, words: list[str] | None = None
) -> Drop | None:
    """None to keep ``text``; else (rule, evidence)."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return "empty", {}
    ending = sum(1 for line in lines if line.endswith(_STOP_CHARS))
    share = ending / len(lines)
    if share < config.line_punct_thr and not (share == 0 and config.line_punct_exclude_zero):
        return "line_punct_ratio", {"ratio": ratio(ending, len(lines))}

    short = sum(1 for line in lines if len(line) <= config.short_line_length)
    if short / len(lines) > config.short_line_thr:
        return "short_line_ratio", {"ratio": ratio(short, len(lines))}

    chars = len(text) - text.count("\n")
    duplicated = find_duplicates(lines)[1]
    if chars and duplicated / chars > config.char_duplicates_ratio:
        return "char_dup_ratio", {"ratio": ratio(duplicated, chars)}

    if words is None:
        words = split_words(text)
    breaks = text.count("\n")
    if not words or breaks / len(words) > config.new_line_ratio:
        return "list_ratio", {"ratio": ratio(breaks, len(words))}
    return None
