"""A prompt's identity across batches and rounds (the pool, the re-asked prompts)."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Mapping

from paddock.annotation.importers.records import Turn

# Typographic punctuation NFKC keeps: a question copied from a word processor (curly
# apostrophes and quotes, a long dash) is the same prompt as its plain-keyboard spelling.
_PLAIN_PUNCTUATION = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-", "\u2026": "...",
})


def _normalised(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).translate(_PLAIN_PUNCTUATION).casefold()
    return " ".join(folded.split())


def prompt_id(turns: Iterable[Turn | Mapping[str, str]]) -> str:
    """A prompt's stable identity across batches and rounds: ``prompt-`` and 16 hex digits
    of the SHA-256 of its first user turn, normalised (NFKC, typographic quotes and dashes
    as their plain forms, case-folded, whitespace runs as one space), so the same question
    imported twice, or asked again in a later batch, has one id. The turns after the first
    (multi-turn threads) are part of it too: two threads that start alike but go on
    differently are different prompts."""
    parts = []
    for turn in turns:
        role, content = ((turn["role"], turn["content"]) if isinstance(turn, Mapping)
                         else (turn.role, turn.content))
        parts.append(_normalised(content) if not parts else f"{role}\x1f{_normalised(content)}")
    if not parts:
        raise ValueError("a prompt has at least one turn")
    return "prompt-" + hashlib.sha256("\x1e".join(parts).encode()).hexdigest()[:16]
