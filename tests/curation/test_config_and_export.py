"""The run config object and the export writer, without a database."""

import gzip
import json

import pytest

from paddock.curation.core.config import CurationConfig, ExportConfig
from paddock.curation.core.export import ExportRecord, copies, write_export
from paddock.curation.core.pii import PiiType


def test_config_round_trips_through_json_and_names_every_section():
    config = CurationConfig.from_dict(
        {"near_dedup": {"threshold": 0.9}, "pii": {"rate_threshold": 3, "detectors": ["email"]},
         "export": {"source_weights": {"wikipedia": 2}}}
    )
    assert config.near_dedup.threshold == 0.9 and config.pii.detectors == (PiiType.EMAIL,)
    again = CurationConfig.from_dict(json.loads(config.to_json()))
    assert again == config
    for section in ("quality", "near_dedup", "pii", "export"):
        assert section in str(config)


@pytest.mark.parametrize(
    ("data", "message"),
    [({"dedup": {}}, "unknown config section"), ({"near_dedup": {"treshold": 1}}, "treshold"),
     ({"pii": {"rate": 1}}, "unknown pii setting")],
)
def test_config_refuses_unknown_keys_by_name(data, message):
    with pytest.raises(ValueError, match=message):
        CurationConfig.from_dict(data)


def test_fractional_weights_up_sample_the_expected_share_with_a_fixed_seed():
    ids = [f"doc:{i}" for i in range(20_000)]
    assert [copies(i, 2.0, seed=0) for i in ids[:5]] == [2] * 5
    total = sum(copies(i, 1.25, seed=0) for i in ids)
    assert 24_600 < total < 25_400  # 1.25 per document, binomial spread at n = 20,000
    assert total == sum(copies(i, 1.25, seed=0) for i in ids)  # deterministic
    assert sum(copies(i, 0.0, seed=0) for i in ids) == 0
    with pytest.raises(ValueError):
        copies("x", -1, seed=0)


def records(n=500):
    for i in range(n):
        for _ in range(2 if i % 10 == 0 else 1):
            yield ExportRecord(stable_id=f"s:{i}", source="web", text=f"document {i} é")


def test_export_is_reproducible_and_spreads_copies(tmp_path):
    config = ExportConfig(shard_records=100, seed=3)
    first = write_export(tmp_path / "a", records(), total_records=550, config=config,
                         manifest={"run": "x"})
    write_export(tmp_path / "b", records(), total_records=550, config=config,
                 manifest={"run": "x"})
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == ["manifest.json", *[f"part-{i:05d}.jsonl.gz" for i in range(6)]]
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert first["records"] == 550 and sum(s["records"] for s in first["shards"]) == 550
    lines = []
    for shard in first["shards"]:
        with gzip.open(tmp_path / "a" / shard["file"], "rt", encoding="utf-8") as handle:
            lines += [json.loads(line) for line in handle]
    assert sum(line["id"] == "s:0" for line in lines) == 2
    assert {line["text"] for line in lines if line["id"] == "s:1"} == {"document 1 é"}


def test_a_failed_export_leaves_the_previous_one_untouched(tmp_path):
    config = ExportConfig(shard_records=100)
    write_export(tmp_path / "out", records(10), total_records=11, config=config, manifest={})
    before = (tmp_path / "out" / "manifest.json").read_bytes()

    def broken():
        yield from records(3)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_export(tmp_path / "out", broken(), total_records=11, config=config, manifest={})
    assert (tmp_path / "out" / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging left behind
