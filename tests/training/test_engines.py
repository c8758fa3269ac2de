"""DDP and FSDP on CPU gloo ranks: N ranks learn what one process learns, for the reward
trainer, SFT and PPO, and a sharded checkpoint resumes under another world size.

Every run is a real ``torchrun`` launch (``tests.training.ranks``) on a tiny Llama in fp32;
weights are compared to one process's after several optimizer steps. Each engine runs at
two and at four ranks, each trainer under both engines.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from paddock.training import engines
from paddock.training.distributed import World
from paddock.training.tiny import build_tiny_llama
from tests.training.ranks import launch

pytestmark = pytest.mark.timeout(900)

SETTINGS = {
    "reward": ({"batch_pairs": 8, "micro_batch_pairs": 2, "learning_rate": 1e-3,
                "max_length": 64, "epochs": 2, "bf16": "no"}, 24),
    "sft": ({"batch_sequences": 8, "micro_batch_sequences": 2, "learning_rate": 3e-3,
             "max_length": 64, "epochs": 1, "bf16": "no"}, 24),
    "ppo": ({"iterations": 2, "batch_size": 16, "minibatch_size": 8, "micro_batch_size": 2,
             "learning_rate": 3e-3, "max_new_tokens": 8, "kl_beta": 0.01, "eval_every": 0,
             "bf16": "no"}, 16),
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(build_tiny_llama(tmp_path_factory.mktemp("engines") / "base"))


def spec(kind: str, model: str, output: Path, parallelism: str = "auto", **extra) -> dict:
    settings, count = SETTINGS[kind]
    path_key = "policy_path" if kind == "ppo" else "model_path"
    return {"kind": kind, "count": count, "report": str(output) + ".report.json",
            "config": settings | {path_key: model, "output_dir": str(output),
                                  "parallelism": parallelism}} | extra


def weights(folder: Path) -> dict[str, torch.Tensor]:
    found = load_file(folder / "model.safetensors")
    if (folder / "value" / "value_head.safetensors").exists():  # PPO's value model too
        found |= {f"value.{k}": v for k, v in load_file(folder / "value" / "model.safetensors")
                  .items()}
        found |= {f"value_head.{k}": v for k, v in
                  load_file(folder / "value" / "value_head.safetensors").items()}
    return found


def assert_same_weights(folder: Path, reference: Path) -> None:
    ours, theirs = weights(folder), weights(reference)
    assert ours.keys() == theirs.keys()
    for name, tensor in theirs.items():
        torch.testing.assert_close(ours[name], tensor, atol=2e-5, rtol=1e-4, msg=name)


@pytest.fixture(scope="module")
def one_process(tiny, tmp_path_factory):
    """Each trainer's run in one process: the reference every rank count must reproduce."""
    root = tmp_path_factory.mktemp("one")
    runs = {}
    for kind in SETTINGS:
        report = launch(spec(kind, tiny, root / kind), root / f"{kind}.json", 1)
        assert report["strategy"] == "none" and report["ranks"] == 1
        runs[kind] = (root / kind, report)
    return runs


@pytest.mark.parametrize(("kind", "ranks", "parallelism"), [
    ("reward", 2, "ddp"), ("reward", 4, "fsdp"),
    ("sft", 4, "ddp"), ("sft", 2, "fsdp"),
    ("ppo", 2, "ddp"), ("ppo", 4, "fsdp"),
])
def test_ranks_learn_what_one_process_learns(kind, ranks, parallelism, tiny, one_process,
                                             tmp_path):
    output = tmp_path / "run"
    report = launch(spec(kind, tiny, output, parallelism), tmp_path / "spec.json", ranks)
    folder, single = one_process[kind]
    assert report["strategy"] == parallelism and report["ranks"] == ranks
    assert report["done"] == single["done"] and len(report["losses"]) == single["done"]
    assert report["losses"] == pytest.approx(single["losses"], abs=1e-4)
    assert report["scores"] == pytest.approx(single["scores"], abs=1e-4, nan_ok=True)
    assert_same_weights(output, folder)
    assert not list(output.glob("checkpoint-*"))  # rank 0 cleaned up after the final save


def test_a_sharded_checkpoint_resumes_under_other_world_sizes(tiny, one_process, tmp_path):
    """Four FSDP ranks stop after 2 of 6 steps; the checkpoint holds 4 shards. Two DDP
    ranks, or one process, finish the run with one process's weights."""
    stopped = tmp_path / "stopped"
    report = launch(spec("reward", tiny, stopped, "fsdp", stop_after=2),
                    tmp_path / "spec.json", 4)
    assert report["done"] == 2
    checkpoint = stopped / "checkpoint-2"
    assert sorted(p.name for p in (checkpoint / "model").glob("*.distcp")) == [
        f"__{rank}_0.distcp" for rank in range(4)]
    assert (checkpoint / "trainer_state.pt").exists()
    assert not list(stopped.glob("*.partial"))
    for ranks, parallelism in ((2, "ddp"), (1, "auto")):
        output = tmp_path / f"resumed-{ranks}"
        shutil.copytree(stopped, output)
        launch(spec("reward", tiny, output, parallelism), tmp_path / "spec.json", ranks)
        assert_same_weights(output, one_process["reward"][0])


def test_ppo_resumes_a_two_rank_fsdp_checkpoint_in_one_process(tiny, one_process, tmp_path):
    output = tmp_path / "ppo"
    report = launch(spec("ppo", tiny, output, "fsdp", stop_after=1), tmp_path / "spec.json", 2)
    assert report["done"] == 1 and (output / "checkpoint-1" / "policy" / ".metadata").exists()
    launch(spec("ppo", tiny, output), tmp_path / "spec.json", 1)
    assert_same_weights(output, one_process["ppo"][0])


# --------------------------------------------------------------------------- choices


def test_auto_is_one_process_alone_and_ddp_on_cpu_ranks():
    model = torch.nn.Linear(4, 4)
    assert engines.choose_strategy("auto", model, World(), torch.device("cpu")) == "none"
    assert engines.choose_strategy("fsdp", model, World(), torch.device("cpu")) == "none"
    assert engines.choose_strategy("auto", model, World(0, 2), torch.device("cpu")) == "ddp"
    assert engines.choose_strategy("fsdp", model, World(0, 2), torch.device("cpu")) == "fsdp"


def test_auto_shards_what_does_not_fit_a_gpu(monkeypatch):
    model = torch.nn.Linear(1000, 1000)  # ~1M trained parameters: 16 MB of training state
    gpu = torch.device("cuda", 0)
    monkeypatch.setattr(engines, "gpu_memory_bytes", lambda device: 40 * 1024 ** 2)
    assert engines.choose_strategy("auto", model, World(0, 4), gpu) == "ddp"
    monkeypatch.setattr(engines, "gpu_memory_bytes", lambda device: 20 * 1024 ** 2)
    assert engines.choose_strategy("auto", model, World(0, 4), gpu) == "fsdp"
    # PPO counts what sits beside the policy: a value model as large, and a reference.
    monkeypatch.setattr(engines, "gpu_memory_bytes", lambda device: 40 * 1024 ** 2)
    assert engines.choose_strategy("auto", model, World(0, 4), gpu,
                                   extra_bytes=20 * 1024 ** 2) == "fsdp"


def test_bad_settings_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="parallelism 'zero3' is not one of auto, none"):
        engines.check_parallelism("zero3")
    with pytest.raises(ValueError, match="'fsdp' with LoRA"):
        engines.check_parallelism("fsdp", lora=True)
    with pytest.raises(ValueError, match="every rank would train its own copy"):
        engines.choose_strategy("none", torch.nn.Linear(2, 2), World(0, 2),
                                torch.device("cpu"))


def test_the_memory_plan_for_7b():
    """The README's table: a 7B policy trained in full is 112 GB of weights, gradients
    and AdamW state, 14 GB a GPU over 8 FSDP ranks (plus two gathered blocks)."""
    plan = engines.MemoryPlan("fsdp", 8, trained_parameters=7_000_000_000,
                              frozen_parameters=0, largest_block_parameters=202_000_000)
    assert plan.bytes_per_gpu == 7_000_000_000 * 16 // 8 + 202_000_000 * 4
    ddp = engines.MemoryPlan("ddp", 8, 7_000_000_000, 0, 202_000_000)
    assert ddp.gib_per_gpu == pytest.approx(104.31, abs=0.01)


def test_lockstep_shares_pad_short_ranks_with_weightless_passes():
    items = list(range(5))
    shares = [World(rank, 4).lockstep_share(items) for rank in range(4)]
    assert [len(share) for share in shares] == [2, 2, 2, 2]
    real = sorted(item for share in shares for item, counted in share if counted)
    assert real == items
    assert shares[3] == [(3, True), (0, False)]
    assert World().lockstep_share(items) == [(item, True) for item in items]
