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

Punctuation, symbols and whitespace are not words. ASCII text takes a bytes fast path
(translate, split, count the joining apostrophes and hyphens) several times cheaper than
the expression; see ``benchmarks/results/quality_filters.json`` for µs per 1 KB.
"""

from __future__ import annotations

import codecs
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
_JOINERS: Final = "'\u2019-\u2010\u2011"  # inside a word between two word characters

# The text is counted as ASCII bytes: letters, digits and "_" kept, every other byte a
# space, so the runs of word characters are ``bytes.split()``'s fields (C, no match
# objects); a word spans several runs only through an apostrophe or hyphen between two
# word characters, each of which joins two runs into one word. 3-4 times cheaper than
# the expression ``\w+(?:[JOINERS]\w+)*`` over the text, which it counts exactly as.
_ASCII_RUNS: Final = bytes(c if chr(c).isalnum() or c == ord("_") else 32 for c in range(256))
_ASCII_JOINS: Final = bytes(
    c if chr(c).isalnum() or chr(c) in "_'-" else 32 for c in range(256)
)
_ASCII_JOIN: Final = re.compile(rb"['-](?<=\w.)(?=\w)")


class _AsciiFold(dict):
    """What each non-ASCII character becomes in ASCII, filled on first sight: a word
    character "a", a combining mark nothing (so a vowel sign does not split "हिन्दी"),
    a CJK character a stand-alone word " x ", a joining apostrophe or hyphen "'",
    anything else a space. Counting depends only on which of these a character is, so
    the folded text counts as the original would."""

    def __missing__(self, char: str) -> str:
        if _CJK_CHAR.match(char):
            value = " x "
        elif unicodedata.category(char)[0] == "M":
            value = ""
        elif char in _JOINERS:
            value = "'"
        elif char.isalnum():  # Python's \w: alphanumeric or "_"
            value = "a"
        else:
            value = " "
        self[char] = value
        return value


_ASCII_FOLD: Final = _AsciiFold()


def _fold_to_ascii(error: UnicodeError) -> tuple[str, int]:
    """``str.encode`` error handler: called once per run of non-ASCII characters (a few
    on a Latin-script page), not once per character as ``str.translate`` was."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    run = error.object[error.start : error.end]
    return "".join(map(_ASCII_FOLD.__getitem__, run)), error.end


codecs.register_error("paddock-word-count", _fold_to_ascii)


class _AsciiTable(dict):
    """:data:`_ASCII_FOLD` as a ``str.translate`` table (by code point; ASCII kept)."""

    def __missing__(self, code: int) -> int | str:
        value: int | str = code if code < 128 else _ASCII_FOLD[chr(code)]
        self[code] = value
        return value


_ASCII_TABLE: Final = _AsciiTable()


def word_count(text: str) -> int:
    """The number of words in ``text`` (see the module docstring for what a word is)."""
    if text.isascii():
        data = text.encode("ascii")
    elif (len(text.encode("utf-8", "surrogatepass")) - len(text)) * 20 > len(text):
        # many non-ASCII characters (accented Latin, other scripts): one error-handler
        # call per run would cost more than a table lookup per character
        data = text.translate(_ASCII_TABLE).encode("ascii")
    else:
        data = text.encode("ascii", "paddock-word-count")
    words = len(data.translate(_ASCII_RUNS).split())
    if b"'" in data or b"-" in data:
        words -= len(_ASCII_JOIN.findall(data.translate(_ASCII_JOINS)))
    return words

