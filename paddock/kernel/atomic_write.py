"""Write a file so that readers see the old one or the whole new one, never half of one.

The bytes go to a temporary file in the target's folder (so the rename stays on one file
system), are flushed and fsynced, and the temporary file is renamed over the target with
:func:`os.replace`, which is atomic on POSIX. The temporary name is unique per call
(process, thread and a random part), so two writers of one path, such as two exports of
one batch queued by two clicks, never write into the same temporary file: each rename is
whole, and the last one wins. On any error the temporary file is removed and the target
is left as it was.

Temporary files are created with ``open(..., "x")`` rather than :func:`tempfile.mkstemp`,
so they get the usual permissions (``0666`` less the umask), not ``0600``: an export or a
registry entry is read by other processes.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

__all__ = ["atomic_file", "write_atomically"]

PathLike = str | os.PathLike[str]


def _temporary_name(path: Path) -> Path:
    unique = f"{os.getpid()}.{threading.get_ident()}.{uuid.uuid4().hex[:12]}"
    return path.with_name(f".{path.name}.{unique}.tmp")


@contextlib.contextmanager
def atomic_file(
    path: PathLike, mode: Literal["wb", "w"] = "wb", *, sync: bool = True
) -> Iterator[IO[Any]]:
    """A file object to write ``path``'s new content into; it replaces ``path`` when the
    block ends without an error. Text mode (``"w"``) writes UTF-8.

    ``sync=False`` skips the fsync, for scratch files a crash may lose (they are rebuilt),
    where many small files would otherwise each wait for the disk.
    """
    target = Path(path)
    tmp = _temporary_name(target)
    opened = open(tmp, "xb") if mode == "wb" else open(tmp, "x", encoding="utf-8")
    try:
        with opened as stream:
            yield stream
            stream.flush()
            if sync:
                os.fsync(stream.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomically(
    path: PathLike, content: str | bytes | Iterable[str], *, sync: bool = True
) -> Path:
    """Write text, bytes, or lines of text (each with its own line break) to ``path``
    atomically; returns the path."""
    target = Path(path)
    if isinstance(content, bytes):
        with atomic_file(target, "wb", sync=sync) as stream:
            stream.write(content)
    else:
        with atomic_file(target, "w", sync=sync) as stream:
            if isinstance(content, str):
                stream.write(content)
            else:
                stream.writelines(content)
    return target
