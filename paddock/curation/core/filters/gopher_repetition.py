"""Gopher's repetition rules (Rae et al. 2021, table A1): drop documents that repeat
their lines, paragraphs or word n-grams (menus, tag clouds, spun spam).

Same fractions, order and rule names as datatrove 0.10.1's ``GopherRepetitionFilter``,
including its quirks: the n-gram character counts of the "top" rules include the
joining spaces, those of the "duplicated" rules do not.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Final

from paddock.curation.core.filters.base import Drop, ratio
from paddock.curation.core.filters.tokens import split_words

_PARAGRAPHS: Final = re.compile(r"\n{2,}")
_LINES: Final = re.compile(r"\n+")


@dataclass(frozen=True)
class GopherRepetitionConfig:
    """datatrove's defaults (Gopher's table A1); None (or an empty tuple) turns a rule off."""

    enabled: bool = True
    dup_line_frac: float | None = 0.3
    dup_para_frac: float | None = 0.3
    dup_line_char_frac: float | None = 0.2
    dup_para_char_frac: float | None = 0.2
    top_n_grams: tuple[tuple[int, float], ...] = ((2, 0.2), (3, 0.18), (4, 0.16))
    dup_n_grams: tuple[tuple[int, float], ...] = (
        (5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10),
    )


def find_duplicates(items: list[str]) -> tuple[int, int]:
    """(number of items seen before, their total characters)."""
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars


def _n_grams(words: list[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*(words[i:] for i in range(n)), strict=False))


def _top_n_gram_chars(words: list[str], n: int) -> int:
    """Characters of the most frequent n-gram (joined with spaces) times its count.
    Tokens hold no spaces, so counting tuples counts the joined strings datatrove counts
    (and the first of equally frequent n-grams wins in both)."""
    gram, count = Counter(_n_grams(words, n)).most_common(1)[0]
    return (sum(map(len, gram)) + n - 1) * count


def _duplicated_n_gram_chars(words: list[str], n: int) -> int:
    """Characters of n-grams seen before, skipping past each repeat (not overlapping)."""
    grams = _n_grams(words, n)
    if len(set(grams)) == len(grams):  # the common case, decided at C speed
        return 0
    lengths = [len(word) for word in words]
    seen: set[tuple[str, ...]] = set()
    repeated = index = 0
    last = len(grams)
    while index < last:
        gram = grams[index]
        if gram in seen:
            repeated += sum(lengths[index : index + n])
            index += n
        else:
            seen.add(gram)
            index += 1
    return repeated


def gopher_repetition(
    text: str, config: GopherRepetitionConfig, words: list[str] | None = None
) -> Drop | None:
    """None to keep ``text``; else (rule, evidence)."""
    if not text:
        return "empty", {}
    length = len(text)
    paragraphs = _PARAGRAPHS.split(text.strip())
    count, chars = find_duplicates(paragraphs)
    if config.dup_para_frac and count / len(paragraphs) > config.dup_para_frac:
        return "dup_para_frac", {"ratio": ratio(count, len(paragraphs))}
    if config.dup_para_char_frac and chars / length > config.dup_para_char_frac:
        return "dup_para_char_frac", {"ratio": ratio(chars, length)}

    lines = _LINES.split(text)
    count, chars = find_duplicates(lines)
    if config.dup_line_frac and count / len(lines) > config.dup_line_frac:
        return "dup_line_frac", {"ratio": ratio(count, len(lines))}
    if config.dup_line_char_frac and chars / length > config.dup_line_char_frac:
        return "dup_line_char_frac", {"ratio": ratio(chars, length)}

    if words is None:
        words = split_words(text)
    for n, limit in config.top_n_grams:
        if len(words) < n:
            continue
        chars = _top_n_gram_chars(words, n)
        if chars / length > limit:
            return f"top_{n}_gram", {"ratio": ratio(chars, length), "max": limit}
    no_repeats_below = None  # a repeated n-gram contains repeated shorter ones
    for n, limit in config.dup_n_grams:
        if no_repeats_below is not None and n >= no_repeats_below:
            continue
        chars = _duplicated_n_gram_chars(words, n)
        if chars == 0:
            no_repeats_below = n
        elif chars / length > limit:
            return f"duplicated_{n}_n_grams", {"ratio": ratio(chars, length), "max": limit}
    return None
