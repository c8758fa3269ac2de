"""Read a JSON-lines (or plain text) file robustly: one reader for every part of paddock.

A file is opened by :func:`paddock.kernel.compressed.open_compressed` (plain, gzip or
zstd, by magic bytes), read one line at a time in constant memory, and each line comes out
as a :class:`JsonLine` (its 1-based number and its JSON object) or a :class:`LineProblem`
(its number, a stable ``code`` and a message). Bad input never raises past the reader:
a bad line is one problem and the reader goes on with the next; a damaged compressed
stream, after which nothing can be read, ends the file with one problem. So the curation
pipeline, the annotation importer and the trainers count and word the same bad line the
same way.

Problem codes (:data:`LINE_PROBLEM_CODES`): ``not_utf8``, ``malformed_json`` (including
NaN/Infinity, Python's extension of JSON, and nesting too deep to read), ``not_an_object``,
``number_out_of_range`` (a number no float holds, ``1e999999``, or an integer outside 64
bits: PostgreSQL and every trainer would refuse it later, so it is this line's problem
rather than a failed import), ``too_long`` (a line over ``max_line_bytes``, by default the
configured record limit of :mod:`paddock.kernel.limits`, skipped without being held),
``truncated`` and ``corrupt_stream`` (the compressed stream ends early or is damaged) and
``too_large`` (the file decompresses past the configured file limit; the rest is unread).
Blank lines (whitespace only) are no records and no problems; they still count for line
numbers. A UTF-8 byte order mark on line 1 is dropped.
"""

from __future__ import annotations

import codecs
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Final, NoReturn

from paddock.kernel.compressed import DamagedStreamError, open_compressed
from paddock.kernel.limits import read_limits

__all__ = [
    "LINE_PROBLEM_CODES",
    "JsonLine",
    "LineProblem",
    "NumberOutOfRange",
    "TextLine",
    "decode_json_line",
    "decode_text_line",
    "json_type",
    "numbered_lines",
    "read_jsonl",
]

PathLike = str | os.PathLike[str]

LINE_PROBLEM_CODES: Final = frozenset(
    {
        "not_utf8", "malformed_json", "not_an_object", "number_out_of_range", "too_long",
        "truncated", "corrupt_stream", "too_large",
    }
)
_INT_BOUND: Final = 1 << 63
_SKIP_CHUNK: Final = 1 << 16


@dataclass(frozen=True, slots=True)
class LineProblem:
    """A line (or the rest of a file) that gives no record: where, what kind, and why."""

    line: int  # 1-based, in the decompressed text
    code: str  # one of LINE_PROBLEM_CODES
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class TextLine:
    """One raw line, with its line break, as :func:`numbered_lines` yields it."""

    line: int
    raw: bytes


@dataclass(frozen=True, slots=True)
class JsonLine:
    """One line's JSON object."""

    line: int
    record: dict[str, Any]


def numbered_lines(
    stream: BinaryIO, *, max_line_bytes: int | None = None, keep_blank: bool = False
) -> Iterator[TextLine | LineProblem]:
    """Each complete line of ``stream`` with its 1-based number.

    Blank lines (ASCII whitespace only) count for the numbers but are yielded only with
    ``keep_blank`` (the reward reader counts them in its report): the other readers skip
    them anyway, and a 1 MB gzip of newlines holds 4 million of them before the
    compression ratio stops it, which costs seconds this way and minutes through each
    reader's own blank-line test.

    A line over ``max_line_bytes`` (None: the configured record limit) is a ``too_long``
    problem and is read past in small pieces, never held whole. A damaged compressed
    stream, or one past the file limit, ends the lines with one ``truncated``,
    ``corrupt_stream`` or ``too_large`` problem on the line it broke in; a line cut by the
    damage never comes out (BufferedReader only returns a line once it has its newline or
    a clean end of stream).
    """
    if max_line_bytes is None:
        max_line_bytes = read_limits().record_bytes
    number = 0
    try:
        while raw := stream.readline(max_line_bytes + 1):
            number += 1
            if len(raw) > max_line_bytes:
                _skip_rest_of_line(stream, raw)
                yield LineProblem(
                    number, "too_long",
                    f"the line is longer than {max_line_bytes:,} bytes; expected a shorter "
                    "line (this one is skipped unread)",
                )
                continue
            if keep_blank or not raw.isspace():
                yield TextLine(number, raw)
    except DamagedStreamError as exc:
        yield LineProblem(number + 1, exc.kind, exc.detail)


def _skip_rest_of_line(stream: BinaryIO, head: bytes) -> None:
    piece = head
    while piece and not piece.endswith(b"\n"):
        piece = stream.readline(_SKIP_CHUNK)


def decode_text_line(raw: bytes, number: int) -> str | LineProblem:
    """A line as text, without its line break (and without a BOM on line 1)."""
    if number == 1 and raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        return LineProblem(number, "not_utf8", f"invalid UTF-8 at byte {exc.start}: {exc.reason}")


def decode_json_line(raw: bytes, number: int) -> dict[str, Any] | LineProblem | None:
    """One line's JSON object, a problem, or None for a blank line."""
    text = decode_text_line(raw, number)
    if isinstance(text, LineProblem):
        return text
    if not text.strip():
        return None
    try:
        record = json.loads(
            text, parse_constant=_reject_constant, parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except NumberOutOfRange as exc:
        return LineProblem(number, "number_out_of_range", str(exc))
    except ValueError as exc:  # JSONDecodeError is a ValueError
        return LineProblem(number, "malformed_json", str(exc))
    except RecursionError:
        # The depth guard: json.loads refuses nesting deeper than the interpreter's
        # recursion limit leaves room for; such a line is unreadable, not a crash.
        return LineProblem(number, "malformed_json", "JSON nested too deeply to read")
    if not isinstance(record, dict):
        return LineProblem(number, "not_an_object", f"a JSON {json_type(record)}, not an object")
    return record


def _reject_constant(name: str) -> NoReturn:
    """NaN and Infinity are Python's extension of JSON, not JSON (and PostgreSQL's jsonb
    refuses them)."""
    raise ValueError(f"{name} is not a JSON value")


class NumberOutOfRange(ValueError):
    """A JSON number no float holds or an integer outside 64 bits."""

    def __init__(self, text: str) -> None:
        shown = text if len(text) <= 40 else f"{text[:20]}...{text[-10:]} ({len(text):,} digits)"
        super().__init__(
            f"number out of range: {shown} (expected a finite number; whole numbers within "
            "64 bits)"
        )


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NumberOutOfRange(text)
    return value


def _bounded_int(text: str) -> int:
    # The length test first: int() of a 5,000-digit string raises (Python's own guard)
    # and of 4,000 digits costs time for nothing.
    if len(text) > 20 or not -_INT_BOUND <= (value := int(text)) < _INT_BOUND:
        raise NumberOutOfRange(text)
    return value


def json_type(value: Any) -> str:
    """How JSON calls the type of a parsed value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def read_jsonl(
    path: PathLike, *, max_line_bytes: int | None = None
) -> Iterator[JsonLine | LineProblem]:
    """Each JSON object line of a (possibly compressed) file, or the problem with it.

    The file is opened at the call, so a missing one fails now rather than at the first
    ``next``.

    Raises:
        OSError: the file cannot be opened (FileNotFoundError when there is none).
    """
    stream = open_compressed(path)
    return _records(stream, max_line_bytes)


def _records(stream: BinaryIO, max_line_bytes: int | None) -> Iterator[JsonLine | LineProblem]:
    with stream:
        for item in numbered_lines(stream, max_line_bytes=max_line_bytes):
            if isinstance(item, LineProblem):
                yield item
                continue
            record = decode_json_line(item.raw, item.line)
            if isinstance(record, dict):
                yield JsonLine(item.line, record)
            elif record is not None:
                yield record
