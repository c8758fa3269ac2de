"""The per-site PII filter: which sites to drop for publishing personal information.

The Llama 2 paper (section 2.1) removes "data from certain sites known to contain a high
volume of personal information about private individuals". The decision is per site, not
per page: one contact page does not make a site a people-search engine, while a site whose
pages are listings of names, phone numbers and addresses goes entirely, including the
pages that happen to carry no detection.

A site is excluded when, over all its documents, its rate of PII detections per 1,000
words (smoothed, so a few short pages are not enough evidence) passes a threshold. An
editable blocklist names sites to drop whatever their measured rate (people-search and
data-broker sites, whose pages the detectors may under-count), and an allowlist names
sites never to drop (a directory of public officials, a site a reviewer has cleared).

Per-site statistics are additive (:meth:`SiteStats.merge`), so shards of a crawl can be
counted by different workers and combined before deciding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from paddock.curation.core.pii import PiiType

STARTER_BLOCKLIST = "people_search_domains.txt"

# ---------------------------------------------------------------------------------------
# Domains and domain lists
# ---------------------------------------------------------------------------------------

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def normalize_domain(value: str) -> str:
    """Lower case, IDNA (punycode) for non-ASCII, no trailing dot, no leading "www.".

    "www." is dropped because it names the same site as the bare domain; other
    subdomains are kept (a list entry matches them anyway, see :class:`DomainList`).
    """
    domain = value.strip().lower().rstrip(".")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as error:
            raise ValueError(f"not a valid domain: {value!r}") from error
    return domain.removeprefix("www.")


def domain_of(url: str) -> str:
    """The normalised host of a URL ("" when it has none): the site a document belongs to."""
    host = urlsplit(url.strip()).hostname or ""
    return normalize_domain(host) if host else ""


class DomainList:
    """A set of domains where each entry also matches its subdomains.

    ``"spokeo.com" in DomainList(["spokeo.com"])`` and so is ``"www.spokeo.com"`` and
    ``"ca.spokeo.com"``, but not ``"notspokeo.com"``: matching is by whole labels. Built
    from lines of text, so a list can be kept in a file and edited by hand: blank lines
    and ``#`` comments (whole-line or trailing) are ignored; a leading ``*.`` or ``.`` is
    accepted as "and subdomains", which every entry means anyway.
    """

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self._domains: set[str] = set()
        for number, line in enumerate(entries, start=1):
            entry = line.split("#", 1)[0].strip()
            if entry:
                self._domains.add(_parse_entry(entry, number))

    @classmethod
    def from_path(cls, path: str | Path) -> DomainList:
        """Read a list from a UTF-8 text file, one domain per line."""
        with open(path, encoding="utf-8") as lines:
            return cls(lines)

    def match(self, domain: str) -> str | None:
        """The entry that ``domain`` falls under (itself or a parent domain), if any."""
        try:
            labels = normalize_domain(domain).split(".")
        except ValueError:
            return None
        for index in range(len(labels)):
            candidate = ".".join(labels[index:])
            if candidate in self._domains:
                return candidate
        return None

    def __contains__(self, domain: object) -> bool:
        return isinstance(domain, str) and self.match(domain) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._domains))

    def __len__(self) -> int:
        return len(self._domains)

    def __repr__(self) -> str:
        return f"DomainList({len(self)} domains)"


def _parse_entry(entry: str, line_number: int) -> str:
    try:
        domain = normalize_domain(entry.removeprefix("*.").removeprefix("."))
    except ValueError:
        domain = ""
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"line {line_number}: not a domain: {entry!r}")
    return domain


def starter_blocklist() -> DomainList:
    """The shipped list of people-search and data-broker domains (``data/``).

    These sites exist to publish names, addresses, phone numbers and relatives of private
    individuals: exactly what Llama 2 (section 2.1) removes, so they go whatever rate
    the detectors measure on the pages a crawl happened to fetch.
    """
    data = (
        resources.files("paddock.curation.core")
        .joinpath("data")
        .joinpath(STARTER_BLOCKLIST)
    )
    return DomainList(data.read_text(encoding="utf-8").splitlines())


# ---------------------------------------------------------------------------------------
# Configuration and per-site statistics
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PiiFilterConfig:
    """When a site's PII rate excludes it. The defaults, and why:

    - ``rate_threshold`` 10 detections per 1,000 words (one every 100 words, sustained
      over the whole site). Ordinary sites stay well below: over the 300-document C4
      sample the rate is 0.26, 95% of pages have no detection, and even a small business
      page with its phone and e-mail in 150 words is at ~13, which the site's other pages
      dilute. People-search and reverse-lookup pages list a number every few lines: the
      one such page in the sample scores 167.
    - ``prior_words`` 5,000 words (about ten typical web pages) at ``prior_rate`` 0.25, about
      the C4 sample's rate (``benchmarks/pii.py``): a site's rate is pulled toward the
      web's typical rate until it has a few thousand words of its own. A 300-word page
      with ten phone numbers (raw rate 33) smooths to 2.1; a site needs the equivalent of
      about 900 words at 66 per 1,000, or 5,000 words at 20, to pass 10.
    - ``min_documents`` 5: below that a site is never excluded by rate, however high: one
      to four pages are not evidence about a site (the blocklist still applies).
    """

    rate_threshold: float = 10.0
    min_documents: int = 5
    prior_words: float = 5000.0
    prior_rate: float = 0.25
    detectors: tuple[PiiType, ...] = tuple(PiiType)

    def __post_init__(self) -> None:
        # Accept detector names ("phone") as read from settings or a job's parameters.
        detectors = tuple(PiiType(detector) for detector in self.detectors)
        if not detectors:
            raise ValueError("PiiFilterConfig.detectors must name at least one detector")
        object.__setattr__(self, "detectors", detectors)
        for name in ("rate_threshold", "min_documents", "prior_words", "prior_rate"):
            if getattr(self, name) < 0:
                raise ValueError(f"PiiFilterConfig.{name} must be >= 0, got {getattr(self, name)}")


def _zero_counts() -> dict[PiiType, int]:
    return dict.fromkeys(PiiType, 0)


@dataclass
class SiteStats:
    """Documents, words and PII detections per type of one site, so far."""

    domain: str
    documents: int = 0
    words: int = 0
    counts: dict[PiiType, int] = field(default_factory=_zero_counts)

    def add(self, words: int, counts: Mapping[PiiType, int]) -> None:
        """Count one document of ``words`` words with ``counts`` detections per type."""
        if words < 0 or any(count < 0 for count in counts.values()):
            raise ValueError(f"negative words or counts for {self.domain}: {words}, {counts}")
        self.documents += 1
        self.words += words
        for pii_type, count in counts.items():
            key = PiiType(pii_type)
            self.counts[key] = self.counts.get(key, 0) + count

    def merge(self, other: SiteStats) -> None:
        """Add another shard's statistics of the same site."""
        if other.domain != self.domain:
            raise ValueError(f"cannot merge stats of {other.domain!r} into {self.domain!r}")
        self.documents += other.documents
        self.words += other.words
        for pii_type, count in other.counts.items():
            self.counts[pii_type] = self.counts.get(pii_type, 0) + count

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for shards that travel between workers."""
        return {
            "domain": self.domain,
            "documents": self.documents,
            "words": self.words,
            "counts": {pii_type.value: count for pii_type, count in self.counts.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SiteStats:
        counts = _zero_counts()
        for name, count in data.get("counts", {}).items():
            counts[PiiType(name)] = int(count)
        return cls(
            domain=str(data["domain"]),
            documents=int(data.get("documents", 0)),
            words=int(data.get("words", 0)),
            counts=counts,
        )


def smoothed_rate(stats: SiteStats, config: PiiFilterConfig) -> float:
    """Detections per 1,000 words, as if the site also had ``prior_words`` words at
    ``prior_rate``: (detections + prior_rate * prior_words / 1000) / (words + prior_words),
    times 1,000. Only the configured detectors count. A site with no words (and no
    prior) has the prior rate: no evidence either way."""
    detections = sum(stats.counts.get(pii_type, 0) for pii_type in config.detectors)
    words = stats.words + config.prior_words
    if words <= 0:
        return config.prior_rate
    return 1000.0 * (detections + config.prior_rate * config.prior_words / 1000.0) / words


# ---------------------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------------------


class Reason(StrEnum):
    ALLOWLIST = "allowlist"  # kept: on the allowlist, whatever else
    BLOCKLIST = "blocklist"  # excluded: on the blocklist, whatever its rate
    PII_RATE = "pii_rate"  # excluded: smoothed rate above the threshold
    TOO_FEW_DOCUMENTS = "too_few_documents"  # kept: not enough documents to judge by rate
    BELOW_THRESHOLD = "below_threshold"  # kept: rate at or below the threshold


@dataclass(frozen=True)
class SiteDecision:
    domain: str
    excluded: bool
    reason: str  # a Reason value
    rate: float  # smoothed PII detections per 1,000 words
    documents: int
    detectors: dict[str, int]  # detections per counted detector, by type name

    def describe(self) -> str:
        """One line for reports: what was decided and on what evidence."""
        verdict = "excluded" if self.excluded else "kept"
        found = ", ".join(f"{name} {count}" for name, count in self.detectors.items() if count)
        return (
            f"{self.domain}: {verdict} ({self.reason}); {self.rate:.2f} PII per 1,000 words"
            f" over {self.documents} documents ({found or 'no detections'})"
        )


def decide_site(
    stats: SiteStats,
    config: PiiFilterConfig,
    *,
    blocklist: DomainList,
    allowlist: DomainList,
) -> SiteDecision:
    """Exclude a site or keep it, with the reason.

    In order: the allowlist keeps (a reviewer's explicit decision beats everything); the
    blocklist excludes (known people-search sites go even when the crawl fetched few of
    their pages); a site with fewer than ``min_documents`` documents is kept; otherwise
    it is excluded when its smoothed rate is above ``rate_threshold``.
    """
    rate = smoothed_rate(stats, config)
    if stats.domain in allowlist:
        reason = Reason.ALLOWLIST
    elif stats.domain in blocklist:
        reason = Reason.BLOCKLIST
    elif stats.documents < config.min_documents:
        reason = Reason.TOO_FEW_DOCUMENTS
    elif rate > config.rate_threshold:
        reason = Reason.PII_RATE
    else:
        reason = Reason.BELOW_THRESHOLD
    return SiteDecision(
        domain=stats.domain,
        excluded=reason in (Reason.BLOCKLIST, Reason.PII_RATE),
        reason=reason,
        rate=rate,
        documents=stats.documents,
        detectors={pii_type.value: stats.counts.get(pii_type, 0) for pii_type in config.detectors},
    )
