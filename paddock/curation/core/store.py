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
BATCH_DOCUMENTS = 10_000  # documents a reader of whole shards holds at once (whole row groups)
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
        handle, finish = self._open_put(path)
        with handle:
            write(handle)
        finish()

    def _open_put(self, path: str):
        """(handle, finish): write to the handle, close it, then call ``finish`` to make the
        file appear at ``path`` whole (renamed locally; object stores publish on close)."""
        target = f"{path}.tmp-{uuid.uuid4().hex[:8]}" if self.local else path

        def finish() -> None:
            if target != path:
                self.fs.mv(target, path)

        return self.fs.open(target, "wb"), finish

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

    def batches(self, key: str, shard: ShardInfo, columns: Sequence[str],
                documents: int = BATCH_DOCUMENTS) -> Iterator[pa.Table]:
        """One shard's ``columns`` in pieces of about ``documents`` (whole row groups), in
        position order: what a reader of every document holds in memory at once."""
        _check_columns(columns)
        with self.fs.open(self.path(key, shard.file), "rb") as handle:
            parquet = pq.ParquetFile(handle)
            groups = list(range(parquet.num_row_groups))
            step = max(1, documents // max(shard.row_group, 1))
            for start in range(0, len(groups), step):
                yield parquet.read_row_groups(groups[start:start + step], columns=list(columns))

    def rows(self, key: str, columns: Sequence[str]) -> Iterator[tuple]:
        """Tuples of ``columns`` for every document of the source, in position order,
        read a batch of row groups at a time (memory does not grow with the shard)."""
        for shard in self.shards(key):
            for table in self.batches(key, shard, columns):
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
    """Writes a source's documents as they come: each row group (``row_group`` documents)
    is encoded and written as soon as it is full, so memory holds one row group, not one
    shard, whatever the shard size; a shard file appears whole when it has
    ``shard_documents`` (or at :meth:`close`). :meth:`close` writes the manifest last,
    which marks the source complete."""

    def __init__(self, store: DocumentStore, key: str, shard_documents: int,
                 row_group: int) -> None:
        if shard_documents < 1 or row_group < 1:
            raise StoreError("shard_documents and row_group must be at least 1")
        self.store, self.key = store, key
        self.shard_documents, self.row_group = shard_documents, row_group
        self.buffer: dict[str, list] = {name: [] for name in COLUMNS}
        self.shards: list[ShardInfo] = []
        self.written = 0  # documents in finished shards
        self._open: tuple[Any, Any, Any] | None = None  # (parquet writer, handle, finish)
        self._in_shard = 0  # documents written to the open shard

    def add(self, document: dict[str, Any]) -> None:
        """One document's columns (pii_counts and metadata as dicts); positions must run
        0, 1, 2, ... in the order added."""
        expected = self.written + self._in_shard + len(self.buffer["position"])
        if document["position"] != expected:
            raise StoreError(f"document position {document['position']} out of order")
        for name in COLUMNS:
            value = document[name]
            self.buffer[name].append(
                json.dumps(value, ensure_ascii=False, sort_keys=True) if name in JSON_COLUMNS
                else value
            )
        # A row group never crosses a shard's end: shards hold exactly shard_documents.
        if len(self.buffer["position"]) >= min(self.row_group,
                                               self.shard_documents - self._in_shard):
            self._write_row_group()
        if self._in_shard >= self.shard_documents:
            self.flush()

    def _write_row_group(self) -> None:
        count = len(self.buffer["position"])
        if not count:
            return
        if self._open is None:
            name = f"shard-{len(self.shards):05d}.parquet"
            handle, finish = self.store._open_put(self.store.path(self.key, name))
            self._open = (pq.ParquetWriter(handle, SCHEMA, compression="zstd"), handle, finish)
        table = pa.Table.from_pydict(self.buffer, schema=SCHEMA)
        self._open[0].write_table(table, row_group_size=self.row_group)
        self._in_shard += count
        self.buffer = {name: [] for name in COLUMNS}

    def flush(self) -> None:
        """Finish the open shard: its last row group, then the file, whole."""
        self._write_row_group()
        if self._open is None:
            return
        writer, handle, finish = self._open
        writer.close()
        handle.close()
        finish()
        self.shards.append(ShardInfo(f"shard-{len(self.shards):05d}.parquet", self.written,
                                     self._in_shard, self.row_group))
        self.written += self._in_shard
        self._open, self._in_shard = None, 0

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
