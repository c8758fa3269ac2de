"""Text normalisation for exact deduplication.

Two documents are exact duplicates when they are equal after Unicode NFKC, case folding
and whitespace collapsing: copies of one page that differ only in line endings, a BOM,
full-width characters or trailing spaces are the same page.
"""

from __future__ import annotations

import hashlib
import unicodedata


def normalize_text(text: str) -> str:
    text = text.replace("\ufeff", "")
    # The quick check answers in microseconds for text that is already NFKC (most of it).
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.casefold().split())


def content_hash(text: str) -> str:
    """SHA-256 of the normalised text, hex: the key of exact deduplication."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()
