"""The document store changes where documents live, not what a run exports: for the same
input file and config, the export's data shards are byte for byte those the code that kept
documents in PostgreSQL wrote (hashes recorded from commit 994cce8, before issue 19).

The manifest is not compared: it now also records the domain lists and field options.
"""

import hashlib
import json
import random
from pathlib import Path

import pytest

from paddock.curation.core.config import CurationConfig, ExportConfig
from paddock.curation.services import runs

pytestmark = pytest.mark.django_db

# sha256 of each part file, as written before the document store (commit 994cce8).
GOLDEN = {
    "part-00000.jsonl.gz": "c86d7510763f4cb898935a0861e1f64e7f18342d14e250cd5fb2174a61498e11",
    "part-00001.jsonl.gz": "805e23a0047cb251faf96423233dc75e9d04b36b46e6c1c22da6e5acc7c59ee2",
    "part-00002.jsonl.gz": "273449267ae432fee7800af91aa40c6c602dbad0d1f8c04f5ceed86e01dafdf7",
    "part-00003.jsonl.gz": "ee22756b34995595489b228869f5bf383d8bf40ae5c8029a0e66c37841295f80",
    "part-00004.jsonl.gz": "252ff665d6c8af3bff3d1cc2da50a844ecaa43a10ce6adb3a2c3f7007002bfe1",
    "part-00005.jsonl.gz": "6a9e20f2efc2f77a448b57e7a42a4ba795ab91bd839b6b875f0fd42f4fa86d32",
}
GOLDEN_DROPS = {"exact_duplicate": 7, "near_duplicate": 8, "too_short": 30}


def golden_corpus(path: Path) -> Path:
    """Documents with exact and near duplicates, short ones, several sites, fixed seed."""
    rng = random.Random(19)
    words = [f"w{i}" for i in range(400)]
    lines = []
    base = [" ".join(rng.choice(words) for _ in range(rng.randint(20, 60))) for _ in range(60)]
    for i in range(240):
        kind = i % 8
        if kind == 0:
            text = base[rng.randrange(60)]  # exact duplicate of a base text
        elif kind == 1:
            b = base[rng.randrange(60)].split()
            b[rng.randrange(len(b))] = "changed"  # near duplicate
            text = " ".join(b)
        elif kind == 2:
            text = "too short"
        else:
            text = " ".join(rng.choice(words) for _ in range(rng.randint(10, 80)))
        lines.append(json.dumps({"text": text, "url": f"https://site{i % 7}.example/{i}"}))
    path.write_text("\n".join(lines) + "\n")
    return path


CONFIG = CurationConfig(export=ExportConfig(source_weights={"golden": 1.5}, shard_records=50))


def test_export_shards_are_the_bytes_written_before_the_store(ingest, tmp_path):
    source = ingest(golden_corpus(tmp_path / "golden.jsonl"), "golden", "jsonl")
    run = runs.run_create(name="golden", sources=[source], config=CONFIG)
    runs.run_stages(run, runs.STAGES)
    run.refresh_from_db()
    hashes = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(Path(run.export_dir).iterdir()) if p.name != "manifest.json"
    }
    assert runs.drop_counts(run) == GOLDEN_DROPS
    assert hashes == GOLDEN
