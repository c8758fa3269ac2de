"""Gopher's quality rules (Rae et al. 2021, "Scaling Language Models", appendix A1.1):
drop documents whose words are too few, too many, too long or too short on average,
that are mostly symbols, bullets or truncated lines, or that lack English stop words.

Same rules, thresholds, order and rule names as datatrove 0.10.1's
``GopherQualityFilter``, so thresholds tuned on FineWeb mean the same here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from paddock.curation.core.filters._punctuation import PUNCTUATION_SET
from paddock.curation.core.filters.base import Drop, ratio
from paddock.curation.core.filters.tokens import split_words

_is_symbols = PUNCTUATION_SET.issuperset  # a word made only of punctuation: a "symbol word"


class _TokenCache(dict):
    """A property of a token, remembered per token: tokens repeat heavily, so a
    dictionary hit replaces work over the token's characters (``frozenset.issuperset``
    builds a set of the token's characters each call; most of this rule's cost was
    that). Bounded: emptied when full."""

    max_entries: Final = 1 << 17

    def __init__(self, measure: Callable[[str], int]) -> None:
        super().__init__()
        self.measure = measure

    def __missing__(self, word: str) -> int:
        value = self.measure(word)
        if len(self) >= self.max_entries:
            self.clear()
        self[word] = value
        return value


# 0 for a symbol word, which the word-count and word-length rules leave out, else its length
_CONTENT_LENGTH: Final = _TokenCache(lambda word: 0 if _is_symbols(word) else len(word))
_HAS_LETTER: Final = _TokenCache(lambda word: any(map(str.isalpha, word)))

STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")


@dataclass(frozen=True)
class GopherQualityConfig:
    """datatrove's defaults; None turns a rule off."""

    enabled: bool = True
    min_doc_words: int | None = 50
    max_doc_words: int | None = 100_000
    min_avg_word_length: float | None = 3
    max_avg_word_length: float | None = 10
    max_symbol_word_ratio: float | None = 0.1  # "#" or ellipses per word
    max_bullet_lines_ratio: float | None = 0.9
    max_ellipsis_lines_ratio: float | None = 0.3
    max_non_alpha_words_ratio: float | None = 0.8  # the *minimum* share of words with a letter
    min_stop_words: int | None = 2
    stop_words: tuple[str, ...] = STOP_WORDS


def gopher_quality(
    text: str, config: GopherQualityConfig, words: list[str] | None = None
) -> Drop | None:
    """None to keep ``text``; else (rule, evidence). ``words`` are the tokens of
    :func:`split_words` when the caller already has them."""
    if words is None:
        words = split_words(text)
    n_words = len(words)
    lengths = list(map(_CONTENT_LENGTH.__getitem__, words))
    n_content = n_words - lengths.count(0)
    if config.min_doc_words and n_content < config.min_doc_words:
        return "gopher_short_doc", {"words": n_content, "min": config.min_doc_words}
    if config.max_doc_words and n_content > config.max_doc_words:
        return "gopher_long_doc", {"words": n_content, "max": config.max_doc_words}
    if not n_content:  # only when the word-count rules are off
        return "gopher_short_doc", {"words": 0, "min": config.min_doc_words}

    average = sum(lengths) / n_content
    if config.min_avg_word_length and average < config.min_avg_word_length:
        return "gopher_below_avg_threshold", {"avg_word_length": round(average, 3)}
    if config.max_avg_word_length and average > config.max_avg_word_length:
        return "gopher_above_avg_threshold", {"avg_word_length": round(average, 3)}

    if config.max_symbol_word_ratio:
        hashes = text.count("#") / n_words
        if hashes > config.max_symbol_word_ratio:
            return "gopher_too_many_hashes", {"ratio": round(hashes, 4)}
        ellipses = (text.count("...") + text.count("…")) / n_words
        if ellipses > config.max_symbol_word_ratio:
            return "gopher_too_many_ellipsis", {"ratio": round(ellipses, 4)}

    lines = text.splitlines()
    if config.max_bullet_lines_ratio:
        bullets = sum(line.lstrip().startswith(("•", "-")) for line in lines)
        if bullets / len(lines) > config.max_bullet_lines_ratio:
            return "gopher_too_many_bullets", {"ratio": ratio(bullets, len(lines))}
    if config.max_ellipsis_lines_ratio:
        ending = sum(line.rstrip().endswith(("...", "…")) for line in lines)
        if ending / len(lines) > config.max_ellipsis_lines_ratio:
            return "gopher_too_many_end_ellipsis", {"ratio": ratio(ending, len(lines))}

    if config.max_non_alpha_words_ratio:
        alpha = sum(map(_HAS_LETTER.__getitem__, words))
        if alpha / n_words < config.max_non_alpha_words_ratio:
            return "gopher_below_alpha_threshold", {"ratio": ratio(alpha, n_words)}

    if config.min_stop_words:
        found = set(config.stop_words).intersection(words)
        if len(found) < config.min_stop_words:
            return "gopher_enough_stop_words", {"stop_words": sorted(found)}
    return None
