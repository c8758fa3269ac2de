"""The reader every format shares: lines in (the kernel's reader), pairs and a report out;
and the field helpers the formats' record parsers raise :class:`Malformed` from."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from paddock.kernel.compressed import open_compressed
from paddock.kernel.jsonl import LineProblem, decode_json_line, numbered_lines
from paddock.kernel.vocabulary import AXES
from paddock.training.reward.pairs import PreferencePair
from paddock.training.reward.readers.report import PairFormatError, Problem, ReadReport

log = logging.getLogger(__name__)


class Skip(NamedTuple):
    """A well-formed record (or part of one) that makes no pair, and why."""

    reason: str


class Malformed(Exception):
    """Raised inside a parser; the reader turns it into a Problem or a PairFormatError.

    ``kind`` names the skip reason of a line-level problem (no field to name).
    """

    def __init__(self, field: str | None, message: str, kind: str = "bad record"):
        super().__init__(message)
        self.field = field
        self.message = message
        self.kind = kind


class Blank(Exception):
    """A blank line: counted as skipped, never an error."""


@dataclass
class Parsed:
    """What one record gave: pairs and skips in order, and format-specific tallies."""

    items: list[PreferencePair | Skip]
    counts: Counter[str] = field(default_factory=Counter)


ParseRecord = Callable[[dict[str, Any], int], Parsed]


class PairReader:
    """Iterable of pairs from one file; ``report`` describes the latest pass.

    Each iteration re-reads the file and starts a fresh report, so the report always
    matches the pairs just seen. A record's pairs are yielded only once the whole record
    parsed, so a malformed record contributes no pairs at all.
    """

    def __init__(self, path: str | Path, parse: ParseRecord, *, source: str, strict: bool):
        self.path = Path(path)
        self.source = source
        self.strict = strict
        self._parse = parse
        self.report = ReadReport(path=str(self.path), source=source)

    def __iter__(self) -> Iterator[PreferencePair]:
        self.report = report = ReadReport(path=str(self.path), source=self.source)
        with open_compressed(self.path) as stream:
            for line in numbered_lines(stream, keep_blank=True):
                if isinstance(line, LineProblem) and line.code == "too_long":
                    # One record over the limit: skipped unread and counted, like any
                    # malformed record; the lines after it are read as usual.
                    report.records += 1
                    self._malformed(line.line, Malformed(None, line.message, "too long"))
                    continue
                if isinstance(line, LineProblem):
                    # Never skipped: the lines after the damage (or the limit) are
                    # unknown, so they cannot be counted under any reason.
                    damaged = line.code in ("truncated", "corrupt_stream")
                    what = (
                        "the compressed stream is truncated or corrupt" if damaged
                        else "a line or the file is over a read limit (paddock.kernel.limits)"
                    )
                    raise PairFormatError(self.path, line.line, None, f"{what} ({line.message})")
                report.records += 1
                yield from self._record(line.line, line.raw)
        report.finished = True
        if report.malformed:
            log.warning("%s: %d malformed records skipped, first: %s", self.path,
                        report.malformed, report.errors[0] if report.errors else "?")

    def __repr__(self) -> str:
        return f"PairReader({str(self.path)!r}, source={self.source!r})"

    def _record(self, number: int, raw: bytes) -> Iterator[PreferencePair]:
        try:
            parsed = self._parse(decode(raw, number), number)
        except Malformed as bad:
            self._malformed(number, bad)
            return
        except Blank:
            self.report.skipped["blank line"] += 1
            return
        self.report.counts.update(parsed.counts)
        for item in parsed.items:
            if isinstance(item, Skip):
                self.report.skipped[item.reason] += 1
            else:
                self.report.pairs += 1
                yield item

    def _malformed(self, number: int, bad: Malformed) -> None:
        if self.strict:
            raise PairFormatError(self.path, number, bad.field, bad.message) from None
        top = (bad.field or "").split(".")[0].split("[")[0]
        reason = f"malformed: field {top}" if top else f"malformed: {bad.kind}"
        self.report.add_error(Problem(str(self.path), number, bad.field, bad.message), reason)


# How a line-level problem of the kernel's reader is counted: ``malformed: {reason}``.
_LINE_REASONS = {
    "not_utf8": "not UTF-8",
    "malformed_json": "not JSON",
    "not_an_object": "not a JSON object",
}


def decode(raw: bytes, number: int) -> dict[str, Any]:
    record = decode_json_line(raw, number)
    if record is None:
        raise Blank
    if isinstance(record, LineProblem):
        reason = _LINE_REASONS.get(record.code, record.code)
        raise Malformed(None, f"{reason} ({record.message})", reason)
    return record


def get_field(record: dict[str, Any], name: str, kind: type | tuple[type, ...], *,
         where: str = "", optional: bool = False) -> Any:
    """``record[name]`` checked for type; missing or mistyped is malformed, named in full."""
    path = f"{where}.{name}" if where else name
    if name not in record or (optional and record[name] is None):
        if optional:
            return None
        raise Malformed(path, "missing")
    value = record[name]
    # bool is an int in Python, never a valid count or rank.
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        names = "/".join(k.__name__ for k in _as_tuple(kind))
        raise Malformed(path, f"expected {names}, got {type(value).__name__} {value!r:.60}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def get_choice(record: dict[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = get_field(record, name, str)
    if value not in choices:
        raise Malformed(name, f"{value!r} is not one of {choices}")
    return value


def check_axis(axis: str) -> str:
    if axis not in AXES:
        raise ValueError(f"axis must be one of {AXES}, not {axis!r}")
    return axis
