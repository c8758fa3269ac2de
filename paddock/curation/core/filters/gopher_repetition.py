"""Gopher's repetition rules (Rae et al. 2021, table A1): drop documents that repeat
their lines, paragraphs or word n-grams (menus, tag clouds, spun spam).

Same fractions, order and rule names as datatrove 0.10.1's ``GopherRepetitionFilter``,
including its quirks: the n-gram character counts of the "top" rules include the
joining spaces, those of the "duplicated" rules do not.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import compress, count, repeat
from operator import add, mul, ne
from typing import Final

from paddock.curation.core.filters.base import Drop, ratio
from paddock.curation.core.filters.tokens import split_words

_PARAGRAPHS: Final = re.compile(r"\n{2,}")


def _split_lines(text: str) -> list[str]:
    """``re.split(r"\n+", text)`` with ``str.split``: the non-empty lines, and an empty
    item first (last) when the text starts (ends) with a line break."""
    lines = list(filter(None, text.split("\n")))
    if text.startswith("\n"):
        lines.insert(0, "")
    if text.endswith("\n"):
        lines.append("")
    return lines or [""]


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
    seen: set[str] = set(items)
    if len(seen) == len(items):  # the common case, decided at C speed
        return 0, 0
    seen.clear()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars


class _NGrams:
    """The n-grams of a word list, each known by the position of its first occurrence
    (its number), level by level.

    Numbers come from ``dict.setdefault`` against a running count (the number is where
    the key was first seen); the n-gram at ``i`` is the key (its (n-1)-gram's number,
    the number of the word at ``i + n - 1``) packed in one integer, so a level is a few
    C calls per position on small integers instead of hashing tuples of up to ten
    strings. Once under half the positions repeat, a level is built from the repeats of
    the level below alone (an n-gram that occurs once cannot start a repeated longer
    one), in a Python loop over a few dozen positions instead of C over all of them.
    """

    def __init__(self, words: list[str]) -> None:
        self.words = words
        numbers: dict[str, int] = {}
        self.word_ids = list(map(numbers.setdefault, words, count()))
        # every number of a level while it is dense, with how many positions repeat
        self._dense: list[tuple[list[int], int]] = [
            (self.word_ids, len(words) - len(numbers))
        ]
        self._repeats: list[dict[int, int] | None] = [None]

    def dense(self, n: int) -> list[int] | None:
        """Every n-gram's number by position, when level n was built whole."""
        self._build(n)
        return self._dense[n - 1][0] if n <= len(self._dense) else None

    def repeats(self, n: int) -> dict[int, int]:
        """{position: number} of the n-grams that occurred before, by position."""
        self._build(n)
        found = self._repeats[n - 1]
        if found is None:
            ids = self._dense[n - 1][0]
            positions = range(len(ids))
            repeated = list(compress(positions, map(ne, ids, positions)))
            found = self._repeats[n - 1] = dict(
                zip(repeated, map(ids.__getitem__, repeated), strict=True)
            )
        return found

    def _build(self, n: int) -> None:
        length, word_ids = len(self.words), self.word_ids
        while len(self._repeats) < n:
            k = len(self._repeats)  # building level k + 1: the word added is at i + k
            if len(self._dense) == k:
                below, repeated = self._dense[-1]
                if repeated * 2 >= length:
                    numbers: dict[int, int] = {}
                    keys = map(add, map(mul, below, repeat(length + 1)), word_ids[k:])
                    ids = list(map(numbers.setdefault, keys, count()))
                    self._dense.append((ids, len(ids) - len(numbers)))
                    self._repeats.append(None)
                    continue
            last = length - k  # n-grams of k + 1 words start before this
            first: dict[tuple[int, int], int] = {}
            above: dict[int, int] = {}
            for i, gram in self.repeats(k).items():
                if i >= last:
                    break
                first.setdefault((gram, word_ids[gram + k]), gram)  # its first occurrence
                seen = first.setdefault((gram, word_ids[i + k]), i)
                if seen != i:
                    above[i] = seen
            self._repeats.append(above)

    def chars(self, start: int, n: int) -> int:
        """Characters of the n words from ``start``, without separators."""
        return sum(map(len, self.words[start : start + n]))


def _top_n_gram_chars(grams: _NGrams, n: int) -> int:
    """Characters of the most frequent n-gram (joined with spaces) times its count.
    Tokens hold no spaces, so counting n-grams counts the joined strings datatrove counts;
    of equally frequent n-grams the first to occur wins, as in datatrove's ``Counter``
    (numbers are first counted at their first occurrence, so in order of it)."""
    ids = grams.dense(n)
    if ids is not None:
        first, times = Counter(ids).most_common(1)[0]
        return (grams.chars(first, n) + n - 1) * times
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
    text: str,
    config: GopherRepetitionConfig,
    words: list[str] | Callable[[], list[str]] | None = None,
) -> Drop | None:
    """None to keep ``text``; else (rule, evidence). ``words``: the tokens of
    :func:`split_words`, or a function giving them, called only when the paragraph and
    line rules keep the document (so a chain tokenizes no page those rules drop)."""
    if not text:
        return "empty", {}
    length = len(text)
    stripped = text.strip()
    paragraphs = _PARAGRAPHS.split(stripped) if "\n\n" in stripped else [stripped]
    count, chars = find_duplicates(paragraphs)
    if config.dup_para_frac and count / len(paragraphs) > config.dup_para_frac:
        return "dup_para_frac", {"ratio": ratio(count, len(paragraphs))}
    if config.dup_para_char_frac and chars / length > config.dup_para_char_frac:
        return "dup_para_char_frac", {"ratio": ratio(chars, length)}

    lines = _split_lines(text)
    count, chars = find_duplicates(lines)
    if config.dup_line_frac and count / len(lines) > config.dup_line_frac:
        return "dup_line_frac", {"ratio": ratio(count, len(lines))}
    if config.dup_line_char_frac and chars / length > config.dup_line_char_frac:
        return "dup_line_char_frac", {"ratio": ratio(chars, length)}

    if words is None:
        words = split_words(text)
    elif callable(words):
        words = words()
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
