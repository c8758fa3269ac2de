"""``python -m paddock.training.reward`` as a worker runs it: a subprocess, JSON lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from paddock.training.tiny import build_tiny_llama

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "paddock.training.reward", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def export_file(path: Path, count: int) -> Path:
    """Records in the platform's export format (paddock.annotation.services.export)."""
    lines = []
    for i in range(count):
        safety = i % 4 == 0
        lines.append(json.dumps({
            "id": i, "comparison_id": i, "batch": "week-1", "split": "train",
            "axis": "safety" if safety else "helpfulness", "risk_category": None,
            "origin": "annotator",
            "conversation": [{"role": "user", "content": f"Question {i} about the sea?"}],
            "chosen": f"A careful, complete answer {i}.", "rejected": f"Whatever {i}.",
            "chosen_model": "policy-v2", "rejected_model": "policy-v1",
            "strength": ["significantly_better", "better", "slightly_better"][i % 3],
            "margin_small": 0, "margin_large": 0,
            "chosen_safe": True if safety else None, "rejected_safe": False if safety else None,
            "safety_bin": "chosen_safe" if safety else None, "annotator": "a1",
            "is_gold": False,
        }))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    return str(build_tiny_llama(tmp_path_factory.mktemp("tiny-cli") / "base"))


def test_train_then_eval_through_the_command_line(tiny_model, tmp_path):
    data = export_file(tmp_path / "export.jsonl", 24)
    out = tmp_path / "rm"
    trained = run_cli("train", "--model", tiny_model, "--output", str(out),
                      "--data", f"paddock={data}", "--rm", "helpfulness",
                      "--set", "batch_pairs=8", "--set", "micro_batch_pairs=4",
                      "--set", "learning_rate=0.001", "--set", "max_length=64",
                      "--set", "epochs=3")
    assert trained.returncode == 0, trained.stderr
    events = [json.loads(line) for line in trained.stdout.splitlines() if line.startswith("{")]
    progress = [e for e in events if e["event"] == "progress"]
    assert [e["step"] for e in progress] == list(range(1, len(progress) + 1))
    assert {"loss", "pairs_per_second", "eta_seconds", "total_steps"} <= set(progress[0])
    assert events[-1]["event"] == "done"
    record = json.loads((out / "reward_config.json").read_text())["extra"]
    assert record["rm"] == "helpfulness" and record["data"][0]["pairs"] == 24
    # 18 helpfulness pairs plus as many again from the rest (only 6 safety pairs exist)
    assert events[-1]["metrics"]["pairs"] == 24

    evaluated = run_cli("eval", "--model", str(out), "--data", f"paddock={data}",
                        "--name", "helpfulness RM", "--max-length", "64")
    assert evaluated.returncode == 0, evaluated.stderr
    done = json.loads(evaluated.stdout.strip().splitlines()[-1])
    assert done["pairs"] == 24 and done["accuracy"] > 0.9
    assert "| helpfulness RM |" in done["table"]
    assert Path(done["json"]).exists() and Path(done["png"]).exists()


def test_bad_arguments_end_with_one_line_and_status_2(tiny_model, tmp_path):
    missing = run_cli("train", "--model", tiny_model, "--output", str(tmp_path / "x"),
                      "--data", f"paddock={tmp_path / 'nope.jsonl'}")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1].endswith(f"no such file {tmp_path}/nope.jsonl")
    data = export_file(tmp_path / "export.jsonl", 4)
    unknown = run_cli("train", "--model", tiny_model, "--output", str(tmp_path / "x"),
                      "--data", f"paddock={data}", "--set", "colour=red")
    assert unknown.returncode == 2 and "unknown reward config fields: colour" in unknown.stderr
    bad_format = run_cli("eval", "--model", tiny_model, "--data", f"csv={data}")
    assert bad_format.returncode == 2 and "FORMAT one of paddock" in bad_format.stderr
