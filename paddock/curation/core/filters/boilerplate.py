"""Lines a site repeats on its pages (menus, footers, cookie banners, "Share this"),
found by counting and removed by hash.

A line is common to a site when it occurs in at least ``min_fraction`` of the site's
documents *and* in at least ``min_documents`` of them: the fraction alone would call
every line of a two-page site common; the count alone would strip a big site's quoted
phrases. Defaults (20 %, 3 documents) are in :class:`SiteBoilerplateConfig`. Each line is
counted once per document, compared after stripping surrounding whitespace, and blank or
very short lines (fewer than ``min_chars`` characters, e.g. "Home") are left alone since
removing them changes nothing worth having.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class SiteBoilerplateConfig:
    min_fraction: float = 0.2  # of the site's documents
    min_documents: int = 3
    min_chars: int = 10  # shorter lines are never counted or removed

    def __post_init__(self) -> None:
        if not 0 < self.min_fraction <= 1:
            raise ValueError(f"min_fraction must be in (0, 1], not {self.min_fraction}")
        if self.min_documents < 2:
            raise ValueError(f"min_documents must be at least 2, not {self.min_documents}")


def line_hash(line: str) -> int:
    """A 64-bit hash of the stripped line, the same in every process (unlike ``hash``),
    so counts from shards on different workers can be added."""
    digest = hashlib.blake2b(line.strip().encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def document_line_hashes(text: str, min_chars: int = 10) -> set[int]:
    """The distinct hashes of a document's countable lines."""
    return {line_hash(line) for line in text.splitlines() if len(line.strip()) >= min_chars}


def common_lines(
    documents: Iterable[str], config: SiteBoilerplateConfig = SiteBoilerplateConfig()
) -> set[int]:
    """Hashes of the lines common to one site's ``documents``."""
    counts: Counter[int] = Counter()
    total = 0
    for text in documents:
        total += 1
        counts.update(document_line_hashes(text, config.min_chars))
    return common_from_counts(counts, total, config)


def common_from_counts(
    counts: Counter[int], documents: int, config: SiteBoilerplateConfig
) -> set[int]:
    """The rule on counts already made (per line hash: documents containing it; summed
    over shards): at least ``min_documents`` documents and ``min_fraction`` of them."""
    needed = max(config.min_documents, config.min_fraction * documents)
    return {digest for digest, count in counts.items() if count >= needed}


def strip_lines(text: str, common: set[int], min_chars: int = 10) -> tuple[str, int]:
    """(``text`` without its common lines, number of lines removed). Other lines, and
    the line breaks between them, are kept as they are."""
    if not common:
        return text, 0
    kept: list[str] = []
    removed = 0
    for line in text.splitlines(keepends=True):
        if len(line.strip()) >= min_chars and line_hash(line) in common:
            removed += 1
        else:
            kept.append(line)
    return "".join(kept), removed
