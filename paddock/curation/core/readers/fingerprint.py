"""A source's fingerprint: what says an import of it was already done."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from paddock.curation.core.documents import CurationInputError
from paddock.curation.core.readers.folders import walk_folder
from paddock.curation.core.readers.opening import PathLike, cannot_read, check_folder
from paddock.curation.core.readers.remote import RemoteFile, as_source


def file_fingerprint(path: PathLike) -> str:
    """SHA-256 (hex) of a file's bytes as stored, or of a folder's files.

    For a file it equals ``sha256sum``. For a folder it covers every file under it, in
    :func:`walk_folder` order, each as its relative path, its size and its bytes, so a
    renamed, added, removed or changed file changes it. Streamed, in constant memory.

    Raises:
        CurationInputError: the file or folder, or anything under the folder, cannot be
            read.
    """
    source = as_source(path)
    digest = hashlib.sha256()
    if not source.is_dir():
        _hash_file(source, digest)
        return digest.hexdigest()
    check_folder(source)
    for entry in walk_folder(source):
        if entry.error:
            raise CurationInputError(entry.error)
        size = entry.path.stat().st_size
        digest.update(f"{entry.relative}\0{size}\0".encode())
        _hash_file(entry.path, digest)
    return digest.hexdigest()


def _hash_file(path: Path | RemoteFile, digest: Any) -> None:
    try:
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise CurationInputError(cannot_read(path, exc)) from None
