"""What a "word" is, for every length gate and every per-1,000-word rate of curation.

One definition in one place: the quality gate (too short), the per-site personal-
information rates and the filters all count with :func:`word_count`, so a threshold means
the same thing in each of them.

Splitting on whitespace made a 5,986-character Chinese page one "word" (dropped as too
short) and made per-1,000-word rates meaningless for scripts written without spaces, so a
word is a Unicode unit instead:

* a run of letters, digits and combining marks (Python's ``\\w`` plus categories Mn/Mc/Me,
  without which Devanagari or Thai vowel signs would split words in two), where an
  apostrophe or hyphen between two such characters stays inside the word: "don't",
  "rock'n'roll", "well-known" and "3-2" are one word each, as a reader counts them;
* every Han, Hiragana, Katakana (and Bopomofo) character is a word of its own: Chinese
  and Japanese words average 1.5-2 characters, so this over-counts by that factor, but
  it is stable, needs no dictionary, and is what per-character CJK rates commonly use;
* Hangul is written with spaces between words, so a Hangul run is one word like any
  other letter run;
* Thai, Lao, Khmer and Burmese are written without spaces between words and are *not*
  segmented: a run between spaces (a phrase) counts once, an undercount of several
  times. A dictionary segmenter would cost milliseconds per page; these scripts rarely
  occur in the corpora curated here, so the undercount is accepted and documented.

Punctuation, symbols and whitespace are not words. About 65 µs of CPU per 1 KB of
English web text, 85 µs when it has accented letters (``benchmarks/quality_filters.py``,
on a loaded shared machine; whitespace splitting was about 8 µs).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

# Han (URO, extensions A-G, compatibility), Hiragana, Katakana (+ phonetic extensions,
# half-width forms), Bopomofo: one word per character.
_CJK: Final = (
    "\u2e80-\u2fdf\u3005\u3007\u3021-\u3029\u3038-\u303b\u3040-\u30ff\u3100-\u312f"
    "\u31a0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
    "\U00020000-\U0003134f"
)


_CJK_CHAR: Final = re.compile(f"[{_CJK}]")
_WORD: Final = re.compile(r"\w+(?:['\u2019\-\u2010\u2011]\w+)*")


class _Fold(dict):
    """``str.translate`` table, filled on first sight of each character: combining marks
    are deleted (so a vowel sign no longer splits "हिन्दी"), each CJK character becomes a
    stand-alone one-letter word, everything else maps to itself. One C-level pass over
    the text, then the same cheap ``\\w`` expression as ASCII text: a single regex with a
    class of all word characters and marks was 10-20 times slower (sre scans the ranges
    of such a class linearly)."""

    def __missing__(self, code: int) -> int | str | None:
        char = chr(code)
        if _CJK_CHAR.match(char):
            value: int | str | None = " x "
        elif unicodedata.category(char)[0] == "M":
            value = None
        else:
            value = code
        self[code] = value
        return value


_FOLD: Final = _Fold()


def word_count(text: str) -> int:
    """The number of words in ``text`` (see the module docstring for what a word is)."""
    if not text.isascii():
        text = text.translate(_FOLD)
    return len(_WORD.findall(text))

