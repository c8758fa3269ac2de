"""Opening a source, and the pieces every format's reader shares."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO

from paddock.curation.core.documents import CurationInputError, RawDocument, ReadProblem
from paddock.curation.core.readers.remote import RemoteFile, as_source
from paddock.kernel.compressed import open_compressed

Item = RawDocument | ReadProblem
PathLike = str | os.PathLike[str]


def cannot_read(path: Path, exc: OSError) -> str:
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
    return open_buffered(as_source(path))


def open_buffered(file: Path | RemoteFile) -> io.BufferedReader:
    try:
        return open_compressed(file)
    except OSError as exc:
        raise CurationInputError(cannot_read(file, exc)) from None


def check_file(path: Path) -> None:
    """Fail now, with one line, for a file that cannot be opened."""
    open_binary(path).close()


def check_folder(path: Path) -> None:
    """Fail now, with one line, for a folder that cannot be listed."""
    try:
        os.scandir(path).close()
    except OSError as exc:
        raise CurationInputError(cannot_read(path, exc)) from None


def too_large(
    source: str, locator: str, what: str, limit: int, setting: str = "PADDOCK_MAX_RECORD_BYTES"
) -> ReadProblem:
    """A record over a configured limit (:mod:`paddock.kernel.limits`), skipped unread
    past it."""
    return ReadProblem(
        source, locator, "too_large", f"{what} is larger than {limit:,} bytes; skipped ({setting})"
    )


def not_utf8(source: str, locator: str, exc: UnicodeDecodeError) -> ReadProblem:
    return ReadProblem(
        source, locator, "not_utf8", f"invalid UTF-8 at byte {exc.start}: {exc.reason}"
    )
