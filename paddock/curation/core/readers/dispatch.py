"""Which reader reads a source: by the format given, or guessed from the name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

from paddock.curation.core.documents import CurationInputError, RawDocument, ReadProblem
from paddock.curation.core.readers.folders import FolderEntry, read_text_files, read_text_folder
from paddock.curation.core.readers.lines import read_jsonl, read_lines
from paddock.curation.core.readers.opening import PathLike, check_file, check_folder
from paddock.curation.core.readers.remote import RemoteFile, as_source
from paddock.curation.core.readers.warc import read_warc
from paddock.kernel.limits import stop_after_problems, too_many_problems_message

FORMATS: Final = ("jsonl", "lines", "text", "warc", "wet")

_COMPRESSION_SUFFIXES: Final = (".gz", ".zst")
_FORMAT_BY_SUFFIX: Final = {
    ".wet": "wet",
    ".warc": "warc",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".txt": "lines",
}


def guess_format(path: PathLike) -> str:
    """The format :func:`read_documents` reads ``path`` as when given ``fmt="auto"``.

    By name: a folder is ``text``; ``.jsonl``/``.json`` are ``jsonl``, ``.warc`` is
    ``warc``, ``.wet`` and ``.warc.wet`` are ``wet``, ``.txt`` is ``lines``, each also
    with ``.gz`` or ``.zst`` after it.

    Raises:
        CurationInputError: nothing at ``path``, or a name that says no format.
    """
    source = as_source(path)
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
    A run of problems as long as the configured ``problems_in_a_row`` ends the source with
    a ``too_many_problems`` problem (:func:`paddock.kernel.limits.stop_after_problems`).

    Raises:
        CurationInputError: the source cannot be read, or ``fmt="auto"`` cannot tell its
            format.
        ValueError: ``fmt`` is not "auto" or one of :data:`FORMATS`.
    """
    source = as_source(path)
    items = _documents(source, fmt, text_field, url_field)
    return stop_after_problems(items, _is_problem, _stopped)


def _is_problem(item: RawDocument | ReadProblem) -> bool:
    return isinstance(item, ReadProblem)


def _stopped(last: ReadProblem, limit: int) -> ReadProblem:
    return ReadProblem(
        last.source, last.locator, "too_many_problems", too_many_problems_message(limit)
    )


def _documents(
    source: Path | RemoteFile, fmt: str, text_field: str, url_field: str
) -> Iterator[RawDocument | ReadProblem]:
    if fmt == "auto":
        fmt = guess_format(source)
    elif fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: expected 'auto' or one of {FORMATS}")
    if fmt == "text" and source.is_dir():
        check_folder(source)
        return read_text_folder(source)
    check_file(source)
    if fmt == "jsonl":
        return read_jsonl(source, text_field=text_field, url_field=url_field)
    if fmt == "lines":
        return read_lines(source)
    if fmt == "text":
        return read_text_files(source, [FolderEntry(source.name, source)])
    return read_warc(source, wet=fmt == "wet")
