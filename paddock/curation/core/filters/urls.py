"""One spelling per page, for deduplicating documents by URL.

Crawls reach the same page under many spellings: ``HTTP://Example.com:80/a/``,
``http://example.com/a?utm_source=feed#top``. :func:`normalise_url` maps them to one
string; two documents with equal normalised URLs are the same page (fetched twice).
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ftp": 21}
# Parameters that say how a visitor arrived, not what the page is (Google Analytics,
# Facebook, Google Ads, Microsoft Ads, Mailchimp, HubSpot, Matomo, Instagram).
_TRACKING: Final = re.compile(
    r"utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|_hsenc|_hsmi|"
    r"mkt_tok|igshid|yclid|pk_\w+|ref_src",
    re.IGNORECASE,
)
# "mailto:", "javascript:": a scheme without "//" (a colon before digits is a port).
_OPAQUE: Final = re.compile(r"[a-z][a-z0-9+.-]*:(?!//|\d)", re.IGNORECASE)
_SCHEME: Final = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# Characters a path keeps as they are (RFC 3986 unreserved, sub-delims, ":", "@", "/", "%").
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~%"


def normalise_url(url: str) -> str:
    """The URL in canonical form: scheme and host lowercase; the default port, userinfo,
    fragment, trailing dot of the host, tracking parameters (``utm_*``, ``fbclid``,
    ``gclid`` ...) and a trailing slash of a non-root path removed; remaining query
    parameters sorted; percent-escapes in the path made uniform (``%7e`` and ``~`` are
    the same). The path's case is kept (paths are case-sensitive on most servers).

    A URL without a scheme is read as ``http://`` + URL (crawl seed lists write them so).
    An empty URL, or one without a host, is a ``ValueError`` naming the URL, since
    deduplicating on it would merge unrelated documents.
    """
    text = url.strip()
    if not text:
        raise ValueError("cannot normalise an empty URL")
    if _OPAQUE.match(text):
        raise ValueError(f"cannot normalise URL {url!r}: it names no host")
    if not _SCHEME.match(text):
        text = "http://" + text.removeprefix("//")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"cannot normalise URL {url!r}: {error}") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"cannot normalise URL {url!r}: it names no host")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    path = quote(unquote(parts.path), safe=_PATH_SAFE) or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    query = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _TRACKING.fullmatch(key)
    )
    return urlunsplit((scheme, host, path, urlencode(query), ""))
