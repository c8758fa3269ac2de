"""The shared run guard of the training CLIs (folder lock, SIGTERM) and the model-folder
check their loaders run before loading anything."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from paddock.training import run_guard
from paddock.training.checkpoints import (
    ANY_MODEL,
    CAUSAL_LM,
    REWARD_MODEL,
    CheckpointError,
    check_model_folder,
)
from paddock.training.tiny import build_tiny_llama


def test_a_second_lock_on_the_folder_is_refused_with_the_holders_pid(tmp_path):
    first = run_guard.FolderLock(tmp_path / "run")
    first.acquire()
    assert (tmp_path / "run" / run_guard.LOCK_FILE).read_text().strip() == str(os.getpid())
    with pytest.raises(run_guard.FolderLocked) as refused:
        run_guard.FolderLock(tmp_path / "run").acquire()
    assert str(tmp_path / "run") in str(refused.value)
    assert f"pid {os.getpid()}" in str(refused.value)
    first.release()
    assert not (tmp_path / "run" / run_guard.LOCK_FILE).exists()  # a clean exit leaves none
    with run_guard.FolderLock(tmp_path / "run"):  # free again
        pass


def test_the_lock_is_held_across_processes_and_dies_with_its_holder(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from paddock.training.run_guard import FolderLock; "
         f"FolderLock({str(tmp_path)!r}).acquire(); print('locked', flush=True); "
         "time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(run_guard.FolderLocked, match=f"pid {holder.pid}"):
            run_guard.FolderLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    with run_guard.FolderLock(tmp_path):  # killed: the kernel dropped its lock
        pass


def test_sigterm_becomes_a_stop_request_and_the_handler_is_restored(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    with run_guard.RunGuard(tmp_path / "out") as guard:
        assert not guard.should_stop()
        os.kill(os.getpid(), signal.SIGTERM)
        assert guard.should_stop() and guard.stop_reason == "SIGTERM"
        assert guard.exit_status == 143
        assert guard.stopped_event("x/checkpoint-3") == {
            "event": "stopped", "reason": "SIGTERM", "checkpoint": "x/checkpoint-3"}
        # a second signal is not swallowed: the handler before the guard is back
        assert signal.getsignal(signal.SIGTERM) == before
    assert signal.getsignal(signal.SIGTERM) == before


def test_cli_checkpoint_schedule_defaults_only_where_unset():
    assert run_guard.default_save_every({}, "save_every_steps", 50) == {"save_every_steps": 50}
    assert run_guard.default_save_every({"save_every_steps": 0}, "save_every_steps", 50) == {
        "save_every_steps": 0}


# --- model folders -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A policy, a reward model (sequence-classification head) and broken copies."""
    import torch
    from transformers import AutoModelForSequenceClassification

    root = tmp_path_factory.mktemp("folders")
    policy = build_tiny_llama(root / "policy")
    torch.manual_seed(0)
    reward = AutoModelForSequenceClassification.from_pretrained(policy, num_labels=1)
    reward.save_pretrained(root / "reward")
    return root


def broken_copy(folders, name: str, source: str = "policy"):
    target = folders / name
    if not target.exists():
        shutil.copytree(folders / source, target)
    return target


def test_good_folders_pass(folders):
    assert check_model_folder(folders / "policy", CAUSAL_LM) == folders / "policy"
    check_model_folder(folders / "policy", ANY_MODEL)
    check_model_folder(folders / "reward", REWARD_MODEL)


def test_missing_folder_and_files(folders, tmp_path):
    with pytest.raises(CheckpointError, match="no such model folder"):
        check_model_folder(tmp_path / "nope", CAUSAL_LM)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"empty/config.json: missing"):
        check_model_folder(tmp_path / "empty")
    no_weights = broken_copy(folders, "no-weights")
    (no_weights / "model.safetensors").unlink(missing_ok=True)
    with pytest.raises(CheckpointError, match="no weights"):
        check_model_folder(no_weights, CAUSAL_LM)


def test_truncated_weights(folders):
    cut = broken_copy(folders, "cut")
    weights = cut / "model.safetensors"
    data = (folders / "policy" / "model.safetensors").read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut/model.safetensors: truncated"):
        check_model_folder(cut, CAUSAL_LM)
    weights.write_bytes(data[:5])
    with pytest.raises(CheckpointError, match=r"model.safetensors: truncated"):
        check_model_folder(cut, CAUSAL_LM)
    weights.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"not json at all!" + data[100:])
    with pytest.raises(CheckpointError, match=r"model.safetensors: corrupt"):
        check_model_folder(cut, CAUSAL_LM)


def test_config_that_is_not_json(folders):
    bad = broken_copy(folders, "bad-config")
    (bad / "config.json").write_text('{"architectures": ["LlamaForCausalLM"],')
    with pytest.raises(CheckpointError, match=r"bad-config/config.json: not JSON"):
        check_model_folder(bad, CAUSAL_LM)
    bad_tokenizer = broken_copy(folders, "bad-tokenizer")
    (bad_tokenizer / "tokenizer.json").write_text("")
    with pytest.raises(CheckpointError, match=r"tokenizer.json: not JSON"):
        check_model_folder(bad_tokenizer, CAUSAL_LM)


def test_wrong_architecture_either_way(folders):
    with pytest.raises(CheckpointError, match=r"a reward model .*LlamaForSequenceClassification"
                                              r".*not a causal language model"):
        check_model_folder(folders / "reward", CAUSAL_LM)
    with pytest.raises(CheckpointError, match="LlamaForCausalLM is not a reward model"):
        check_model_folder(folders / "policy", REWARD_MODEL)
    two_labels = broken_copy(folders, "two-labels", source="reward")
    config = json.loads((two_labels / "config.json").read_text())
    config["id2label"] = {"0": "a", "1": "b"}
    (two_labels / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="2 labels"):
        check_model_folder(two_labels, REWARD_MODEL)
