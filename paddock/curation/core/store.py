"""The document store: a source's documents and their measurements as Parquet shards.

Why not PostgreSQL: a crawl snapshot holds billions of documents, and every stage of a run
reads a few small columns of all of them (hashes, words, domains) or the text of some.
Columnar shards on shared storage read exactly the columns a stage needs, scale with the
storage, and any worker reads them without a database round trip per document.

Layout, under the store's root (any fsspec URL: a local path, ``s3://``, ``gs://``,
``memory://``)::

    <source key>/shard-00000.parquet   documents [0, N), row groups of ROW_GROUP rows
    <source key>/shard-00001.parquet   documents [N, 2N) ...
    <source key>/manifest.json         written last: the source is complete

A shard file appears only whole (written beside and renamed, on a local file system); on
an object store, where uploads are whole anyway, the manifest written last is what marks
the source complete, and readers read nothing without it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

SHARD_DOCUMENTS = 100_000
ROW_GROUP = 2_000
MANIFEST = "manifest.json"
FORMAT_VERSION = 1

SCHEMA = pa.schema(
    [
        ("position", pa.int64()),
        ("locator", pa.string()),
        ("url", pa.string()),
        ("domain", pa.string()),
        ("content_hash", pa.string()),
        ("length", pa.int64()),
        ("words", pa.int64()),
        ("language", pa.string()),
        ("language_score", pa.float64()),
        ("pii_counts", pa.string()),  # JSON object text
        ("text", pa.string()),
        ("metadata", pa.string()),  # JSON object text
    ]
)
COLUMNS = tuple(SCHEMA.names)
JSON_COLUMNS = ("pii_counts", "metadata")


class StoreError(Exception):
    """The store cannot give what was asked: a source never completed, a bad column."""


@dataclass(frozen=True)
class ShardInfo:
    file: str
    first: int  # position of its first document
    documents: int
    row_group: int


class DocumentStore:
    """Reads and writes sources' shards under one root URL."""

    def __init__(self, url: str) -> None:
        if not url:
            raise StoreError("the document store needs a location (PADDOCK_CURATION_STORE)")
        self.url = str(url)
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self.root = self.root.rstrip("/")

    def __repr__(self) -> str:
        return f"DocumentStore({self.url!r})"

    @property
    def local(self) -> bool:
        protocol = self.fs.protocol
        return "file" in (protocol if isinstance(protocol, tuple) else (protocol,))

    def path(self, key: str, name: str = "") -> str:
        if not key or "/" in key or key.startswith("."):
            raise StoreError(f"not a source key: {key!r}")
        return f"{self.root}/{key}" + (f"/{name}" if name else "")

    # --- writing ----------------------------------------------------------------------

    def writer(
        self, key: str, *, shard_documents: int = SHARD_DOCUMENTS, row_group: int = ROW_GROUP
    ) -> StoreWriter:
        """A writer for source ``key``; whatever the key held before is removed first."""
        self.delete(key)
        self.fs.makedirs(self.path(key), exist_ok=True)
        return StoreWriter(self, key, shard_documents, row_group)

    def _put(self, path: str, write) -> None:
        """Write a file so that it appears whole: beside it, then renamed (locally)."""
        target = f"{path}.tmp-{uuid.uuid4().hex[:8]}" if self.local else path
        with self.fs.open(target, "wb") as handle:
            write(handle)
        if target != path:
            self.fs.mv(target, path)

    def delete(self, key: str) -> None:
        if self.fs.exists(self.path(key)):
            self.fs.rm(self.path(key), recursive=True)

    # --- reading ----------------------------------------------------------------------

    def manifest(self, key: str) -> dict[str, Any]:
        try:
            with self.fs.open(self.path(key, MANIFEST), "rb") as handle:
                return json.loads(handle.read())
        except FileNotFoundError:
            raise StoreError(
                f"source {key[:16]} is not complete in the document store {self.url}"
            ) from None

    def complete(self, key: str) -> bool:
        return self.fs.exists(self.path(key, MANIFEST))

    def shards(self, key: str) -> list[ShardInfo]:
        return [ShardInfo(**s) for s in self.manifest(key)["shards"]]

    def read_shard(
        self, key: str, shard: ShardInfo, columns: Sequence[str], row_groups: Sequence[int] = ()
    ) -> pa.Table:
        """``columns`` of one shard (only those are read), or of some of its row groups."""
        _check_columns(columns)
        with self.fs.open(self.path(key, shard.file), "rb") as handle:
            parquet = pq.ParquetFile(handle)
            if row_groups:
                return parquet.read_row_groups(list(row_groups), columns=list(columns))
            return parquet.read(columns=list(columns))

    def tables(self, key: str, columns: Sequence[str]) -> Iterator[tuple[ShardInfo, pa.Table]]:
        """Each shard's ``columns``, in position order."""
        for shard in self.shards(key):
            yield shard, self.read_shard(key, shard, columns)

    def rows(self, key: str, columns: Sequence[str]) -> Iterator[tuple]:
        """Tuples of ``columns`` for every document of the source, in position order."""
        for _shard, table in self.tables(key, columns):
            yield from zip(*(table.column(c).to_pylist() for c in columns), strict=True)

    def documents(
        self, key: str, positions: Sequence[int], columns: Sequence[str]
    ) -> dict[int, dict[str, Any]]:
        """The given documents as {position: {column: value}}, reading only the row groups
        that hold them (a page of the drop browser reads kilobytes, not the shard)."""
        wanted = sorted(set(int(p) for p in positions))
        out: dict[int, dict[str, Any]] = {}
        if not wanted:
            return out
        names = list(dict.fromkeys(["position", *columns]))
        for shard in self.shards(key):
            inside = [p for p in wanted if shard.first <= p < shard.first + shard.documents]
            if not inside:
                continue
            groups = sorted({(p - shard.first) // shard.row_group for p in inside})
            table = self.read_shard(key, shard, names, groups)
            keep = set(inside)
            for row in table.to_pylist():
                if row["position"] in keep:
                    out[row["position"]] = _decoded(row)
        return out


class StoreWriter:
    """Buffers documents and writes a shard every ``shard_documents``; :meth:`close`
    writes the manifest, which marks the source complete."""

    def __init__(self, store: DocumentStore, key: str, shard_documents: int,
                 row_group: int) -> None:
        if shard_documents < 1 or row_group < 1:
            raise StoreError("shard_documents and row_group must be at least 1")
        self.store, self.key = store, key
        self.shard_documents, self.row_group = shard_documents, row_group
        self.buffer: dict[str, list] = {name: [] for name in COLUMNS}
        self.shards: list[ShardInfo] = []
        self.written = 0

    def add(self, document: dict[str, Any]) -> None:
        """One document's columns (pii_counts and metadata as dicts); positions must run
        0, 1, 2, ... in the order added."""
        if document["position"] != self.written + len(self.buffer["position"]):
            raise StoreError(f"document position {document['position']} out of order")
        for name in COLUMNS:
            value = document[name]
            self.buffer[name].append(
                json.dumps(value, ensure_ascii=False, sort_keys=True) if name in JSON_COLUMNS
                else value
            )
        if len(self.buffer["position"]) >= self.shard_documents:
            self.flush()

    def flush(self) -> None:
        count = len(self.buffer["position"])
        if not count:
            return
        table = pa.Table.from_pydict(self.buffer, schema=SCHEMA)
        shard = ShardInfo(f"shard-{len(self.shards):05d}.parquet", self.written, count,
                          self.row_group)
        self.store._put(
            self.store.path(self.key, shard.file),
            lambda handle: pq.write_table(table, handle, row_group_size=self.row_group,
                                          compression="zstd"),
        )
        self.shards.append(shard)
        self.written += count
        self.buffer = {name: [] for name in COLUMNS}

    def close(self, **extra: Any) -> dict[str, Any]:
        self.flush()
        manifest = {
            "format": FORMAT_VERSION, "documents": self.written,
            "shards": [s.__dict__ for s in self.shards], **extra,
        }
        data = json.dumps(manifest, indent=1, sort_keys=True).encode()
        self.store._put(self.store.path(self.key, MANIFEST), lambda handle: handle.write(data))
        return manifest


def _check_columns(columns: Sequence[str]) -> None:
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise StoreError(f"no such document column: {', '.join(unknown)}")


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    for name in JSON_COLUMNS:
        if name in row and row[name] is not None:
            row[name] = json.loads(row[name])
    return row


def decode_json(value: str | None) -> dict:
    return json.loads(value) if value else {}
