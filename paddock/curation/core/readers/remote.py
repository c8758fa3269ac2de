"""Sources named by a URL (``s3://bucket/crawl.warc.gz``, ``gs://...``, ``memory://...``),
read through fsspec as a stream, so a crawl is curated where it lies.

A :class:`RemoteFile` has the few things of :class:`pathlib.Path` the readers use (a name,
``exists``, ``is_dir``, ``open("rb")``, its text), so every reader reads a local path and a
URL alike. A URL names one file: folder sources are local. The file system's own package
(``s3fs``, ``gcsfs``) must be installed for its scheme; fsspec says which when it is not.
"""

from __future__ import annotations

import io
import os
import posixpath
from pathlib import Path
from typing import BinaryIO

_CHUNK = 1 << 20


def is_url(path: object) -> bool:
    """A ``scheme://`` name other than ``file://`` (a plain path stays a path)."""
    return isinstance(path, str) and "://" in path and not path.startswith("file://")


class RemoteFile:
    """One file on an fsspec file system, named by its URL."""

    def __init__(self, url: str) -> None:
        import fsspec

        self.url = url
        self.fs, self._path = fsspec.core.url_to_fs(url)
        self.name = posixpath.basename(self._path.rstrip("/"))

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"RemoteFile({self.url!r})"

    def exists(self) -> bool:
        return self.fs.exists(self._path)

    def is_dir(self) -> bool:
        return self.fs.isdir(self._path)

    def open(self, mode: str = "rb") -> BinaryIO:
        """A buffered binary stream (it can ``peek``, as decompression by magic bytes needs).

        Raises:
            OSError: the file is missing or cannot be opened (FileNotFoundError when absent).
        """
        if mode != "rb":
            raise ValueError("remote sources are read only")
        if self.is_dir():
            raise IsADirectoryError(21, "Is a directory", self.url)
        return io.BufferedReader(self.fs.open(self._path, "rb"), _CHUNK)


def as_source(path: str | os.PathLike[str] | RemoteFile) -> Path | RemoteFile:
    """A local :class:`Path`, or a :class:`RemoteFile` for a URL."""
    if isinstance(path, RemoteFile | Path):
        return path
    if is_url(path):
        return RemoteFile(path)
    return Path(path)
