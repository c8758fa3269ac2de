"""The export writer: sharded JSONL.gz plus a manifest, byte for byte reproducible.

Up-sampling (Llama 2 paper, section 2.1: the most factual sources are up-sampled in the
training mix) writes a document ``weight`` times: the integer part always, the fraction
for a seeded-hash-chosen share of the source's documents. Each copy goes to a shard chosen
by a seeded hash, so copies of one document land in different shards and a reader taking
shards in any order sees a mixed stream. Gzip headers carry no time or file name, keys
are sorted, and the manifest holds no timestamps or absolute paths: equal inputs and
parameters give equal bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paddock.curation.core.config import ExportConfig

MANIFEST = "manifest.json"
MAX_SHARDS = 256  # open gzip streams at once


@dataclass(frozen=True, slots=True)
class ExportRecord:
    stable_id: str
    source: str
    text: str
    url: str = ""
    domain: str = ""
    language: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {
                "domain": self.domain,
                "id": self.stable_id,
                "language": self.language,
                "source": self.source,
                "text": self.text,
                "url": self.url,
            },
            ensure_ascii=False,
            sort_keys=True,
        )


def _unit_hash(*parts: object) -> float:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def copies(stable_id: str, weight: float, seed: int) -> int:
    """How many times a document is written: floor(weight), plus one for a seeded share."""
    if weight < 0:
        raise ValueError(f"weight must be >= 0, not {weight}")
    whole, fraction = math.floor(weight), weight - math.floor(weight)
    return whole + (1 if fraction and _unit_hash(seed, "weight", stable_id) < fraction else 0)


def shard_count(records: int, config: ExportConfig) -> int:
    return max(1, min(MAX_SHARDS, math.ceil(records / max(config.shard_records, 1))))


def write_export(
    directory: Path | str,
    records: Iterable[ExportRecord],
    *,
    total_records: int,
    config: ExportConfig,
    manifest: dict[str, Any],
) -> dict[str, Any]:
    """Write ``records`` (each repeated by its copies, copies adjacent) and the manifest.

    Everything goes to a temporary folder beside ``directory`` that replaces it only when
    complete, so a crash never leaves a half-written export that looks finished.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        shards = shard_count(total_records, config)
        names = [f"part-{i:05d}.jsonl.gz" for i in range(shards)]
        counts = [0] * shards
        streams = [
            gzip.GzipFile(filename="", mode="wb", fileobj=open(staging / name, "wb"), mtime=0)
            for name in names
        ]
        written = 0
        try:
            last_id, copy = None, 0
            for record in records:  # a document's copies come one after another
                copy = copy + 1 if record.stable_id == last_id else 0
                last_id = record.stable_id
                shard = int(_unit_hash(config.seed, "shard", record.stable_id, copy) * shards)
                streams[shard].write(record.to_json().encode("utf-8") + b"\n")
                counts[shard] += 1
                written += 1
        finally:
            for stream in streams:
                fileobj = stream.fileobj
                stream.close()
                fileobj.close()
        files = [
            {"file": name, "records": count, "sha256": _sha256(staging / name)}
            for name, count in zip(names, counts, strict=True)
        ]
        full_manifest = {**manifest, "records": written, "shards": files}
        (staging / MANIFEST).write_text(
            json.dumps(full_manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return full_manifest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
