"""Files that cross web/training carry a schema version beside them; readers refuse newer."""

import json

import pytest

from paddock.annotation.importers import ParsedPair, read_pairs, read_prompts
from paddock.kernel.exchange import (
    PAIRS,
    SCHEMA_VERSIONS,
    SchemaVersionError,
    check_schema_version,
    manifest_path,
    write_records,
)
from paddock.training.policy.sampling import read_conversations, write_pairs
from paddock.training.reward.readers import PairFormatError, read_paddock_export

PAIR = {"prompt": "Hi", "response_a": "Hello", "response_b": "Hey there"}


def test_manifest_names():
    assert manifest_path("/x/3-preferences.jsonl.gz").name == "3-preferences.manifest.json"
    assert manifest_path("/x/prompts.jsonl").name == "prompts.manifest.json"


def test_the_writer_keeps_record_bytes_and_versions_beside_them(tmp_path):
    path = tmp_path / "pairs.jsonl"
    records = [PAIR, {**PAIR, "prompt": "é"}]
    assert write_records(path, records, kind=PAIRS) == 2
    assert path.read_bytes() == b"".join(
        (json.dumps(r, ensure_ascii=False) + "\n").encode() for r in records)
    manifest = json.loads(manifest_path(path).read_text())
    assert manifest["schema_version"] == SCHEMA_VERSIONS[PAIRS] and manifest["records"] == 2
    assert [type(item) for item in read_pairs(path)] == [ParsedPair, ParsedPair]


def test_a_file_without_a_version_reads_as_version_1(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"prompt": "Hi"}\n')
    assert check_schema_version(path, "prompts") == 1
    assert len(read_conversations(path)) == 1


def newer(path, kind):
    manifest_path(path).write_text(json.dumps({"format": kind, "schema_version": 99}))


def test_every_reader_refuses_a_newer_version_naming_the_file(tmp_path):
    pairs = write_pairs(tmp_path / "pairs.jsonl", [PAIR])
    newer(pairs, "pairs")
    with pytest.raises(SchemaVersionError, match=f"{pairs}: a pairs file of schema version 99"):
        read_pairs(pairs)
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "Hi"}\n')
    newer(prompts, "prompts")
    for reader in (read_prompts, read_conversations):
        with pytest.raises(SchemaVersionError, match=str(prompts)):
            reader(prompts)
    export = tmp_path / "1-preferences.jsonl.gz"
    export.write_bytes(b"")
    newer(export, "preferences")
    with pytest.raises(PairFormatError, match=f"{export}: a preferences file of schema"):
        read_paddock_export(export)
