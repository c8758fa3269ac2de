"""The reward trainer under torchrun: two CPU ranks (gloo) learn the same model as one
process, so a machine's GPUs can share a step without changing its result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from paddock.training.tiny import build_tiny_llama
from tests.training.test_reward_cli import ROOT, export_file

ARGS = ["--rm", "none", "--set", "batch_pairs=8", "--set", "micro_batch_pairs=2",
        "--set", "learning_rate=0.001", "--set", "max_length=64", "--set", "epochs=2",
        "--set", 'bf16="no"', "--set", "save_every_steps=2"]


def train(launcher: list[str], model: str, data: Path, output: Path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [*launcher, "-m", "paddock.training.reward", "train", "--model", model,
         "--output", str(output), "--data", f"paddock={data}", *ARGS],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


@pytest.mark.timeout(600)
def test_two_ranks_learn_what_one_process_learns(tmp_path):
    model = str(build_tiny_llama(tmp_path / "base"))
    data = export_file(tmp_path / "export.jsonl", 24)
    single = train([sys.executable], model, data, tmp_path / "one")
    ranks = train([sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc_per_node", "2"], model, data, tmp_path / "two")

    # One "done" and one progress line per step, from rank 0 only.
    assert [e["event"] for e in ranks].count("done") == 1
    assert [e["step"] for e in ranks if e["event"] == "progress"] == [
        e["step"] for e in single if e["event"] == "progress"]
    for one, two in zip([e for e in single if e["event"] == "progress"],
                        [e for e in ranks if e["event"] == "progress"], strict=True):
        assert one["loss"] == pytest.approx(two["loss"], abs=1e-4)
    first = load_file(tmp_path / "one" / "model.safetensors")
    second = load_file(tmp_path / "two" / "model.safetensors")
    assert first.keys() == second.keys()
    for name, tensor in first.items():
        torch.testing.assert_close(second[name], tensor, atol=2e-5, rtol=1e-4, msg=name)
    assert not list((tmp_path / "two").glob("checkpoint-*"))  # rank 0 cleaned up
