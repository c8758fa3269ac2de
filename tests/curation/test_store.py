"""The document store: Parquet shards through fsspec, on a local folder and in memory."""

import json
import uuid

import pyarrow.parquet as pq
import pytest

from paddock.curation.core.store import (
    COLUMNS,
    DocumentStore,
    StoreError,
)


def row(position: int) -> dict:
    return {
        "position": position, "locator": f"line {position + 1}",
        "url": f"https://s{position % 3}.example/{position}", "domain": f"s{position % 3}.example",
        "content_hash": f"{position:064x}", "length": 10 + position, "words": position % 7,
        "language": "en", "language_score": 0.5, "pii_counts": {"email": position % 2},
        "text": f"document number {position} " * (position % 5 + 1),
        "metadata": {"n": position, "ü": "ünïcode"},
    }


@pytest.fixture(params=["local", "memory"])
def store(request, tmp_path):
    if request.param == "local":
        return DocumentStore(str(tmp_path / "store"))
    return DocumentStore(f"memory://plane-{uuid.uuid4().hex}")


def write(store, key, n, shard_documents=10, row_group=3):
    writer = store.writer(key, shard_documents=shard_documents, row_group=row_group)
    for position in range(n):
        writer.add(row(position))
    return writer.close(source="test")


def test_documents_round_trip_in_shards_with_small_row_groups(store):
    manifest = write(store, "k1", 25)
    assert manifest["documents"] == 25
    assert [(s["first"], s["documents"]) for s in manifest["shards"]] == [(0, 10), (10, 10),
                                                                         (20, 5)]
    rows = list(store.rows("k1", COLUMNS))
    assert len(rows) == 25
    first = dict(zip(COLUMNS, rows[7], strict=True))
    expected = row(7)
    assert json.loads(first.pop("pii_counts")) == expected.pop("pii_counts")
    assert json.loads(first.pop("metadata")) == expected.pop("metadata")
    assert first == expected
    with store.fs.open(store.path("k1", "shard-00000.parquet"), "rb") as handle:
        assert pq.ParquetFile(handle).metadata.num_row_groups == 4  # 3 + 3 + 3 + 1


def test_some_documents_read_decoded_by_position(store):
    write(store, "k2", 25)
    got = store.documents("k2", [24, 3, 11, 99], ("text", "metadata"))
    assert sorted(got) == [3, 11, 24]  # 99 is not in the source
    assert got[11]["text"] == row(11)["text"] and got[3]["metadata"]["ü"] == "ünïcode"
    assert set(got[3]) == {"position", "text", "metadata"}  # only the columns asked for


def test_a_source_without_its_manifest_is_not_read(store):
    writer = store.writer("k3", shard_documents=2)
    for position in range(5):
        writer.add(row(position))  # shards written, manifest not: a crash
    assert not store.complete("k3")
    with pytest.raises(StoreError, match="not complete"):
        list(store.rows("k3", ("text",)))
    write(store, "k3", 3)  # a new writer starts the key over
    assert [r[0] for r in store.rows("k3", ("position",))] == [0, 1, 2]


def test_bad_requests_are_refused_clearly(store):
    write(store, "k4", 2)
    with pytest.raises(StoreError, match="no such document column: body"):
        list(store.rows("k4", ("body",)))
    writer = store.writer("k5")
    with pytest.raises(StoreError, match="position 3 out of order"):
        writer.add(row(3))
    with pytest.raises(StoreError, match="not a source key"):
        store.path("../etc")
    with pytest.raises(StoreError, match="needs a location"):
        DocumentStore("")


def test_local_writes_leave_no_temporary_files(tmp_path):
    store = DocumentStore(str(tmp_path / "store"))
    write(store, "k6", 12)
    names = sorted(p.name for p in (tmp_path / "store" / "k6").iterdir())
    assert names == ["manifest.json", "shard-00000.parquet", "shard-00001.parquet"]
