"""The ``text`` format: a folder of ``.txt`` files (or one file), one document each."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from paddock.curation.core.documents import CurationInputError, RawDocument, ReadProblem
from paddock.curation.core.readers.opening import (
    Item,
    cannot_read,
    not_utf8,
    open_binary,
    too_large,
)
from paddock.kernel.compressed import DamagedStreamError
from paddock.kernel.limits import read_limits

_TEXT_FILE_SUFFIXES: Final = (".txt", ".txt.gz", ".txt.zst")


@dataclass(frozen=True, slots=True)
class FolderEntry:
    relative: str  # with "/" separators
    path: Path
    error: str | None = None  # why a subfolder could not be listed


def walk_folder(root: Path, prefix: str = "") -> Iterator[FolderEntry]:
    """Every file under ``root``, depth first, each folder's entries in name order (so the
    order is the same on every machine). Symlinks are not followed: a symlinked folder
    could loop, and a symlinked file could lead out of the folder a data manager may read
    (to ``/proc/self/environ``: issue 18, M5)."""
    try:
        with os.scandir(root) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError as exc:
        if not prefix:
            raise CurationInputError(cannot_read(root, exc)) from None
        yield FolderEntry(prefix.rstrip("/"), root, cannot_read(root, exc))
        return
    for entry in entries:
        relative = prefix + entry.name
        if entry.is_dir(follow_symlinks=False):
            yield from walk_folder(Path(entry.path), relative + "/")
        elif entry.is_file(follow_symlinks=False):
            yield FolderEntry(relative, Path(entry.path))


def read_text_folder(root: Path) -> Iterator[Item]:
    """One document per ``.txt`` (or ``.txt.gz``/``.txt.zst``) file under ``root``."""
    entries = (
        entry
        for entry in walk_folder(root)
        if entry.error or entry.relative.lower().endswith(_TEXT_FILE_SUFFIXES)
    )
    return read_text_files(root, entries)


def read_text_files(root: Path, entries: Iterable[FolderEntry]) -> Iterator[Item]:
    source = str(root)
    for entry in entries:
        locator = f"file {entry.relative}"
        if entry.error:
            yield ReadProblem(source, locator, "unreadable", entry.error)
        else:
            yield _read_text_file(entry.path, source, locator)


def _read_text_file(path: Path, source: str, locator: str) -> Item:
    """A whole file as one document: UTF-8, a leading BOM dropped, text otherwise as is."""
    limit = read_limits().record_bytes
    try:
        with open_binary(path) as stream:
            data = stream.read(limit + 1)  # never more than one byte past the limit
    except CurationInputError as exc:
        return ReadProblem(source, locator, "unreadable", str(exc))
    except DamagedStreamError as exc:
        return ReadProblem(source, locator, exc.kind, exc.detail)
    if len(data) > limit:
        return too_large(source, locator, "the file", limit)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return not_utf8(source, locator, exc)
    return RawDocument(text=text, source=source, locator=locator)
