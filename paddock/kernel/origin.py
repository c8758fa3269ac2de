"""Where a checkpoint folder's weights came from: ``paddock_origin.json`` beside them.

Written by whatever makes a base checkpoint (``paddock.training.bases`` for the shipped
real models, ``paddock.training.tiny`` for tiny random test models) and read by the
workers, which never show a tiny model's text to people. Plain JSON, so both sides read it
without loading a model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ORIGIN_FILE = "paddock_origin.json"


def write_origin(folder: str | os.PathLike[str], *, model: str, licence: str,
                 tiny: bool = False, **details: Any) -> Path:
    path = Path(folder) / ORIGIN_FILE
    record = {"model": model, "licence": licence, "tiny": tiny, **details}
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def read_origin(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The folder's origin record; None when it has none (or an unreadable one)."""
    try:
        record = json.loads((Path(folder) / ORIGIN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def is_tiny(folder: str | os.PathLike[str]) -> bool:
    """Whether a checkpoint folder holds a tiny random model: its origin record says so,
    or (folders built before the record existed) its config is a Llama of toy size."""
    origin = read_origin(folder)
    if origin is not None and "tiny" in origin:
        return bool(origin["tiny"])
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (isinstance(config, dict) and config.get("model_type") == "llama"
            and config.get("hidden_size", 1 << 30) <= 128
            and config.get("vocab_size", 1 << 30) <= 1024)
