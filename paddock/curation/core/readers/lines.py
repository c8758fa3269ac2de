"""The line formats: ``jsonl`` (one JSON object a line) and ``lines`` (each non-blank line
of a text file is a document), on the kernel's line reader."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from paddock.curation.core.documents import RawDocument, ReadProblem
from paddock.curation.core.readers.opening import Item, open_binary
from paddock.kernel.jsonl import (
    LineProblem,
    TextLine,
    decode_json_line,
    decode_text_line,
    numbered_lines,
)
from paddock.kernel.text_safety import without_lone_surrogates

_JSON_SCALARS: Final = (str, int, float, bool, type(None))


def _problem(source: str, problem: LineProblem) -> ReadProblem:
    return ReadProblem(source, f"line {problem.line}", problem.code, problem.message)


def _each_line(path: Path, parse: Callable[[TextLine, str], Item | None]) -> Iterator[Item]:
    """``parse`` applied to each complete line; a damaged stream ends with a problem."""
    source = str(path)
    with open_binary(path) as stream:
        for line in numbered_lines(stream):
            item = _problem(source, line) if isinstance(line, LineProblem) else parse(line, source)
            if item is not None:
                yield item


def read_lines(path: Path) -> Iterator[Item]:
    """One document per non-blank line, like a dump with one article a line."""
    return _each_line(path, _text_line)


def _text_line(line: TextLine, source: str) -> Item | None:
    text = decode_text_line(line.raw, line.line)
    if isinstance(text, LineProblem):
        return _problem(source, text)
    if not text.strip():
        return None
    return RawDocument(text=text, source=source, locator=f"line {line.line}")


def read_jsonl(path: Path, *, text_field: str, url_field: str) -> Iterator[Item]:
    """One document per JSON object line; blank lines are skipped without a problem."""
    return _each_line(
        path, lambda line, source: _parse_jsonl_line(line, source, text_field, url_field)
    )


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
