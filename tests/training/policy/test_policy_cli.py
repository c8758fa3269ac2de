"""The policy CLI end to end on tiny models: every command the workers call."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from paddock.annotation.importers import ImportProblem, read_pairs
from paddock.kernel import vocabulary
from paddock.training import recipe
from paddock.training.policy.cli import main
from paddock.training.reward.config import RewardConfig
from paddock.training.reward.pairs import PreferencePair, Turn
from paddock.training.reward.trainer import RewardTrainer
from paddock.training.tiny import build_tiny_llama
from tests.support.cli_runs import frozen_at_first_progress, stop_with_sigterm


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    policy = build_tiny_llama(root / "policy")
    pairs = [PreferencePair(id=f"p{i}", context=(Turn("user", f"Question {i}?"),),
                            chosen="A helpful answer.", rejected="No.", axis=vocabulary.HELPFULNESS,
                            strength=vocabulary.BETTER, source="test") for i in range(4)]
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
    assert [e["step"] for e in events if e["event"] == "sampling"][-1] == 5
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
    progress = [e for e in events if e["event"] == "sampling"]  # the run page's progress
    assert progress and progress[-1]["step"] == progress[-1]["total_steps"] == 15
    assert [e["step"] for e in progress] == sorted(e["step"] for e in progress)
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


# --- rejection temperature, held-out prompts ------------------------------------------------


def test_rejection_temperature_is_a_parameter_recorded_with_the_round(models, prompts, tmp_path,
                                                                     capsys):
    from paddock.training.policy.cli import build_parser

    assert build_parser().parse_args(
        ["rejection", "--model", "m", "--prompts", "p", "--helpfulness-rm", "h",
         "--safety-rm", "s", "--output", "o"]).temperature == recipe.REJECTION_TEMPERATURE == 1.2
    common = ["rejection", "--model", models["policy"], "--prompts", prompts,
              "--helpfulness-rm", models["helpfulness"], "--safety-rm", models["safety"],
              "--k", "2", "--max-new-tokens", "6"]
    default = run(capsys, *common, "--no-sft", "--output", tmp_path / "default")
    assert default[-1]["sampling"]["temperature"] == 1.2
    hot = run(capsys, *common, "--temperature", "0.7", "--output", tmp_path / "cool",
              "--set", "epochs=1", "--set", "batch_sequences=4", "--set",
              "micro_batch_sequences=4", "--set", 'bf16="no"')
    sampled = next(e for e in hot if e["event"] == "sampled")
    assert sampled["temperature"] == 0.7 and sampled["report"]["temperature"] == 0.7
    report = json.loads((tmp_path / "cool" / "rejection_report.json").read_text())
    assert report["temperature"] == 0.7 and report["k"] == 2
    assert hot[-1]["metrics"]["sampling"]["temperature"] == 0.7
    saved = json.loads((tmp_path / "cool" / "model" / "sft_config.json").read_text())
    assert saved["extra"]["rejection_sampling"]["temperature"] == 0.7


def ppo_argv(models, prompts, output, *settings: str) -> list:
    argv = ["ppo", "--model", models["policy"], "--prompts", prompts,
            "--helpfulness-rm", models["helpfulness"], "--safety-rm", models["safety"],
            "--output", output, "--set", "batch_size=4", "--set", "minibatch_size=4",
            "--set", "micro_batch_size=4", "--set", "max_new_tokens=6", "--set", 'bf16="no"']
    for setting in settings:
        argv += ["--set", setting]
    return argv


def test_ppo_evaluates_held_out_prompts_and_stops_early(models, prompts, tmp_path, capsys):
    held_out = tmp_path / "held_out.jsonl"
    held_out.write_text("".join(json.dumps({"id": f"h{i}", "prompt": f"Why is the sea salty, {i}?"})
                                + "\n" for i in range(3)))
    events = run(capsys, *ppo_argv(models, prompts, tmp_path / "every-2", "iterations=4",
                                   "eval_every=2"), "--eval-prompts", held_out)
    done = events[-1]
    assert done["event"] == "done" and done["metrics"]["best_eval_score"] is not None
    evaluated = [e["iteration"] for e in events if "eval_score" in e]
    assert evaluated == [2, 4]
    assert json.loads((tmp_path / "every-2" / "best" / "best.json").read_text())[
        "eval_score"] == pytest.approx(done["metrics"]["best_eval_score"], abs=1e-4)

    # A policy that cannot move (learning rate 0) never beats its first held-out score:
    # with patience 2 the run stops after three evaluations, long before 20 iterations.
    events = run(capsys, *ppo_argv(models, prompts, tmp_path / "stuck", "iterations=20",
                                   "eval_every=1", "patience=2", "learning_rate=0.0"),
                 "--eval-prompts", held_out)
    done = events[-1]
    assert done["metrics"]["stopped_early"] and done["metrics"]["iterations"] == 3
    scores = [e["eval_score"] for e in events if "eval_score" in e]
    assert len(scores) == 3 and len(set(scores)) == 1
    assert done["metrics"]["best_eval_score"] == pytest.approx(scores[0], abs=1e-4)


def test_eval_prompts_need_eval_every(models, prompts, tmp_path, capsys):
    from paddock.training.policy.cli import main as cli

    assert cli([str(a) for a in ppo_argv(models, prompts, tmp_path / "x", "eval_every=0")]
               + ["--eval-prompts", str(prompts)]) == 2
    assert "eval_every" in capsys.readouterr().err


# --- resumable runs: SIGTERM, lock ----------------------------------------------------------


ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def cli_process(*argv) -> list:
    return [sys.executable, "-m", "paddock.training.policy", *map(str, argv)]


def interrupt_then_resume(argv: list, output: Path, counter: str, total: int):
    """Run, freeze at the first progress line, SIGTERM, check the stop, then rerun."""
    with frozen_at_first_progress(cli_process(*argv), env=ENV) as (first, seen):
        rest, errors = stop_with_sigterm(first, timeout=300)
    assert first.returncode == 143, errors[-3000:]
    assert "Traceback" not in errors
    events = seen + [json.loads(line) for line in rest.splitlines()]
    done_before = [e[counter] for e in events if e["event"] == "progress"]
    stopped = events[-1]
    assert stopped["event"] == "stopped" and stopped["reason"] == "SIGTERM"
    assert stopped[counter] == done_before[-1] < total
    assert stopped["checkpoint"] == str(output / f"checkpoint-{done_before[-1]}")
    assert Path(stopped["checkpoint"], "trainer_state.pt").exists()

    resumed = subprocess.run(cli_process(*argv), env=ENV, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    again = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert [e[counter] for e in again if e["event"] == "progress"] == list(
        range(done_before[-1] + 1, total + 1))
    assert again[-1]["event"] == "done"
    assert not list(output.glob("checkpoint-*")) and (output / "model.safetensors").exists()
    return again[-1]


@pytest.fixture(scope="module")
def sft_data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sft") / "sft.jsonl"
    path.write_text("".join(json.dumps({"id": f"e{i}", "messages": [
        {"role": "user", "content": f"How do tides work, {i}?"},
        {"role": "assistant", "content": "The moon pulls the water."}]}) + "\n"
        for i in range(160)))
    return path


def test_sft_stops_on_sigterm_with_a_checkpoint_and_resumes(models, sft_data, tmp_path):
    out = tmp_path / "sft"
    done = interrupt_then_resume(
        ["sft", "--model", models["policy"], "--data", sft_data, "--output", out,
         "--set", "epochs=1", "--set", "batch_sequences=2", "--set", "micro_batch_sequences=2",
         "--set", 'bf16="no"'], out, "step", 80)
    assert done["metrics"]["steps"] == 80
    assert json.loads((out / "sft_config.json").read_text())["save_every_steps"] == 50


def test_ppo_stops_on_sigterm_with_a_checkpoint_and_resumes(models, prompts, tmp_path):
    out = tmp_path / "ppo"
    done = interrupt_then_resume(ppo_argv(models, prompts, out, "iterations=30", "eval_every=0"),
                                 out, "iteration", 30)
    assert done["metrics"]["iterations"] == 30
    assert json.loads((out / "ppo_config.json").read_text())["save_every_iterations"] == 5


@pytest.mark.parametrize("command", ["sft", "rejection", "ppo"])
def test_a_second_run_on_a_locked_output_folder_is_refused(command, models, prompts, sft_data,
                                                          tmp_path):
    from paddock.training.run_guard import LOCK_FILE, FolderLock

    out = tmp_path / "out"
    argv = {
        "sft": ["sft", "--model", models["policy"], "--data", sft_data, "--output", out],
        "rejection": ["rejection", "--model", models["policy"], "--prompts", prompts,
                      "--helpfulness-rm", models["helpfulness"], "--safety-rm",
                      models["safety"], "--output", out],
        "ppo": ppo_argv(models, prompts, out),
    }[command]
    with FolderLock(out):  # another run (this test's process) holds the folder
        refused = subprocess.run(cli_process(*argv), env=ENV, capture_output=True, text=True,
                                 timeout=300)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"paddock.training.policy: output folder {out} is in use by another run "
        f"(pid {os.getpid()}, lock file {out / LOCK_FILE})"]
    assert refused.stdout == "" and sorted(p.name for p in out.iterdir()) == []


# --- model folders: one line, no traceback ---------------------------------------------------


@pytest.fixture(scope="module")
def broken(models, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("broken")
    truncated = shutil.copytree(models["policy"], root / "truncated")
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])
    not_json = shutil.copytree(models["policy"], root / "not-json")
    (not_json / "config.json").write_text('{"model_type": "llama",')
    return {"missing": root / "missing", "truncated": truncated, "not-json": not_json}


@pytest.mark.parametrize("case", ["missing-policy", "truncated-policy", "config-not-json",
                                  "reward-model-as-policy", "policy-as-reward-model",
                                  "truncated-reward-model"])
def test_a_bad_model_folder_fails_in_one_line(case, models, prompts, sft_data, broken, tmp_path):
    policy, rm = models["policy"], models["helpfulness"]
    if case == "missing-policy":
        policy, expected = broken["missing"], f"{broken['missing']}: no such model folder"
    elif case == "truncated-policy":
        policy = broken["truncated"]
        expected = f"{broken['truncated'] / 'model.safetensors'}: truncated"
    elif case == "config-not-json":
        policy = broken["not-json"]
        expected = f"{broken['not-json'] / 'config.json'}: not JSON"
    elif case == "reward-model-as-policy":
        policy = rm
        expected = (f"{Path(rm) / 'config.json'}: a reward model "
                    "(LlamaForSequenceClassification), not a causal language model")
    elif case == "policy-as-reward-model":
        rm = policy
        expected = f"{Path(policy) / 'config.json'}: architecture LlamaForCausalLM is not a reward"
    else:
        rm = shutil.copytree(models["helpfulness"], tmp_path / "rm")
        (rm / "model.safetensors").write_bytes((rm / "model.safetensors").read_bytes()[:-64])
        expected = f"{rm / 'model.safetensors'}: truncated"
    argv = {"sft": ["sft", "--model", policy, "--data", sft_data, "--output", tmp_path / "o"],
            "ppo": ["ppo", "--model", policy, "--prompts", prompts, "--helpfulness-rm", rm,
                    "--safety-rm", models["safety"], "--output", tmp_path / "o"],
            "rejection": ["rejection", "--model", policy, "--prompts", prompts,
                          "--helpfulness-rm", rm, "--safety-rm", models["safety"],
                          "--output", tmp_path / "o"]}
    command = {"missing-policy": "sft", "truncated-policy": "ppo", "config-not-json": "rejection",
               "reward-model-as-policy": "sft", "policy-as-reward-model": "ppo",
               "truncated-reward-model": "rejection"}[case]
    result = subprocess.run(cli_process(*argv[command]), env=ENV, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert lines[0].startswith(f"paddock.training.policy: {expected}"), lines[0]


@pytest.mark.timeout(600)
def test_rejection_under_torchrun_samples_once_and_trains_on_every_rank(models, prompts,
                                                                        tmp_path):
    """Two gloo ranks: rank 0 samples the pool (one "sampled" line, one pool), both train
    its SFT under DDP, and the model is the one process's."""
    argv = ["rejection", "--model", models["policy"], "--prompts", prompts,
            "--helpfulness-rm", models["helpfulness"], "--safety-rm", models["safety"],
            "--k", "3", "--max-new-tokens", "8", "--set", "epochs=1",
            "--set", "batch_sequences=4", "--set", "micro_batch_sequences=2",
            "--set", 'bf16="no"']
    outputs = {}
    for ranks in (1, 2):
        launcher = [sys.executable] if ranks == 1 else [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            "--nproc_per_node", "2"]
        output = tmp_path / f"ranks-{ranks}"
        done = subprocess.run([*launcher, "-m", "paddock.training.policy", *map(str, argv),
                               "--output", str(output)],
                              env=ENV, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        assert [e["event"] for e in events].count("sampled") == 1
        assert [e["event"] for e in events].count("done") == 1
        outputs[ranks] = (output, events[-1])
    assert outputs[2][1]["metrics"]["ranks"] == 2
    assert (outputs[1][0] / "pool.jsonl").read_text() == (outputs[2][0] / "pool.jsonl").read_text()
    one = load_file(outputs[1][0] / "model" / "model.safetensors")
    two = load_file(outputs[2][0] / "model" / "model.safetensors")
    for name, tensor in one.items():
        torch.testing.assert_close(two[name], tensor, atol=2e-5, rtol=1e-4, msg=name)
