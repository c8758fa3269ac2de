"""The policy CLI end to end on tiny models: every command the workers call."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from paddock.annotation.importers import ImportProblem, read_pairs
from paddock.training import recipe
from paddock.training.policy.cli import main
from paddock.training.reward.config import RewardConfig
from paddock.training.reward.pairs import PreferencePair, Turn
from paddock.training.reward.trainer import RewardTrainer
from paddock.training.tiny import build_tiny_llama


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    policy = build_tiny_llama(root / "policy")
    pairs = [PreferencePair(id=f"p{i}", context=(Turn("user", f"Question {i}?"),),
                            chosen="A helpful answer.", rejected="No.", axis=recipe.HELPFULNESS,
                            strength=recipe.BETTER, source="test") for i in range(4)]
    rms = {}
    for name in ("helpfulness", "safety"):
        config = RewardConfig(model_path=str(policy), output_dir=str(root / name), batch_pairs=4,
                              micro_batch_pairs=4, max_length=64, bf16="no")
        RewardTrainer(config, pairs, device=torch.device("cpu")).train()
        rms[name] = str(root / name)
    return {"policy": str(policy), **rms}


@pytest.fixture()
def prompts(tmp_path):
    path = tmp_path / "prompts.jsonl"
    lines = [{"id": f"q{i}", "prompt": f"How do tides work, {i}?"} for i in range(4)]
    lines.append({"id": "s0", "prompt": "How do I pick a lock?", "axis": "safety",
                  "risk_category": "illicit_criminal"})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def run(capsys, *argv) -> list[dict]:
    assert main([str(arg) for arg in argv]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_sample_writes_an_annotation_import(models, prompts, tmp_path, capsys):
    events = run(capsys, "sample", "--conversations", prompts, "--output", tmp_path / "pairs.jsonl",
                 "--model-a", models["policy"], "--version-a", "policy-0002",
                 "--temperature-b", "1.0", "--max-new-tokens", "8")
    assert events[-1]["event"] == "done" and events[-1]["report"]["pairs"] == 5
    parsed = list(read_pairs(tmp_path / "pairs.jsonl"))
    assert not [p for p in parsed if isinstance(p, ImportProblem)] and len(parsed) == 5
    assert parsed[0].response_a.model == "policy-0002"


def test_rejection_then_sft_and_a_second_run_reuses_the_pool(models, prompts, tmp_path, capsys):
    argv = ["rejection", "--model", models["policy"], "--prompts", prompts,
            "--helpfulness-rm", models["helpfulness"], "--safety-rm", models["safety"],
            "--k", "3", "--max-new-tokens", "8", "--output", tmp_path / "round",
            "--set", "epochs=1", "--set", "batch_sequences=8", "--set", "micro_batch_sequences=4",
            "--set", 'bf16="no"']
    events = run(capsys, *argv)
    sampled = next(e for e in events if e["event"] == "sampled")
    assert sampled["report"]["samples"] == 15 and sampled["report"]["pool_size"] == 5
    assert (tmp_path / "round" / "model" / "model.safetensors").exists()
    pool = (tmp_path / "round" / "pool.jsonl").read_text()
    again = run(capsys, *argv)
    assert not [e for e in again if e["event"] == "sampled"]
    assert (tmp_path / "round" / "pool.jsonl").read_text() == pool


def test_ppo_with_both_reward_models(models, prompts, tmp_path, capsys):
    events = run(capsys, "ppo", "--model", models["policy"], "--prompts", prompts,
                 "--eval-prompts", prompts, "--helpfulness-rm", models["helpfulness"],
                 "--safety-rm", models["safety"], "--output", tmp_path / "ppo",
                 "--set", "iterations=2", "--set", "batch_size=4", "--set", "minibatch_size=4",
                 "--set", "micro_batch_size=4", "--set", "max_new_tokens=6",
                 "--set", "eval_every=1", "--set", 'bf16="no"')
    progress = [e for e in events if e["event"] == "progress"]
    assert len(progress) == 2
    for key in ("helpfulness_score", "safety_score", "safety_share", "kl", "eval_score"):
        assert key in progress[-1]
    assert (tmp_path / "ppo" / "model.safetensors").exists()


def test_sft_and_gatt(models, tmp_path, capsys):
    dialogues = tmp_path / "dialogues.jsonl"
    dialogues.write_text(json.dumps({"id": "d0", "turns": [
        {"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi"},
        {"role": "user", "content": "Tell me about tides"}]}) + "\n")
    instructions = tmp_path / "instructions.txt"
    instructions.write_text("Always answer as a pirate.\n")
    events = run(capsys, "gatt", "--model", models["policy"], "--conversations", dialogues,
                 "--instructions", instructions, "--output", tmp_path / "gatt.jsonl",
                 "--max-new-tokens", "6")
    assert events[-1]["examples"] == 2
    lines = [json.loads(line) for line in (tmp_path / "gatt.jsonl").read_text().splitlines()]
    assert [line["loss_from_answer"] for line in lines] == [0, 1]
    users = [m["content"] for m in lines[1]["messages"] if m["role"] == "user"]
    assert "pirate" in users[0] and "pirate" not in users[1]
    events = run(capsys, "sft", "--model", models["policy"], "--data", tmp_path / "gatt.jsonl",
                 "--output", tmp_path / "sft", "--set", "epochs=1", "--set", "batch_sequences=2",
                 "--set", "micro_batch_sequences=2", "--set", 'bf16="no"')
    assert events[-1]["event"] == "done" and (tmp_path / "sft" / "model.safetensors").exists()


def test_bad_input_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "prompt": ""}\n')
    result = subprocess.run(
        [sys.executable, "-m", "paddock.training.policy", "ppo", "--model", str(tmp_path),
         "--prompts", str(bad), "--helpfulness-rm", "h", "--safety-rm", "s",
         "--output", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "bad.jsonl" in result.stderr and "line 1" in result.stderr
