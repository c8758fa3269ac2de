"""Every benchmark still runs: each is executed in its --quick mode (figures not judged)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import _chromium
from tests.support.shared_data import shared_data
from tests.support.skips import skip_or_fail

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = sorted(
    path for path in (ROOT / "benchmarks").glob("*.py")
    if not path.name.startswith("_") and path.stem != "common"
)


NEEDS_POSTGRES = {"annotation_load", "annotation_export", "ui", "weekly_cycle", "sustained_load",
                  "loop", "curation"}
# What each benchmark reads from ../shared/data ("": the whole folder).
NEEDS_SHARED_DATA = {
    "reward_model": ("hh-rlhf",), "reward_throughput": ("hh-rlhf",),
    "loop": ("hh-rlhf", "oasst-en-100-trees"), "dedup": ("",),
    "pii": ("presidio-synth-pii", "web-c4-sample"),
    "quality_filters": ("web-c4-sample", "web-cc-docs", "wikipedia-sample", "web-warc-samples"),
    # its quality figures come from the dedup and quality_filters benchmarks
    "curation": ("",),
}
NEEDS_CHROMIUM = {"ui", "hostile_markdown"}


def postgres_answers() -> bool:
    import psycopg

    try:
        psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


# The run below has 600 s; the suite's 300 s per test would cut the slowest quick runs
# (the weekly loop trains real models) short on a busy machine.
@pytest.mark.timeout(660)
@pytest.mark.parametrize("script", BENCHMARKS, ids=[path.stem for path in BENCHMARKS])
def test_benchmark_runs_in_quick_mode(script):
    if script.stem in NEEDS_POSTGRES and not postgres_answers():
        skip_or_fail(f"{script.stem} runs against PostgreSQL at 127.0.0.1:5432, which is down")
    for dataset in NEEDS_SHARED_DATA.get(script.stem, ()):
        shared_data(dataset)
    if script.stem in NEEDS_CHROMIUM and (reason := _chromium.missing()):
        skip_or_fail(reason)
    result = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{script.stem}", "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    written = result.stdout.strip().splitlines()[-1].removeprefix("written to ")
    record = json.loads((ROOT / written).read_text())
    assert record["quick"] is True
    assert record["figures"] and record["cpu"] and record["commit"]
