"""Streaming readers: a file or folder in, :class:`RawDocument` and :class:`ReadProblem` out.

Every reader is a generator that holds one record at a time (a line, a WARC record, one
text file of a folder), so a multi-GB crawl is read in constant memory. Bad input never
raises past a reader: a bad record becomes a ReadProblem naming its place and the reader
goes on with the next one; a damaged compressed stream (which cannot be resynchronised)
ends that source with one ReadProblem, keeping what was read before it. Only a source that
cannot be opened at all raises :class:`CurationInputError`, with one line naming the path.

A caveat on corrupt (not truncated) gzip: deflate has no checksum until the end of a
member, so the bytes inflated from the damaged part come out first, mostly as
``malformed_json`` lines but now and then as a well-formed document with damaged text,
and the ``corrupt_stream`` problem comes at the member's end. Treat the documents of a
file with a ``corrupt_stream`` problem as suspect.

Formats (:data:`FORMATS`): ``jsonl`` (one JSON object a line), ``lines`` (each non-blank
line of a text file is a document), ``text`` (a folder of ``.txt`` files, one document
each), ``warc`` (HTML of HTTP ``response`` records, main content extracted with
resiliparse) and ``wet`` (text of Common Crawl ``conversion`` records). Any file may be
gzip- or zstd-compressed: :func:`open_binary` decides by magic bytes, not by name.

Locators:

- ``line N``: 1-based line number in the decompressed text (``jsonl``, ``lines``).
- ``offset N``: where the WARC record starts, in bytes from the start of the
  *decompressed* stream (fastwarc's ``stream_pos`` over the stream decompressed here; for
  an uncompressed file, the file offset). It is not the offset of the gzip member, which
  a CDX index gives.
- ``file rel/path``: a file of a ``text`` folder, relative to it, with ``/`` separators.

Problem kinds: ``malformed_json``, ``not_an_object``, ``missing_text``, ``not_utf8``,
``truncated`` (the stream or record ends early), ``corrupt_stream`` (compressed data the
codec rejects), ``corrupt_record`` (a WARC record or HTTP message fastwarc cannot parse),
``undecodable_html`` (an HTML payload that cannot be decoded or parsed) and
``unreadable`` (a file or subfolder of a ``text`` folder that cannot be opened).

Speed on one core, on C4-like documents (2.5 kB of text): JSONL about 90k documents/s
(230 MB/s) plain and 50k/s gzip'd. WARC about 1 ms per HTML page (1,000 pages/s over the
real samples in ../shared/data), three quarters of it resiliparse's main-content
extraction and most of the rest inflating gzip.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding

from paddock.curation.core.documents import (
    CurationInputError,
    RawDocument,
    ReadProblem,
)
from paddock.kernel.compressed import DamagedStreamError, open_compressed
from paddock.kernel.jsonl import (
    LineProblem,
    TextLine,
    decode_json_line,
    decode_text_line,
    numbered_lines,
)
from paddock.kernel.text_safety import without_lone_surrogates

__all__ = [
    "FORMATS",
    "DamagedStreamError",
    "file_fingerprint",
    "guess_format",
    "open_binary",
    "read_documents",
]

Item = RawDocument | ReadProblem
PathLike = str | os.PathLike[str]

FORMATS: Final = ("jsonl", "lines", "text", "warc", "wet")

_COMPRESSION_SUFFIXES: Final = (".gz", ".zst")
_FORMAT_BY_SUFFIX: Final = {
    ".wet": "wet",
    ".warc": "warc",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".txt": "lines",
}
_TEXT_FILE_SUFFIXES: Final = (".txt", ".txt.gz", ".txt.zst")
_HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml"})
_JSON_SCALARS: Final = (str, int, float, bool, type(None))


# --------------------------------------------------------------------------- opening


def _cannot_read(path: Path, exc: OSError) -> str:
    """One line for an OSError met opening ``path``, without errno noise."""
    if isinstance(exc, FileNotFoundError):
        reason = "no such file"
    elif isinstance(exc, IsADirectoryError):
        reason = "it is a folder, not a file"
    elif isinstance(exc, NotADirectoryError):
        reason = "not a folder"
    elif isinstance(exc, PermissionError):
        reason = "permission denied"
    else:
        reason = exc.strerror or str(exc)
    return f"cannot read {path}: {reason}"


def open_binary(path: PathLike) -> BinaryIO:
    """Open a file for reading bytes, decompressing gzip or zstd found by magic bytes
    (:func:`paddock.kernel.compressed.open_compressed`, worded for curation).

    Raises:
        CurationInputError: the file is missing, is a folder or cannot be opened.
    """
    return _open_buffered(Path(path))


def _open_buffered(file: Path) -> io.BufferedReader:
    try:
        return open_compressed(file)
    except OSError as exc:
        raise CurationInputError(_cannot_read(file, exc)) from None


# --------------------------------------------------------------------------- dispatch


def guess_format(path: PathLike) -> str:
    """The format :func:`read_documents` reads ``path`` as when given ``fmt="auto"``.

    By name: a folder is ``text``; ``.jsonl``/``.json`` are ``jsonl``, ``.warc`` is
    ``warc``, ``.wet`` and ``.warc.wet`` are ``wet``, ``.txt`` is ``lines``, each also
    with ``.gz`` or ``.zst`` after it.

    Raises:
        CurationInputError: nothing at ``path``, or a name that says no format.
    """
    source = Path(path)
    if source.is_dir():
        return "text"
    if not source.exists():
        raise CurationInputError(f"cannot read {source}: no such file")
    name = source.name.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        name = name.removesuffix(suffix)
    fmt = _FORMAT_BY_SUFFIX.get(Path(name).suffix)
    if fmt is None:
        raise CurationInputError(
            f"cannot guess the format of {source} from its name: pass fmt "
            f"(one of {', '.join(FORMATS)})"
        )
    return fmt


def read_documents(
    path: PathLike,
    fmt: str = "auto",
    *,
    text_field: str = "text",
    url_field: str = "url",
) -> Iterator[RawDocument | ReadProblem]:
    """Stream the documents of one source, and the problems met on the way, in file order.

    ``text_field`` and ``url_field`` apply to ``jsonl`` only. The source is checked now,
    so a missing or unreadable one fails at the call rather than at the first ``next``.

    Raises:
        CurationInputError: the source cannot be read, or ``fmt="auto"`` cannot tell its
            format.
        ValueError: ``fmt`` is not "auto" or one of :data:`FORMATS`.
    """
    source = Path(path)
    if fmt == "auto":
        fmt = guess_format(source)
    elif fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: expected 'auto' or one of {FORMATS}")
    if fmt == "text" and source.is_dir():
        _check_folder(source)
        return _read_text_folder(source)
    _check_file(source)
    if fmt == "jsonl":
        return _read_jsonl(source, text_field=text_field, url_field=url_field)
    if fmt == "lines":
        return _read_lines(source)
    if fmt == "text":
        return _read_text_files(source, [_FolderEntry(source.name, source)])
    return _read_warc(source, wet=fmt == "wet")


def _check_file(path: Path) -> None:
    """Fail now, with one line, for a file that cannot be opened."""
    open_binary(path).close()


def _check_folder(path: Path) -> None:
    """Fail now, with one line, for a folder that cannot be listed."""
    try:
        os.scandir(path).close()
    except OSError as exc:
        raise CurationInputError(_cannot_read(path, exc)) from None


# --------------------------------------------------------------------------- lines


def _numbered_lines(stream: BinaryIO, source: str) -> Iterator[TextLine | ReadProblem]:
    """Each complete line with its number; a damaged stream ends with a problem."""
    for item in numbered_lines(stream):
        yield _problem(source, item) if isinstance(item, LineProblem) else item


def _problem(source: str, problem: LineProblem) -> ReadProblem:
    return ReadProblem(source, f"line {problem.line}", problem.code, problem.message)


def _not_utf8(source: str, locator: str, exc: UnicodeDecodeError) -> ReadProblem:
    return ReadProblem(
        source, locator, "not_utf8", f"invalid UTF-8 at byte {exc.start}: {exc.reason}"
    )


def _read_lines(path: Path) -> Iterator[Item]:
    """One document per non-blank line, like a dump with one article a line."""
    source = str(path)
    with open_binary(path) as stream:
        for item in _numbered_lines(stream, source):
            if isinstance(item, ReadProblem):
                yield item
                continue
            text = decode_text_line(item.raw, item.line)
            if isinstance(text, LineProblem):
                yield _problem(source, text)
            elif text.strip():
                yield RawDocument(text=text, source=source, locator=f"line {item.line}")


# --------------------------------------------------------------------------- jsonl


def _read_jsonl(path: Path, *, text_field: str, url_field: str) -> Iterator[Item]:
    """One document per JSON object line; blank lines are skipped without a problem."""
    source = str(path)
    with open_binary(path) as stream:
        for item in _numbered_lines(stream, source):
            if isinstance(item, ReadProblem):
                yield item
                continue
            parsed = _parse_jsonl_line(item, source, text_field, url_field)
            if parsed is not None:
                yield parsed


def _parse_jsonl_line(
    line: TextLine, source: str, text_field: str, url_field: str
) -> Item | None:
    record = decode_json_line(line.raw, line.line)
    if record is None:
        return None
    if isinstance(record, LineProblem):
        return _problem(source, record)
    locator = f"line {line.line}"
    text = record.get(text_field)
    if not isinstance(text, str):
        found = "missing" if text is None else f"{type(text).__name__}, not a string"
        return ReadProblem(source, locator, "missing_text", f"field {text_field!r} is {found}")
    return RawDocument(
        text=without_lone_surrogates(text),
        source=source,
        locator=locator,
        url=_record_url(record, url_field),
        metadata=_record_metadata(record, text_field, url_field),
    )


def _looks_like_url(value: object) -> bool:
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


def _record_url(record: dict[str, Any], url_field: str) -> str:
    """The URL field; else ``id`` when it is a URL (Dolma keeps the URL there); else
    ``metadata[url_field]``; else ""."""
    url = record.get(url_field)
    if isinstance(url, str) and url:
        return url
    if _looks_like_url(record.get("id")):
        return record["id"]
    nested = record.get("metadata")
    if isinstance(nested, dict) and _looks_like_url(nested.get(url_field)):
        return nested[url_field]
    return ""


def _record_metadata(record: dict[str, Any], text_field: str, url_field: str) -> dict[str, Any]:
    """The entries of the record's ``metadata`` object, then its other top-level scalars
    (which win on a clash: they are the record's own fields). Top-level lists and objects
    other than ``metadata`` are left out: they are payload, not metadata."""
    nested = record.get("metadata")
    metadata: dict[str, Any] = dict(nested) if isinstance(nested, dict) else {}
    for key, value in record.items():
        if key not in (text_field, url_field, "metadata") and isinstance(value, _JSON_SCALARS):
            metadata[key] = value
    return metadata


# --------------------------------------------------------------------------- text folders


@dataclass(frozen=True, slots=True)
class _FolderEntry:
    relative: str  # with "/" separators
    path: Path
    error: str | None = None  # why a subfolder could not be listed


def _walk_folder(root: Path, prefix: str = "") -> Iterator[_FolderEntry]:
    """Every file under ``root``, depth first, each folder's entries in name order (so the
    order is the same on every machine); symlinked folders are not followed, which keeps
    a link cycle from looping."""
    try:
        with os.scandir(root) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError as exc:
        if not prefix:
            raise CurationInputError(_cannot_read(root, exc)) from None
        yield _FolderEntry(prefix.rstrip("/"), root, _cannot_read(root, exc))
        return
    for entry in entries:
        relative = prefix + entry.name
        if entry.is_dir(follow_symlinks=False):
            yield from _walk_folder(Path(entry.path), relative + "/")
        elif entry.is_file():
            yield _FolderEntry(relative, Path(entry.path))


def _read_text_folder(root: Path) -> Iterator[Item]:
    """One document per ``.txt`` (or ``.txt.gz``/``.txt.zst``) file under ``root``."""
    entries = (
        entry
        for entry in _walk_folder(root)
        if entry.error or entry.relative.lower().endswith(_TEXT_FILE_SUFFIXES)
    )
    return _read_text_files(root, entries)


def _read_text_files(root: Path, entries: Iterable[_FolderEntry]) -> Iterator[Item]:
    source = str(root)
    for entry in entries:
        locator = f"file {entry.relative}"
        if entry.error:
            yield ReadProblem(source, locator, "unreadable", entry.error)
        else:
            yield _read_text_file(entry.path, source, locator)


def _read_text_file(path: Path, source: str, locator: str) -> Item:
    """A whole file as one document: UTF-8, a leading BOM dropped, text otherwise as is."""
    try:
        with open_binary(path) as stream:
            data = stream.read()
    except CurationInputError as exc:
        return ReadProblem(source, locator, "unreadable", str(exc))
    except DamagedStreamError as exc:
        return ReadProblem(source, locator, exc.kind, exc.detail)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _not_utf8(source, locator, exc)
    return RawDocument(text=text, source=source, locator=locator)


# --------------------------------------------------------------------------- WARC / WET


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


def _read_warc(path: Path, *, wet: bool) -> Iterator[Item]:
    """Documents from a WARC (HTML ``response`` records) or a WET (``conversion`` records).

    Every record goes through this loop, wanted or not, so that a record cut short is
    noticed wherever it is, and a record fastwarc cannot parse is placed right after the
    last one it could.
    """
    source = str(path)
    wanted = WarcRecordType.conversion if wet else WarcRecordType.response
    with _WarcInput(_open_buffered(path)) as stream:
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
            problem = _read_block(record, stream, source, wanted)
            if problem is not None:
                yield problem
                return
            if record.record_type == wanted:
                item = _wet_document(record, source) if wet else _html_document(record, source)
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
    record: WarcRecord, stream: _WarcInput, source: str, wanted: WarcRecordType
) -> ReadProblem | None:
    """Read the record's block (kept in memory only when wanted) and report the record
    when it is shorter than its Content-Length says, or has none (a header cut off at the
    end); None when the record is whole."""
    locator = f"offset {record.stream_pos}"
    declared = record.content_length
    if record.headers.get("Content-Length") is None:
        kind = "truncated" if stream.at_end or stream.damage else "corrupt_record"
        return ReadProblem(source, locator, kind, "WARC header without Content-Length")
    if record.record_type == wanted:
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
        return _not_utf8(source, locator, exc)
    metadata = _warc_metadata(
        record, "WARC-Record-ID", "WARC-Date", "WARC-Identified-Content-Language"
    )
    return RawDocument(text, source, locator, url=_target_uri(record), metadata=metadata)


def _is_html(record: WarcRecord) -> bool:
    """The server's Content-Type, else Common Crawl's own detection, says HTML."""
    content_type = record.http_content_type or record.headers.get("WARC-Identified-Payload-Type")
    return (content_type or "").strip().lower() in _HTML_TYPES


def _html_document(record: WarcRecord, source: str) -> Item | None:
    """The main text of a successful HTML response; None for every other response.

    Redirects, errors and non-HTML bodies are not documents of their URL, so they are
    skipped without a problem, like requests and metadata records.
    """
    locator = f"offset {record.stream_pos}"
    if not record.is_http:
        return None
    try:
        record.parse_http(auto_decode="all")  # undo chunked and gzip/deflate/br encoding
        status = record.http_headers.status_code
        if status is None or not 200 <= status < 300 or not _is_html(record):
            return None
        body = record.reader.read()
    except (OSError, ValueError) as exc:
        return ReadProblem(source, locator, "corrupt_record", f"HTTP message: {exc}")
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


# --------------------------------------------------------------------------- fingerprint


def file_fingerprint(path: PathLike) -> str:
    """SHA-256 (hex) of a file's bytes as stored, or of a folder's files.

    For a file it equals ``sha256sum``. For a folder it covers every file under it, in
    :func:`_walk_folder` order, each as its relative path, its size and its bytes, so a
    renamed, added, removed or changed file changes it. Streamed, in constant memory.

    Raises:
        CurationInputError: the file or folder, or anything under the folder, cannot be
            read.
    """
    source = Path(path)
    digest = hashlib.sha256()
    if not source.is_dir():
        _hash_file(source, digest)
        return digest.hexdigest()
    _check_folder(source)
    for entry in _walk_folder(source):
        if entry.error:
            raise CurationInputError(entry.error)
        size = entry.path.stat().st_size
        digest.update(f"{entry.relative}\0{size}\0".encode())
        _hash_file(entry.path, digest)
    return digest.hexdigest()


def _hash_file(path: Path, digest: Any) -> None:
    try:
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise CurationInputError(_cannot_read(path, exc)) from None
