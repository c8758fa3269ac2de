"""The LSH band store on shared storage: one file per (partition, shard).

Why: Redis holds every band record of a run in memory (about ``bands`` x 12 bytes of
records per document, plus Redis's own overhead: see benchmarks/curation_bands.py). Past a
size (``PADDOCK_CURATION_REDIS_BANDS_MAX_DOCUMENTS``) the records go to files under the
run's work folder instead, the "sort per band" of datatrove's bucket step: an index task
writes each of its shard's partitions as a file, and a join task reads a partition as the
concatenation of its files, in shard order. The records are the same as in Redis, so the
clusters are the same.

Crash safety: each file is written beside and renamed; the shard's marker is written
last, so a shard without its marker is indexed again from scratch (rewriting the same
files with the same bytes).
"""

from __future__ import annotations

import uuid

import fsspec


class FileBandStore:
    def __init__(self, root: str, *, fs: fsspec.AbstractFileSystem | None = None) -> None:
        if fs is None:
            fs, root = fsspec.core.url_to_fs(str(root))
        self.fs, self.root = fs, str(root).rstrip("/")

    def _partition_dir(self, partition: int) -> str:
        return f"{self.root}/p-{partition:06d}"

    def _marker(self, shard: int) -> str:
        return f"{self.root}/indexed/{shard:06d}"

    def _put(self, path: str, data: bytes) -> None:
        temporary = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
        with self.fs.open(temporary, "wb") as handle:
            handle.write(data)
        self.fs.mv(temporary, path)

    def indexed(self, shard: int) -> bool:
        return self.fs.exists(self._marker(shard))

    def append(self, shard: int, records: dict[int, bytes]) -> None:
        for partition, data in sorted(records.items()):
            directory = self._partition_dir(partition)
            self.fs.makedirs(directory, exist_ok=True)
            self._put(f"{directory}/s-{shard:06d}.bin", data)
        self.fs.makedirs(f"{self.root}/indexed", exist_ok=True)
        self._put(self._marker(shard), b"")

    def read(self, partitions: list[int]) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        for partition in partitions:
            directory = self._partition_dir(partition)
            if not self.fs.exists(directory):
                out[partition] = b""
                continue
            names = sorted(name for name in self.fs.ls(directory, detail=False)
                           if name.endswith(".bin"))
            out[partition] = b"".join(self.fs.cat_file(name) for name in names)
        return out

    def delete(self) -> int:
        if self.fs.exists(self.root):
            self.fs.rm(self.root, recursive=True)
            return 1
        return 0
