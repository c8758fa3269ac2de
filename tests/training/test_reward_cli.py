"""``python -m paddock.training.reward`` as a worker runs it: a subprocess, JSON lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from paddock.training.tiny import build_tiny_llama
from tests.support.cli_runs import frozen_at_first_progress, stop_with_sigterm

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


# --- eval reads the trained max_length ------------------------------------------------------


@pytest.fixture(scope="module")
def short_rm(tiny_model, tmp_path_factory) -> Path:
    """A reward model trained with a 24-token budget: every export pair is longer."""
    import torch

    from paddock.training.reward.config import RewardConfig
    from paddock.training.reward.readers import read_paddock_export
    from paddock.training.reward.trainer import RewardTrainer

    root = tmp_path_factory.mktemp("short-rm")
    pairs = list(read_paddock_export(export_file(root / "export.jsonl", 8)))
    config = RewardConfig(model_path=tiny_model, output_dir=str(root / "rm"), batch_pairs=8,
                          micro_batch_pairs=8, max_length=24, min_context_tokens=4, bf16="no")
    RewardTrainer(config, pairs, device=torch.device("cpu")).train()
    return root / "rm"


def test_eval_scores_at_the_trained_max_length_unless_told_otherwise(short_rm, tmp_path, capsys):
    from paddock.training.reward.cli import main

    data = export_file(tmp_path / "export.jsonl", 8)

    def evaluate(*extra: str) -> dict:
        assert main(["eval", "--model", str(short_rm), "--data", f"paddock={data}",
                     "--output", str(tmp_path / "eval"), *extra]) == 0
        return json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    trained = evaluate()
    assert trained["max_length"] == 24  # from reward_config.json, not 512
    assert trained["truncation"]["sides_with_context_truncated"] > 0
    explicit = evaluate("--max-length", "512")
    assert explicit["max_length"] == 512
    assert explicit["truncation"]["sides_with_context_truncated"] == 0


def test_eval_without_a_saved_config_asks_for_max_length(short_rm, tmp_path):
    import shutil

    foreign = tmp_path / "foreign-rm"
    shutil.copytree(short_rm, foreign)
    (foreign / "reward_config.json").unlink()
    data = export_file(tmp_path / "export.jsonl", 4)
    result = run_cli("eval", "--model", str(foreign), "--data", f"paddock={data}")
    assert result.returncode == 2
    assert result.stderr.strip().endswith("reward_config.json: missing or without max_length; "
                                          "pass --max-length")


# --- resumable runs: SIGTERM, lock ----------------------------------------------------------


def events_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_sigterm_checkpoints_and_a_rerun_resumes_while_a_second_run_is_refused(tiny_model,
                                                                               tmp_path):
    import os

    from paddock.training.run_guard import LOCK_FILE

    data = export_file(tmp_path / "export.jsonl", 160)
    out = tmp_path / "rm"
    argv = [sys.executable, "-m", "paddock.training.reward", "train", "--model", tiny_model,
            "--output", str(out), "--data", f"paddock={data}", "--set", "batch_pairs=2",
            "--set", "micro_batch_pairs=2", "--set", "max_length=48", "--set", 'bf16="no"']
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with frozen_at_first_progress(argv, cwd=ROOT, env=env) as (first, seen):
        second = run_cli(*argv[3:])  # same folder, while the first one holds it
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [
            f"paddock.training.reward: output folder {out} is in use by another run "
            f"(pid {first.pid}, lock file {out / LOCK_FILE})"]
        assert second.stdout == ""
        rest, errors = stop_with_sigterm(first, timeout=120)
    assert first.returncode == 143, errors[-2000:]
    events = seen + events_of(rest)
    stopped = events[-1]
    steps = [e["step"] for e in events if e["event"] == "progress"]
    assert stopped["event"] == "stopped" and stopped["reason"] == "SIGTERM"
    assert stopped["step"] == steps[-1] < stopped["total_steps"] == 80
    assert stopped["checkpoint"] == str(out / f"checkpoint-{steps[-1]}")
    assert (out / f"checkpoint-{steps[-1]}" / "trainer_state.pt").exists()
    assert not (out / LOCK_FILE).exists()
    assert "Traceback" not in errors

    resumed = run_cli(*argv[3:])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    again = events_of(resumed.stdout)
    assert [e["step"] for e in again if e["event"] == "progress"] == list(
        range(steps[-1] + 1, 81))
    assert again[-1]["event"] == "done" and again[-1]["metrics"]["steps"] == 80
    assert json.loads((out / "reward_config.json").read_text())["save_every_steps"] == 50
    assert not list(out.glob("checkpoint-*")) and (out / "model.safetensors").exists()


# --- model folders: one line, no traceback ---------------------------------------------------


@pytest.mark.parametrize("case", ["missing", "truncated", "config-not-json", "policy-as-rm"])
def test_a_bad_reward_model_folder_fails_in_one_line(case, short_rm, tiny_model, tmp_path):
    import shutil

    data = export_file(tmp_path / "export.jsonl", 4)
    model = tmp_path / "rm"
    if case == "missing":
        expected = f"{model}: no such model folder"
    elif case == "truncated":
        shutil.copytree(short_rm, model)
        weights = model / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:-1000])
        expected = f"{weights}: truncated"
    elif case == "config-not-json":
        shutil.copytree(short_rm, model)
        (model / "config.json").write_text("<html>not found</html>")
        expected = f"{model / 'config.json'}: not JSON"
    else:
        model = Path(tiny_model)
        expected = f"{model / 'config.json'}: architecture LlamaForCausalLM is not a reward model"
    result = run_cli("eval", "--model", str(model), "--data", f"paddock={data}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"paddock.training.reward: {expected}"), lines[0]


def test_train_refuses_a_truncated_base(tiny_model, tmp_path):
    import shutil

    base = tmp_path / "base"
    shutil.copytree(tiny_model, base)
    (base / "model.safetensors").write_bytes((base / "model.safetensors").read_bytes()[:4096])
    data = export_file(tmp_path / "export.jsonl", 4)
    result = run_cli("train", "--model", str(base), "--output", str(tmp_path / "out"),
                     "--data", f"paddock={data}")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert f"{base / 'model.safetensors'}: truncated" in result.stderr
    assert not (tmp_path / "out").exists()  # refused before anything was written
