"""The files that cross between the web side and training, and their schema versions.

Three JSON-lines files cross the boundary:

- **prompts** (the pipeline writes them for the policy to answer; the annotation importer
  and ``paddock.training.policy.sampling`` read them): ``{"id", "turns" | "prompt",
  "axis", "risk_category"?, "metadata"?}``;
- **pairs** (the sampler writes them; the annotation importer reads them): a prompt and
  ``response_a``/``response_b``;
- **preferences** (the annotation export writes them, gzip'd; the reward trainer reads
  them): one judgement a line, with ``margin_small``/``margin_large``.

Each is written by :func:`write_records` (one JSON object a line, ``ensure_ascii=False``,
atomically) and its schema version lives beside the data, in a manifest named after the
file (``prompts.jsonl`` -> ``prompts.manifest.json``; ``3-preferences.jsonl.gz`` ->
``3-preferences.manifest.json``, the export's own manifest), so the records' bytes are the
same as before versions existed. A reader calls :func:`check_schema_version`: a file
without a manifest or without a version (written before versions) is read as version 1; a
file of a newer version than this code knows is refused with :class:`SchemaVersionError`
naming the file, rather than misread.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from paddock.kernel.atomic_write import write_atomically
from paddock.kernel.jsonl import LineProblem, read_jsonl

__all__ = [
    "MAX_NAME_CHARS",
    "MAX_TEXT_CHARS",
    "MAX_TURNS",
    "PAIRS",
    "PAIR_FIELDS",
    "PREFERENCES",
    "PROMPTS",
    "PROMPT_FIELDS",
    "RESPONSE_FIELDS",
    "SCHEMA_VERSIONS",
    "TURN_FIELDS",
    "SchemaVersionError",
    "check_schema_version",
    "manifest_path",
    "read_records",
    "schema_fields",
    "write_records",
]

PathLike = str | os.PathLike[str]

PROMPTS: Final = "prompts"
PAIRS: Final = "pairs"
PREFERENCES: Final = "preferences"
# The version each file is written in, and the newest each reader understands. Raise one
# when a change would make an older reader misread the file (a field renamed or retyped).
SCHEMA_VERSIONS: Final = {PROMPTS: 1, PAIRS: 1, PREFERENCES: 1}
_DATA_SUFFIXES: Final = (".jsonl.gz", ".jsonl.zst", ".jsonl")

# The prompts and pairs formats' limits and fields: the annotation importer enforces them,
# and the sampler refuses (or resamples) what the importer would refuse.
MAX_TEXT_CHARS: Final = 100_000
MAX_TURNS: Final = 100
# An external id or a model name: the max_length of their columns in annotation.models.
MAX_NAME_CHARS: Final = 200
PROMPT_FIELDS: Final = frozenset({"prompt", "turns", "axis", "risk_category", "id", "metadata"})
PAIR_FIELDS: Final = PROMPT_FIELDS | {"response_a", "response_b"}
TURN_FIELDS: Final = frozenset({"role", "content"})
RESPONSE_FIELDS: Final = frozenset({"text", "model", "temperature", "top_p", "seed"})


class SchemaVersionError(ValueError):
    """A file written in a schema version newer than this code reads."""


def manifest_path(path: PathLike) -> Path:
    """The manifest beside a data file: its name with ``.jsonl`` (and ``.gz``/``.zst``)
    replaced by ``.manifest.json``."""
    data = Path(path)
    for suffix in _DATA_SUFFIXES:
        if data.name.endswith(suffix):
            return data.with_name(data.name.removesuffix(suffix) + ".manifest.json")
    return data.with_name(data.name + ".manifest.json")


def schema_fields(kind: str) -> dict[str, Any]:
    """What a manifest carries to say which format and version its data file is in."""
    return {"format": kind, "schema_version": SCHEMA_VERSIONS[kind]}


def check_schema_version(path: PathLike, kind: str) -> int:
    """The schema version of ``path`` (a file of ``kind``): its manifest's, or 1 when it
    has none (files written before versions existed).

    Raises:
        SchemaVersionError: the manifest names a newer version than this code reads, or
            another format.
    """
    manifest = manifest_path(path)
    try:
        fields = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 1  # no manifest (or not one of ours): an unversioned file
    if not isinstance(fields, dict):
        return 1
    written = fields.get("format", kind)
    if written != kind:
        raise SchemaVersionError(
            f"{path}: its manifest {manifest.name} says it is a {written!r} file, not "
            f"{kind!r}; pass a {kind} file"
        )
    version = fields.get("schema_version", 1)
    known = SCHEMA_VERSIONS[kind]
    if not isinstance(version, int) or isinstance(version, bool) or version > known:
        raise SchemaVersionError(
            f"{path}: a {kind} file of schema version {version!r} ({manifest.name}), newer "
            f"than version {known} that this code reads; update paddock to read it"
        )
    return version


def write_records(
    path: PathLike, records: Iterable[Mapping[str, Any]], *, kind: str,
    manifest: Mapping[str, Any] | None = None,
) -> int:
    """Write ``records`` to ``path`` as JSON lines, atomically, and the manifest beside it
    with the schema version (and ``manifest``'s fields); returns how many were written."""
    count = 0

    def lines() -> Iterable[str]:
        nonlocal count
        for record in records:
            count += 1
            yield json.dumps(record, ensure_ascii=False) + "\n"

    write_atomically(path, lines())
    fields = {**(manifest or {}), **schema_fields(kind), "file": Path(path).name,
              "records": count}
    write_atomically(manifest_path(path), json.dumps(fields, indent=2, sort_keys=True) + "\n")
    return count


def read_records(path: PathLike, *, kind: str) -> list[dict[str, Any]]:
    """Every record of a file this platform wrote itself (plain, gzip or zstd), after its
    schema version is checked.

    For files the platform wrote, a damaged line is a bug or a broken disk, not user input
    to skip: it raises ``ValueError`` naming the file and line. (The importers, which read
    what people upload, report problems line by line instead.)
    """
    check_schema_version(path, kind)
    records: list[dict[str, Any]] = []
    for item in read_jsonl(path):
        if isinstance(item, LineProblem):
            raise ValueError(f"{path}, line {item.line}: {item.message}")
        records.append(item.record)
    return records
