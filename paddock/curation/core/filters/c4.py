"""C4's cleaning rules (Raffel et al. 2020, section 2.2), as datatrove 0.10.1's
``C4QualityFilter`` applies them: lines without terminal punctuation, with fewer than
three words, with a word over 1,000 characters, mentioning "javascript" or a cookie/
terms-of-use phrase are removed; a document with "lorem ipsum" or a curly bracket in a
kept line, or with fewer than five sentences left, is dropped.

Two functions, because curation records drops but keeps texts as ingested unless asked:
:func:`c4_quality` is the drop decision, :func:`c4_clean` the text with lines removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from paddock.curation.core.filters.base import Drop
from paddock.curation.core.filters.tokens import count_sentences, sentences_in

_CITATION: Final = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
_END_PUNCTUATION: Final = (".", "?", "!", '"', "'")
_POLICY: Final = (
    "terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
    "use cookies",
)


@dataclass(frozen=True)
class C4QualityConfig:
    """datatrove's defaults; -1 turns a numeric rule off."""

    enabled: bool = True
    remove_citations: bool = True  # "[1]", "[edit]", "[citation needed]"
    filter_no_terminal_punct: bool = True
    min_num_sentences: int = 5
    min_words_per_line: int = 3
    max_word_length: int = 1000
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True


def _clean(
    text: str, config: C4QualityConfig, line_tokens: list[list[str]] | None = None
) -> tuple[list[str], int, int, Drop | None]:
    """(kept lines, removed lines, sentences in kept lines, a whole-document drop).
    ``line_tokens``: :func:`split_line_words` of the text, when the caller has them."""
    kept: list[str] = []
    removed = sentences = 0
    for index, raw in enumerate(text.splitlines()):
        line = raw.strip()
        words = line.split()
        if (
            config.max_word_length != -1
            and len(line) > config.max_word_length  # else no word can be longer
            and max(map(len, words)) > config.max_word_length
        ):
            removed += 1
            continue
        cited = 0
        if config.remove_citations:
            line, cited = _CITATION.subn("", line)
        if config.filter_no_terminal_punct and (
            not line.endswith(_END_PUNCTUATION) or line.endswith("...")
        ):
            removed += 1
            continue
        if len(words) < config.min_words_per_line:
            removed += 1
            continue
        lower = line.lower()
        if config.filter_lorem_ipsum and "lorem ipsum" in lower:
            return kept, removed, sentences, ("lorem_ipsum", {"line": line[:200]})
        if config.filter_javascript and "javascript" in lower:
            removed += 1
            continue
        if config.filter_curly_bracket and "{" in line:
            return kept, removed, sentences, ("curly_bracket", {"line": line[:200]})
        if config.filter_policy and any(phrase in lower for phrase in _POLICY):
            removed += 1
            continue
        if config.min_num_sentences != -1:
            sentences += (
                count_sentences(line) if cited or line_tokens is None
                else sentences_in(line_tokens[index])  # the same tokens: no citation cut
            )
        kept.append(line)
    return kept, removed, sentences, None


def c4_quality(
    text: str, config: C4QualityConfig, line_tokens: list[list[str]] | None = None
) -> Drop | None:
    """None to keep ``text``; else (rule, evidence). ``line_tokens`` are
    :func:`split_line_words` of the text when the caller already has them."""
    kept, removed, sentences, drop = _clean(text, config, line_tokens)
    if drop is not None:
        return drop
    if sentences < config.min_num_sentences:
        return "too_few_sentences", {
            "sentences": sentences, "min": config.min_num_sentences,
            "lines_kept": len(kept), "lines_removed": removed,
        }
    return None


def c4_clean(text: str, config: C4QualityConfig) -> tuple[str, int]:
    """(the text with C4's lines removed, number of lines removed), for a document
    :func:`c4_quality` keeps. Kept lines are stripped and citations removed, as in C4."""
    kept, removed, _sentences, _drop = _clean(text, config)
    return "\n".join(kept).strip(), removed
