"""What a "word" is, for every length gate and every per-1,000-word rate of curation.

One definition in one place: the quality gate (too short), the per-site personal-
information rates and the filters all count with :func:`word_count`, so a threshold means
the same thing in each of them.
"""

from __future__ import annotations


def word_count(text: str) -> int:
    """Whitespace-separated tokens, the "words" of a rate per 1,000 words."""
    return len(text.split())
