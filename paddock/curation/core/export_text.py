"""What the export takes out of a kept document's text: its site's boilerplate lines and,
when asked, personal information.

Boilerplate is a property of a site, not of a page: a line is common when it occurs in
enough of the site's *exported* documents (:mod:`filters.boilerplate` holds the rule). So
the export reads the kept documents twice: once to count each site's lines
(:class:`SiteLines`, 16 bytes per counted line, in numpy arrays rather than one Python
dict entry per line, so a crawl-sized run stays within memory), once to write them
cleaned (:func:`clean_text`).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

import numpy as np

from paddock.curation.core.filters.boilerplate import (
    SiteBoilerplateConfig,
    document_line_hashes,
    strip_lines,
)
from paddock.curation.core.filters.redact import redact_pii


class SiteLines:
    """Counts, per site, in how many documents each line occurs."""

    def __init__(self, config: SiteBoilerplateConfig | None = None) -> None:
        self.config = config or SiteBoilerplateConfig()
        self._site_ids: dict[str, int] = {}
        self._documents: list[int] = []  # per site id
        self._sites = array("q")
        self._hashes = array("Q")

    def add(self, domain: str, text: str) -> None:
        if not domain:
            return  # no site, nothing to call common
        site = self._site_ids.setdefault(domain, len(self._site_ids))
        if site == len(self._documents):
            self._documents.append(0)
        self._documents[site] += 1
        hashes = document_line_hashes(text, self.config.min_chars)
        self._hashes.extend(hashes)
        self._sites.extend([site] * len(hashes))

    def common(self) -> dict[str, set[int]]:
        """{site: hashes of its common lines}, for the sites that have any."""
        if not self._hashes:
            return {}
        sites = np.frombuffer(self._sites, dtype=np.int64)
        hashes = np.frombuffer(self._hashes, dtype=np.uint64)
        order = np.lexsort((hashes, sites))
        sites, hashes = sites[order], hashes[order]
        starts = np.flatnonzero(np.r_[True, (sites[1:] != sites[:-1])
                                      | (hashes[1:] != hashes[:-1])])
        counts = np.diff(np.r_[starts, len(sites)])
        documents = np.asarray(self._documents, dtype=np.float64)[sites[starts]]
        needed = np.maximum(self.config.min_documents, self.config.min_fraction * documents)
        common = counts >= needed
        names = {site: domain for domain, site in self._site_ids.items()}
        out: dict[str, set[int]] = {}
        for site, digest in zip(sites[starts][common].tolist(), hashes[starts][common].tolist(),
                                strict=True):
            out.setdefault(names[site], set()).add(digest)
        return out


@dataclass
class CleaningTally:
    """What cleaning changed over an export, for its manifest."""

    boilerplate_lines_removed: int = 0
    documents_with_boilerplate: int = 0
    redacted: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "boilerplate_lines_removed": self.boilerplate_lines_removed,
            "documents_with_boilerplate": self.documents_with_boilerplate,
            "pii_redacted": dict(sorted(self.redacted.items())),
        }


def clean_text(text: str, common: set[int] | None, *, redact: bool, tally: CleaningTally,
               min_chars: int = SiteBoilerplateConfig.min_chars) -> str:
    """``text`` without its site's common lines and, with ``redact``, with personal
    information masked; ``tally`` counts what changed."""
    if common:
        text, removed = strip_lines(text, common, min_chars)
        if removed:
            tally.boilerplate_lines_removed += removed
            tally.documents_with_boilerplate += 1
    if redact:
        text, counts = redact_pii(text)
        for kind, n in counts.items():
            tally.redacted[kind] = tally.redacted.get(kind, 0) + n
    return text
