"""Which paths a data manager may ingest: only under the configured ingest roots.

A data manager types a path on the curation page and a worker reads it. Any path the
workers could read was accepted, so ``/proc/self/environ`` (the worker's environment:
DATABASE_URL with its password, SECRET_KEY) and the secret-key file were stored as
documents and searchable (issue 18, M5). Now the path is resolved as the worker will open
it (every ``..`` and symlink followed) and must then lie under one of
``settings.INGEST_ROOTS`` (``PADDOCK_INGEST_ROOTS``; default the artifacts folder's
``incoming/``), and never under the kernel's pseudo file systems whatever the roots say.
Checked when the ingest is asked for and again by the worker before it reads, so a
symlink swapped in between changes nothing. The ``curate`` management command, run by
whoever has a shell on the server, is not limited.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from django.conf import settings

PSEUDO_FILE_SYSTEMS: Final = (Path("/proc"), Path("/sys"), Path("/dev"))


class IngestPathRefused(ValueError):
    """A path outside the ingest roots, missing, or not a file or folder; one line."""


def ingest_roots() -> list[Path]:
    return [Path(root).resolve() for root in settings.INGEST_ROOTS]


def ingest_path_check(path: str | Path, roots: Sequence[Path] | None = None) -> Path:
    """The resolved path to read, when a data manager may ingest ``path``.

    A relative path is taken inside the first root (``crawl/2024.warc.gz``).

    Raises:
        IngestPathRefused: outside every root (after ``..`` and symlinks), under /proc,
            /sys or /dev, missing, or neither a regular file nor a folder.
    """
    roots = list(roots) if roots is not None else ingest_roots()
    given = Path(path)
    if not given.is_absolute():
        given = roots[0] / given if roots else given
    resolved = given.resolve()  # strict=False: a missing path is worded below
    if any(resolved.is_relative_to(pseudo) for pseudo in PSEUDO_FILE_SYSTEMS):
        raise IngestPathRefused(f"{path} is a system file, not data: it cannot be ingested")
    if not any(resolved.is_relative_to(root) for root in roots):
        folders = ", ".join(str(root) for root in roots) or "none configured"
        raise IngestPathRefused(
            f"{path} is outside the folders curation reads from ({folders}): put the file "
            "there, or ask an administrator to add its folder to PADDOCK_INGEST_ROOTS"
        )
    if not resolved.exists():
        raise IngestPathRefused(f"{path} does not exist on this server")
    if not (resolved.is_file() or resolved.is_dir()):
        raise IngestPathRefused(f"{path} is not a regular file or folder")
    return resolved
