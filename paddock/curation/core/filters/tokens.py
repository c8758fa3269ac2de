"""Words and sentences as datatrove 0.10.1 counts them, without spaCy.

datatrove's Gopher and FineWeb filters count words with spaCy's blank English tokenizer
(``datatrove.utils.word_tokenizers``), which costs tens of milliseconds per page (16 s
for 360 real documents here, against 0.4 s for this expression, and less again with
the per-chunk cache of :func:`split_words`) and a heavy import.
The regular expression here reproduces the parts of its behaviour that move the
filters' ratios: punctuation marks are tokens of their own ("end." is "end" and "."),
hyphens, slashes and colons between words split them; contractions split as spaCy
splits them ("don't" is "do" + "n't", "John's" is "John" + "'s"); URLs, e-mail
addresses, decimal numbers ("3.5", "1,000") and dotted abbreviations ("U.S.") stay
whole; units split from numbers ("20ft"); common abbreviations keep their period
("Dr.", "A."); "..." and runs of dashes are one token. On 374k tokens of real web and
Wikipedia text the token counts differ by 0.35 % on average. What it does not reproduce
(emoticons such as "8)", spaCy's full abbreviation list, rare symbols glued to words)
changes a count by one here and there, which rarely moves a decision:
``tests/curation/test_filters.py`` checks the decisions agree on real documents.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import chain
from typing import Final

from paddock.curation.core.filters._punctuation import SENTENCE_END

# Abbreviations spaCy's English exceptions keep with their period (the most frequent in
# web text; single letters are matched separately).
_ABBREVIATIONS: Final = (
    "Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Mt|Ltd|Inc|Co|Corp|vs|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|"
    "Sept|Oct|Nov|Dec|Gen|Gov|Sen|Rep|Rev|Lt|Col|Capt|Sgt|Ave|Mass|Calif|Fla|Ill|Wash|Bros"
)
# "don't" and the apostrophe-less "dont": "do" + "n't" / "nt", as spaCy splits them.
_NEGATED: Final = (
    "ai|are|ca|could|did|does|do|had|has|have|is|might|must|need|sha|should|was|were|wo|would"
)
# spaCy's units (the ASCII ones), split from a number before them, and am/pm.
_UNITS: Final = (
    "km|m|dm|cm|mm|ha|nm|yd|in|ft|kg|g|mg|t|lb|lbs|oz|kmh|mph|hPa|Pa|mbar|mb|MB|kb|KB|gb|GB|"
    "tb|TB|T|G|M|K|am|pm|ml|mL"
)
_TOKEN: Final = re.compile(
    rf"""
    (?:https?|ftp)://[^\s<>"]*[^\s<>".,;:!?)\]'\u00bb\u201d]  # URL, no trailing punctuation
    | (?:www\.|[\w-]+(?:\.[\w-]+)*\.[a-z]{{2,6}}/)[^\s<>"]*[^\s<>".,;:!?)\]'\u00bb\u201d]
    | \b(?i:{_NEGATED})(?=(?i:n['\u2019]?t)\b)              # "do" of "don't" / "dont"
    | (?<=\w)(?i:n['\u2019]?t)\b
    | \b(?i:can)(?=(?i:not)\b) | (?<=(?i:can))(?i:not)\b  # "cannot": "can" + "not"
    | (?<=\w)['\u2019](?i:s|re|ve|ll|d|m)\b                  # "'s" of "John's"
    | (?:[^\W\d_]\.){{2,}}                               # U.S., e.g.
    | \b(?:{_ABBREVIATIONS}|[^\W\d_])\.(?![^\W_])        # Dr., A.
    | AT&T | US\$ | (?i:and/or)
    | \d+(?=(?:{_UNITS})\b)                             # "20" of "20ft"
    | \d+(?:[/:.,]\d+)+                                  # 9/11, 9:00, 3.5, 1,000
    | [\u30fb\uff0a~@]*\w+                              # words, a@b.com, 501(c)(3, UTF-8
      (?:[.@&]\w+|[()]+\w+|['\u2019](?!(?i:s|re|ve|ll|d|m|t)\b)\w+|(?<=[^\W\d_])-\d\w*)*
    | \.{{2,}} | -{{2,}} | [^\w\s]
    """,
    re.VERBOSE,
)


class _ChunkTokens(dict):
    """Tokens of each whitespace-free chunk of text, remembered: no token spans
    whitespace and no lookaround of :data:`_TOKEN` looks past the whitespace around a
    chunk (a chunk's edge reads as the whitespace beside it), so the tokens of a text are
    the tokens of its ``str.split()`` chunks, in order. Web text repeats its chunks
    ("the", "and", "of.") so most are a dictionary hit instead of a run of the
    expression's many alternatives (5-10 times faster on real pages). Bounded: emptied
    when full, and long chunks (URLs, runs of symbols) are not kept."""

    max_entries: Final = 1 << 17
    max_chunk: Final = 40

    def __missing__(self, chunk: str) -> tuple[str, ...]:
        tokens = tuple(_TOKEN.findall(chunk))
        if len(chunk) <= self.max_chunk:
            if len(self) >= self.max_entries:
                self.clear()
            self[chunk] = tokens
        return tokens


_CHUNK_TOKENS: Final = _ChunkTokens()


def split_words(text: str) -> list[str]:
    """The tokens of ``text``, punctuation included, as datatrove's word tokenizer gives
    them (spaCy blank English, whitespace tokens dropped)."""
    return list(chain.from_iterable(map(_CHUNK_TOKENS.__getitem__, text.split())))


def count_sentences(text: str) -> int:
    """The number of sentences spaCy's sentencizer finds in ``text`` (as datatrove's
    ``split_into_sentences`` counts them): a new sentence starts at each word token that
    follows a sentence-ending mark (other punctuation between them aside); 0 for text
    without tokens. Counted on the tokens' classes as a string, punctuation dropped: a
    new sentence is an end mark ("E") followed by a word ("W"), so ``count("EW")``."""
    return sentences_in(split_words(text))


def sentences_in(tokens: list[str]) -> int:
    """:func:`count_sentences` of a text whose :func:`split_words` tokens are ``tokens``."""
    if not tokens:
        return 0
    return 1 + "".join(map(_SENTENCE_CLASS.__getitem__, tokens)).count("EW")


def split_line_words(text: str) -> list[list[str]]:
    """:func:`split_words` of each of ``text.splitlines()``: every line break is
    whitespace to the tokenizer, so these are the text's tokens, line by line, for the
    filters that read both (C4 counts sentences per line; the others want all tokens)."""
    return [split_words(line) for line in text.splitlines()]


class _SentenceClass(dict):
    """A token's class for :func:`count_sentences`, remembered: "E" for a sentence-ending
    mark, "" for other punctuation (it neither ends nor starts a sentence), "W" for
    anything else. Bounded: emptied when full."""

    max_entries: Final = 1 << 16

    def __missing__(self, token: str) -> str:
        value = "E" if token in SENTENCE_END else "" if _is_punct(token) else "W"
        if len(self) >= self.max_entries:
            self.clear()
        self[token] = value
        return value


_SENTENCE_CLASS: Final = _SentenceClass()


def _is_punct(token: str) -> bool:
    """spaCy's ``is_punct``: every character is Unicode punctuation (P*); a symbol such
    as "$" or "+" is not."""
    return all(unicodedata.category(ch)[0] == "P" for ch in token)
