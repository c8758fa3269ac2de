"""The ``warc`` (HTML of HTTP ``response`` records, main content extracted with resiliparse)
and ``wet`` (text of Common Crawl ``conversion`` records) formats."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding

from paddock.curation.core.documents import RawDocument, ReadProblem
from paddock.curation.core.readers.http_body import read_body
from paddock.curation.core.readers.opening import Item, not_utf8, open_buffered, too_large
from paddock.kernel.compressed import DamagedStreamError
from paddock.kernel.limits import read_limits

_HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml"})


class _WarcInput(io.RawIOBase):
    """The stream fastwarc reads: damage becomes a clean end of stream, remembered.

    fastwarc abandons the whole iteration when its input raises, losing the complete
    records it had already buffered; ending the stream instead lets every complete record
    through, and the reader reports the damage after them.
    """

    def __init__(self, inner: io.BufferedReader) -> None:
        super().__init__()
        self._inner = inner
        self._position = 0
        self.damage: DamagedStreamError | None = None
        self.at_end = False

    def readable(self) -> bool:
        return True

    def tell(self) -> int:  # fastwarc asks for the start position; must not raise
        return self._position

    def readinto(self, buffer: memoryview | bytearray) -> int:
        if self.damage is not None or self.at_end:
            return 0
        try:
            # One read of the inner stream at most: BufferedReader.readinto loops to fill
            # the buffer and drops what it had when a later read in the loop raises.
            count = self._inner.readinto1(buffer)
        except DamagedStreamError as exc:
            self.damage = exc
            return 0
        if not count:
            self.at_end = True
        self._position += count
        return count

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
        super().close()


def read_warc(path: Path, *, wet: bool) -> Iterator[Item]:
    """Documents from a WARC (HTML ``response`` records) or a WET (``conversion`` records).

    Every record goes through this loop, wanted or not, so that a record cut short is
    noticed wherever it is, and a record fastwarc cannot parse is placed right after the
    last one it could.
    """
    source = str(path)
    wanted = WarcRecordType.conversion if wet else WarcRecordType.response
    limits = read_limits()
    with _WarcInput(open_buffered(path)) as stream:
        records = ArchiveIterator(stream, parse_http=False, stream_detect=False, fsspec_args=False)
        next_offset = 0  # where the record after the last one returned should start
        while True:
            try:
                record = next(records)
            except StopIteration:
                break
            except (OSError, ValueError) as exc:
                yield _unparseable_record(stream, source, next_offset, exc)
                return
            next_offset = _end_of(record)
            wanted_here = record.record_type == wanted
            oversized = wanted_here and record.content_length > limits.record_bytes
            problem = _read_block(record, stream, source, keep=wanted_here and not oversized)
            if problem is not None:
                yield problem
                return
            if oversized:
                locator = f"offset {record.stream_pos}"
                yield too_large(source, locator, "the WARC record", limits.record_bytes)
            elif wanted_here:
                item = (
                    _wet_document(record, source) if wet
                    else _html_document(record, source, limits.http_body_bytes)
                )
                if item is not None:
                    yield item
        if stream.damage is not None:
            damage = stream.damage
            yield ReadProblem(source, f"offset {next_offset}", damage.kind, damage.detail)


def _end_of(record: WarcRecord) -> int:
    """Offset just past the record, before its block is read: its start, its WARC header
    as fastwarc writes it back (byte for byte as read, in the crawls tried; 0.4 µs), its
    declared block length and the CRLF CRLF after it."""
    return record.stream_pos + record.headers.write(io.BytesIO()) + record.content_length + 4


def _unparseable_record(
    stream: _WarcInput, source: str, offset: int, exc: Exception
) -> ReadProblem:
    if stream.damage is not None:
        detail = f"{stream.damage.detail}; fastwarc: {exc}"
        return ReadProblem(source, f"offset {offset}", stream.damage.kind, detail)
    return ReadProblem(source, f"offset {offset}", "corrupt_record", f"fastwarc: {exc}")


def _read_block(
    record: WarcRecord, stream: _WarcInput, source: str, *, keep: bool
) -> ReadProblem | None:
    """Read the record's block (kept in memory only when ``keep``: a wanted record within
    the record limit; others are streamed past) and report the record
    when it is shorter than its Content-Length says, or has none (a header cut off at the
    end); None when the record is whole."""
    locator = f"offset {record.stream_pos}"
    declared = record.content_length
    if record.headers.get("Content-Length") is None:
        kind = "truncated" if stream.at_end or stream.damage else "corrupt_record"
        return ReadProblem(source, locator, kind, "WARC header without Content-Length")
    if keep:
        record.freeze()
        got = record.content_length
    else:
        got = record.consume()
    if got >= declared:
        return None
    detail = f"record ends after {got} of its {declared} bytes"
    if stream.damage is not None:
        detail = f"{detail}: {stream.damage.detail}"
    return ReadProblem(source, locator, "truncated", detail)


def _target_uri(record: WarcRecord) -> str:
    """WARC-Target-URI without the angle brackets wget writes around it."""
    uri = (record.headers.get("WARC-Target-URI") or "").strip()
    if uri.startswith("<") and uri.endswith(">"):
        uri = uri[1:-1].strip()
    return uri


def _warc_metadata(record: WarcRecord, *names: str) -> dict[str, Any]:
    """The named WARC headers the record has, under their own names."""
    return {name: value for name in names if (value := record.headers.get(name)) is not None}


def _wet_document(record: WarcRecord, source: str) -> Item:
    locator = f"offset {record.stream_pos}"
    try:
        text = record.reader.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        return not_utf8(source, locator, exc)
    metadata = _warc_metadata(
        record, "WARC-Record-ID", "WARC-Date", "WARC-Identified-Content-Language"
    )
    return RawDocument(text, source, locator, url=_target_uri(record), metadata=metadata)


def _is_html(record: WarcRecord) -> bool:
    """The server's Content-Type, else Common Crawl's own detection, says HTML."""
    content_type = record.http_content_type or record.headers.get("WARC-Identified-Payload-Type")
    return (content_type or "").strip().lower() in _HTML_TYPES


def _html_document(record: WarcRecord, source: str, limit: int) -> Item | None:
    """The main text of a successful HTML response; None for every other response.

    Redirects, errors and non-HTML bodies are not documents of their URL, so they are
    skipped without a problem, like requests and metadata records. A body longer than
    ``limit`` once decoded is a ``too_large`` problem, read no further than the limit.
    """
    locator = f"offset {record.stream_pos}"
    if not record.is_http:
        return None
    try:
        record.parse_http(auto_decode="transfer")  # undo chunked; gzip/deflate/br below
        status = record.http_headers.status_code
        if status is None or not 200 <= status < 300 or not _is_html(record):
            return None
        encoding = record.http_headers.get("Content-Encoding")
        body = read_body(record.reader, encoding, limit)
    except (OSError, ValueError) as exc:  # BodyEncodingError is a ValueError
        return ReadProblem(source, locator, "corrupt_record", f"HTTP message: {exc}")
    if len(body) > limit:
        return too_large(
            source, locator, "the HTTP body, decoded,", limit, "PADDOCK_MAX_HTTP_BODY_BYTES"
        )
    try:
        html, encoding = _decode_html(body, record.http_charset)
        text = extract_plain_text(html, main_content=True)
    except Exception as exc:  # resiliparse's parser and codec errors share no base class
        return ReadProblem(source, locator, "undecodable_html", f"{type(exc).__name__}: {exc}")
    metadata = _warc_metadata(record, "WARC-Record-ID", "WARC-Date")
    metadata["encoding"] = encoding
    return RawDocument(text, source, locator, url=_target_uri(record), metadata=metadata)


def _decode_html(body: bytes, http_charset: str | None) -> tuple[str, str]:
    """The HTML as text, and the encoding used.

    The server's charset first (it is right almost always, and free); when the bytes do
    not decode with it, or there is none, the ``<meta>`` charset or uchardet's guess, with
    undecodable bytes dropped rather than failing the page.
    """
    if http_charset:
        with contextlib.suppress(UnicodeDecodeError, LookupError):  # else the server lied
            return body.decode(http_charset).removeprefix("\ufeff"), http_charset
    encoding = detect_encoding(body, from_html_meta=True)
    return bytes_to_str(body, encoding), encoding
