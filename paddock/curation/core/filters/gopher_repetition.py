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
from itertools import accumulate, compress, count, repeat
from operator import add, mul, ne
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


class _NGrams:
    """The repeated n-grams of a word list, each n-gram known by the position of its first
    occurrence (its number).

    Numbers come from ``dict.setdefault`` against a running count (the number is where
    the key was first seen); the n-gram at ``i`` is the key (its (n-1)-gram's number,
    the number of the word at ``i + n - 1``) packed in one integer, so a level is a few
    C calls per position on small integers instead of hashing tuples of up to ten strings.
    Once few positions repeat, a level is built from the repeats of the level below
    alone (an n-gram that occurs once cannot start a repeated longer one), in a Python
    loop over a few dozen positions instead of C over all of them.
    """

    _SPARSE_BELOW: Final = 2  # build from the repeats when under half the positions repeat

    def __init__(self, words: list[str]) -> None:
        self.length = len(words)
        self.starts = list(accumulate(map(len, words), initial=0))  # chars before word i
        self.word_ids = list(map({}.setdefault, words, count()))
        self._full: list[int] | None = self.word_ids  # every number of the top level
        self._levels = [self._repeats_of(self.word_ids)]

    @staticmethod
    def _repeats_of(ids: list[int]) -> dict[int, int]:
        positions = range(len(ids))
        repeats = list(compress(positions, map(ne, ids, positions)))
        return dict(zip(repeats, map(ids.__getitem__, repeats), strict=True))

    def repeats(self, n: int) -> dict[int, int]:
        """{position: number} of the n-grams that occurred before, by position."""
        levels, word_ids = self._levels, self.word_ids
        while len(levels) < n:
            k = len(levels)  # building level k + 1: the word added is at i + k
            below = levels[-1]
            if self._full is not None and len(below) * self._SPARSE_BELOW >= self.length:
                scale = self.length + 1
                keys = map(add, map(mul, self._full, repeat(scale)), word_ids[k:])
                self._full = list(map({}.setdefault, keys, count()))
                levels.append(self._repeats_of(self._full))
                continue
            self._full = None
            last = self.length - k  # n-grams of k + 1 words start before this
            first: dict[tuple[int, int], int] = {}
            above: dict[int, int] = {}
            for i, gram in below.items():
                if i >= last:
                    break
                first.setdefault((gram, word_ids[gram + k]), gram)  # its first occurrence
                seen = first.setdefault((gram, word_ids[i + k]), i)
                if seen != i:
                    above[i] = seen
            levels.append(above)
        return levels[n - 1]

    def chars(self, start: int, n: int) -> int:
        """Characters of the n words from ``start``, without separators."""
        return self.starts[start + n] - self.starts[start]


def _top_n_gram_chars(grams: _NGrams, n: int) -> int:
    """Characters of the most frequent n-gram (joined with spaces) times its count.
    Tokens hold no spaces, so counting n-grams counts the joined strings datatrove counts;
    of equally frequent n-grams the first to occur wins, as in datatrove's ``Counter``."""
    repeats = grams.repeats(n)
    if not repeats:  # every n-gram once: the first
        return grams.chars(0, n) + n - 1
    counts = Counter(repeats.values())
    times = max(counts.values())
    first = min(gram for gram, seen in counts.items() if seen == times)
    return (grams.chars(first, n) + n - 1) * (times + 1)


def _duplicated_n_gram_chars(grams: _NGrams, n: int) -> int:
    """Characters of n-grams seen before, skipping past each repeat (not overlapping), as
    datatrove walks them. Only repeats can count; the walk visits those alone, knowing an
    n-gram's first occurrence was seen unless a skip jumped over it."""
    repeats = grams.repeats(n)
    skipped: set[int] = set()  # positions the walk jumped over
    added: set[int] = set()  # n-grams seen at a position other than their first
    repeated = resume = 0
    for position, gram in repeats.items():
        if position < resume:
            continue
        if gram in added or gram not in skipped:  # seen before: a repeat
            repeated += grams.chars(position, n)
            resume = position + n
            skipped.update(range(position + 1, resume))
        else:
            added.add(gram)
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
    grams = _NGrams(words)
    for n, limit in config.top_n_grams:
        if len(words) < n:
            continue
        chars = _top_n_gram_chars(grams, n)
        if chars / length > limit:
            return f"top_{n}_gram", {"ratio": ratio(chars, length), "max": limit}
    no_repeats_below = None  # a repeated n-gram contains repeated shorter ones
    for n, limit in config.dup_n_grams:
        if no_repeats_below is not None and n >= no_repeats_below:
            continue
        chars = _duplicated_n_gram_chars(grams, n)
        if chars == 0:
            no_repeats_below = n
        elif chars / length > limit:
            return f"duplicated_{n}_n_grams", {"ratio": ratio(chars, length), "max": limit}
    return None
