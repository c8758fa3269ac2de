"""Uploaded files saved where every worker reads them: one rule for every upload form.

A browser's upload lands on the web process; the job that reads it runs on a worker, so
the file goes to shared storage first, under the uploader's own file name behind a random
prefix (two uploads of ``prompts.jsonl`` never overwrite each other, and people reading
the folder still recognise their file). Written beside its final name and renamed when
complete, so a worker never reads half an upload.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from paddock.kernel.atomic_write import atomic_file

UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{32}-(?=.)")  # what upload_save puts before the name


def upload_save(upload, folder: Path) -> Path:
    """``upload`` (a Django ``UploadedFile``) streamed into ``folder``, in chunks."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{uuid.uuid4().hex}-{Path(upload.name).name}"
    with atomic_file(target, "wb") as out:
        for piece in upload.chunks():
            out.write(piece)
    return target


def upload_display_name(path: Path) -> str:
    """The name the uploader gave the file (without the random prefix)."""
    return UPLOAD_PREFIX.sub("", path.name)
