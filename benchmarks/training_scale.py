"""Training past one process: N ranks under DDP or FSDP2 against one process, and GPU speed.

CPU part (always): a small random Llama (hidden 128, 4 layers; ``--quick``: the tiny
default, 2 layers of 64) is trained as a reward model on synthetic pairs in the
platform's export format through the public CLI (``python -m paddock.training.reward
train``), once in one process and then under ``torchrun`` with gloo ranks: 2 and 4 ranks,
each under DDP and FSDP (``--quick``: 2 ranks only). Every run has the same seed, batch
and schedule in fp32, so N ranks must end with one process's weights up to the order of
float sums; the figures give each run's largest absolute weight difference from the
one-process run and whether all are within the stated tolerance, with wall seconds and
pairs/s (the CLI's own figure, which leaves out start-up). The pairs/s depend on the
machine and its load: on a 2-core machine 4 ranks oversubscribe the cores (every rank
runs with OMP_NUM_THREADS=1), so they show correctness and the engines' overhead, not a
speed-up.

GPU part (only where CUDA is available): a 1B-class Llama built from a config
(``benchmarks.reward_model_gpu.LLAMA_1B``; ``--quick``: a small one) trains as a reward
model and with SFT in bf16 with gradient checkpointing, under torchrun on every visible
GPU (one GPU: no engine; two or more: DDP and FSDP each). Figures: training tokens/s
(reward model: pairs x 2 sides x tokens per side; SFT: sequence tokens), peak allocated
GPU memory and MFU = 6 x parameters x tokens/s / (the GPU's dense bf16 peak x GPUs).
They depend on the GPU model and count, the sequence length and the micro batch.

Both parts close with a table of training-state memory per GPU (``engines.MemoryPlan``:
weights, gradients and AdamW state, no activations) for 1B and 7B models.

    python -m benchmarks.training_scale [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-4  # max |weight difference| from the one-process run
CPU_SHAPE = {"hidden_size": 128, "layers": 4, "heads": 4, "intermediate_size": 512}
QUICK_CPU_SHAPE = {"hidden_size": 64, "layers": 2, "heads": 4, "intermediate_size": 256}
CPU_SETTINGS = {"batch_pairs": 16, "micro_batch_pairs": 2, "max_length": 128, "epochs": 1,
                "learning_rate": 1e-3, "seed": 0, "bf16": "no"}
CPU_RUNS = ((1, "none"), (2, "ddp"), (2, "fsdp"), (4, "ddp"), (4, "fsdp"))
QUICK_CPU_RUNS = CPU_RUNS[:3]
CPU_STEPS, QUICK_CPU_STEPS = 8, 3
QUICK_GPU_SHAPE = {"hidden_size": 256, "layers": 2, "heads": 4, "intermediate_size": 1024}
# Dense bf16 peaks (no sparsity), matched in order against torch.cuda.get_device_name().
GPU_PEAK_FLOPS = (("H100 PCIe", 756e12), ("H100 SXM", 989e12), ("H100 80GB HBM3", 989e12),
                  ("H200", 989e12), ("A100", 312e12))
# Llama-2-7B: 6.74e9 parameters, 202e6 in each decoder block.
PLAN_MODELS = {"1B": (1_100_000_000, None), "7B": (6_740_000_000, 202_000_000)}
PLAN_GPUS = 8


# --------------------------------------------------------------------------- CPU part


def export_file(path: Path, count: int) -> Path:
    """``count`` preference records in the platform's export format (the fields of
    ``paddock.annotation.services.export``), with responses of varied length."""
    strengths = ["significantly_better", "better", "slightly_better"]
    lines = []
    for i in range(count):
        safety = i % 4 == 0
        lines.append(json.dumps({
            "id": i, "comparison_id": i, "batch": "bench-1", "split": "train",
            "axis": "safety" if safety else "helpfulness", "risk_category": None,
            "origin": "annotator",
            "conversation": [{"role": "user",
                              "content": f"Question {i}: why does the tide rise twice a day?"}],
            "chosen": f"A careful, complete answer {i}." + " The moon pulls the water." * (i % 7),
            "rejected": f"Whatever {i}." + " No idea." * (i % 3),
            "chosen_model": "policy-v2", "rejected_model": "policy-v1",
            "strength": strengths[i % 3], "margin_small": 0, "margin_large": 0,
            "chosen_safe": True if safety else None, "rejected_safe": False if safety else None,
            "safety_bin": "chosen_safe" if safety else None, "annotator": "a1",
            "is_gold": False,
        }))
    path.write_text("\n".join(lines) + "\n")
    return path


def launcher(ranks: int) -> list[str]:
    """One process, or torchrun starting ``ranks`` local processes."""
    if ranks == 1:
        return [sys.executable]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            "--nproc_per_node", str(ranks)]


def run_reward_cli(ranks: int, parallelism: str, model: Path, data: Path, output: Path,
                   settings: dict) -> dict:
    """Train through the reward CLI; wall seconds, pairs/s and the "done" event."""
    overrides = [item for key, value in (settings | {"parallelism": parallelism}).items()
                 for item in ("--set", f"{key}={json.dumps(value)}")]
    command = [*launcher(ranks), "-m", "paddock.training.reward", "train",
               "--model", str(model), "--output", str(output), "--data", f"paddock={data}",
               "--rm", "none", *overrides]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"benchmarks.training_scale: {ranks} rank(s), {parallelism}: "
                         f"exit {done.returncode}\n{done.stderr[-4000:]}")
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    progress = [e for e in events if e["event"] == "progress"]
    finished = [e for e in events if e["event"] == "done"]
    if len(finished) != 1 or not progress:
        raise SystemExit(f"benchmarks.training_scale: {ranks} rank(s), {parallelism}: "
                         f"expected progress and one done event, got {done.stdout[-2000:]}")
    return {"seconds": seconds, "pairs_per_second": progress[-1]["pairs_per_second"],
            "steps": len(progress), "metrics": finished[0]["metrics"]}


def max_abs_diff(folder: Path, reference: Path) -> float:
    """Largest |difference| over every tensor of two runs' ``model.safetensors``."""
    from safetensors.torch import load_file

    ours = load_file(folder / "model.safetensors")
    theirs = load_file(reference / "model.safetensors")
    if ours.keys() != theirs.keys():
        raise SystemExit(f"benchmarks.training_scale: {folder} and {reference} hold "
                         f"different tensors: {sorted(ours.keys() ^ theirs.keys())[:5]}")
    return max((ours[k].float() - theirs[k].float()).abs().max().item() for k in theirs)


def max_abs_update(trained: Path, base: Path) -> float | None:
    """How far training moved the weights the base and the reward model share (so a
    difference within the tolerance means something); None when they share none."""
    from safetensors.torch import load_file

    after, before = load_file(trained / "model.safetensors"), load_file(base / "model.safetensors")
    shared = [k for k in after if k in before and after[k].shape == before[k].shape]
    if not shared:
        return None
    return max((after[k].float() - before[k].float()).abs().max().item() for k in shared)


def parameter_count(folder: Path) -> int:
    """Parameters in a saved ``model.safetensors`` (read from the header)."""
    from safetensors import safe_open

    total = 0
    with safe_open(folder / "model.safetensors", framework="pt") as handle:
        for key in handle.keys():
            count = 1
            for size in handle.get_slice(key).get_shape():
                count *= size
            total += count
    return total


def cpu_part(quick: bool, work: Path) -> dict:
    """The reward CLI on 1 process and on 2 (and 4) gloo ranks under DDP and FSDP."""
    from paddock.training.tiny import build_tiny_llama

    shape = QUICK_CPU_SHAPE if quick else CPU_SHAPE
    steps = QUICK_CPU_STEPS if quick else CPU_STEPS
    base = build_tiny_llama(work / "cpu-base", **shape)
    data = export_file(work / "export.jsonl", CPU_SETTINGS["batch_pairs"] * steps)
    load_before = os.getloadavg()
    runs, reference = [], None
    for ranks, parallelism in QUICK_CPU_RUNS if quick else CPU_RUNS:
        output = work / f"cpu-{ranks}-{parallelism}"
        result = run_reward_cli(ranks, parallelism, base, data, output, CPU_SETTINGS)
        if result["metrics"]["parallelism"] != parallelism or result["metrics"]["ranks"] != ranks:
            raise SystemExit(f"benchmarks.training_scale: asked for {ranks} x {parallelism}, "
                             f"the trainer ran {result['metrics']}")
        reference = reference or output
        runs.append({"ranks": ranks, "parallelism": parallelism,
                     "pairs_per_second": result["pairs_per_second"],
                     "seconds": round(result["seconds"], 1), "steps": result["steps"],
                     "final_loss": round(result["metrics"]["final_loss"], 6),
                     "max_abs_diff": max_abs_diff(output, reference)})
    return {
        "cpu_ranks_identical": all(run["max_abs_diff"] <= TOLERANCE for run in runs),
        "cpu_tolerance_max_abs_diff": TOLERANCE,
        "cpu_runs": runs,
        "cpu_model_parameters": parameter_count(reference),
        "cpu_model": "random Llama from a config, reward head, " + ", ".join(
            f"{k} {v}" for k, v in shape.items()),
        "cpu_settings": CPU_SETTINGS | {"pairs": CPU_SETTINGS["batch_pairs"] * steps,
                                        "omp_num_threads": 1},
        "cpu_max_abs_update_one_process": max_abs_update(reference, base),
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_note": (f"max_abs_diff: largest |weight difference| from the 1-process run after "
                     f"every step, tolerance {TOLERANCE}. pairs_per_second is the CLI's last "
                     "progress figure (start-up excluded), seconds the whole command. Each "
                     f"rank has one thread; on {os.cpu_count()} cores more ranks than cores "
                     "oversubscribe the machine, so pairs/s here is about correctness and "
                     "overhead, not speed-up."),
    }


# --------------------------------------------------------------------------- GPU part


def peak_flops(name: str) -> float | None:
    """The GPU's dense bf16 peak from :data:`GPU_PEAK_FLOPS`, or None if unknown."""
    for fragment, flops in GPU_PEAK_FLOPS:
        if fragment.lower() in name.lower():
            return flops
    return None


def sft_examples(count: int, words: int):
    """Conversations whose answers are long enough to be cut to any ``max_length``."""
    from paddock.training.policy.sft import SFTExample

    text = " ".join(["the tide rises and falls with the moon"] * (words // 9 + 1))
    return [SFTExample([{"role": "user", "content": f"Tell me about tides ({i})."},
                        {"role": "assistant", "content": f"{i} {text}"}], id=f"ex-{i}")
            for i in range(count)]


def build_trainer(spec: dict, world_size: int):
    """The spec's trainer (reward or sft) on synthetic data long enough to fill every
    row to ``max_length``; (trainer, training tokens per optimizer step)."""
    from benchmarks.reward_model_gpu import synthetic_pairs

    length, micro = spec["length"], spec["micro_batch"]
    batch = micro * world_size  # one micro batch per rank per step
    count = batch * (spec["warmup_steps"] + spec["steps"] + 2)  # never reaches the end
    common = {"output_dir": spec["output"], "model_path": spec["model"], "max_length": length,
              "bf16": "yes", "gradient_checkpointing": "yes", "learning_rate": 1e-5,
              "parallelism": spec["parallelism"], "seed": 0}
    if spec["kind"] == "reward":
        from paddock.training.reward.config import RewardConfig
        from paddock.training.reward.trainer import RewardTrainer

        config = RewardConfig(**common, batch_pairs=batch, micro_batch_pairs=micro)
        trainer = RewardTrainer(config, synthetic_pairs(count, length))
        sides = [len(p.chosen.input_ids) + len(p.rejected.input_ids) for p in trainer.encoded]
        return trainer, batch * sum(sides) / len(sides)
    from paddock.training.policy.sft import SFTConfig, SFTTrainer

    config = SFTConfig(**common, batch_sequences=batch, micro_batch_sequences=micro)
    trainer = SFTTrainer(config, sft_examples(count, length))
    lengths = [example.length for example in trainer.encoded]
    return trainer, batch * sum(lengths) / len(lengths)


def gpu_worker(spec_path: str) -> None:
    """One rank of a GPU run (started by torchrun): warm up, time ``steps`` optimizer
    steps, and on rank 0 write tokens/s, peak memory and parameters to the report."""
    import torch

    from paddock.training import distributed, engines

    spec = json.loads(Path(spec_path).read_text())
    cuda = torch.cuda.is_available()
    trainer, tokens_per_step = build_trainer(spec, distributed.world().world_size)
    world = trainer.world
    trainer.train(stop_after_steps=spec["warmup_steps"], checkpoint_on_stop=False)
    if cuda:
        torch.cuda.synchronize()
    distributed.barrier(world)
    started = time.perf_counter()
    trainer.train(stop_after_steps=spec["steps"], checkpoint_on_stop=False)
    if cuda:
        torch.cuda.synchronize()
    distributed.barrier(world)
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() if cuda else None
    peaks = distributed.gather_objects(peak, world)
    trained, frozen = engines.count_parameters(engines.unwrap(trainer.model))
    if world.is_main:
        Path(spec["report"]).write_text(json.dumps({
            "kind": spec["kind"], "parallelism": trainer.strategy, "gpus": world.world_size,
            "bf16": trainer.bf16, "seconds": seconds, "steps": spec["steps"],
            "tokens_per_second": tokens_per_step * spec["steps"] / seconds,
            "peak_memory_bytes": max(peaks) if cuda else None,
            "parameters": trained + frozen}))


def launch_gpu_run(spec: dict, gpus: int, work: Path) -> dict:
    """Run :func:`gpu_worker` under torchrun on ``gpus`` processes; rank 0's report."""
    spec_path = work / f"{spec['kind']}-{spec['parallelism']}.spec.json"
    spec_path.write_text(json.dumps(spec))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", str(gpus), "-m", "benchmarks.training_scale",
               "--worker", str(spec_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"benchmarks.training_scale: GPU {spec['kind']} "
                         f"{spec['parallelism']}: exit {done.returncode}\n"
                         f"{done.stderr[-4000:]}")
    return json.loads(Path(spec["report"]).read_text())


def gpu_part(quick: bool, work: Path) -> dict:
    """Reward-model and SFT throughput, peak memory and MFU on every visible GPU."""
    import torch

    from benchmarks.reward_model_gpu import LLAMA_1B
    from paddock.training.tiny import build_tiny_llama

    gpus, name = torch.cuda.device_count(), torch.cuda.get_device_name()
    shape = QUICK_GPU_SHAPE if quick else LLAMA_1B
    length, micro = (128, 2) if quick else (512, 8)
    warmup, steps = (1, 2) if quick else (2, 8)
    base = build_tiny_llama(work / "gpu-base", max_positions=4096, **shape)
    engines = ["auto"] if gpus == 1 else ["ddp", "fsdp"]
    peak = peak_flops(name)
    runs = []
    for kind in ("reward", "sft"):
        for parallelism in engines:
            spec = {"kind": kind, "parallelism": parallelism, "model": str(base),
                    "output": str(work / f"gpu-{kind}-{parallelism}"), "length": length,
                    "micro_batch": micro, "warmup_steps": warmup, "steps": steps,
                    "report": str(work / f"gpu-{kind}-{parallelism}.report.json")}
            report = launch_gpu_run(spec, gpus, work)
            tokens = report["tokens_per_second"]
            runs.append(report | {
                "tokens_per_second": round(tokens),
                "peak_memory_gb": round(report.pop("peak_memory_bytes") / 1e9, 2),
                "mfu": (round(6 * report["parameters"] * tokens / (peak * gpus), 4)
                        if peak else None)})

    def by_engine(kind: str, key: str) -> dict:
        return {run["parallelism"]: run[key] for run in runs if run["kind"] == kind}

    return {
        "gpu_model": name, "gpu_count": gpus,
        "gpu_bf16_peak_flops": peak,
        "gpu_shape": ", ".join(f"{k} {v}" for k, v in shape.items()),
        "gpu_settings": {"tokens_per_side_or_sequence": length, "micro_batch_per_gpu": micro,
                         "warmup_steps": warmup, "timed_steps": steps, "bf16": "yes",
                         "gradient_checkpointing": "yes"},
        "rm_tokens_per_second": by_engine("reward", "tokens_per_second"),
        "sft_tokens_per_second": by_engine("sft", "tokens_per_second"),
        "peak_memory_gb": {"rm": by_engine("reward", "peak_memory_gb"),
                           "sft": by_engine("sft", "peak_memory_gb")},
        "mfu": {"rm": by_engine("reward", "mfu"), "sft": by_engine("sft", "mfu")},
        "gpu_runs": runs,
        "gpu_note": ("tokens/s: reward model pairs x 2 sides x tokens per side, SFT sequence "
                     "tokens; keyed by engine ('none': one GPU). peak_memory_gb: the "
                     "largest torch.cuda.max_memory_allocated over the ranks, 1e9 bytes. "
                     "MFU = 6 x parameters x tokens/s / (bf16 dense peak x GPUs); gradient "
                     "checkpointing's recomputed forward is not counted."
                     + ("" if peak else f" No bf16 peak known for {name!r}: mfu is null.")),
    }


def no_gpu_figures() -> dict:
    return {"gpu_model": None, "gpu_count": 0, "rm_tokens_per_second": None,
            "sft_tokens_per_second": None, "peak_memory_gb": None, "mfu": None,
            "gpu_note": "no GPU was available (torch.cuda.is_available() is False): "
                        "the GPU part did not run"}


# --------------------------------------------------------------------------- memory plan


def llama_block_parameters(shape: dict) -> int:
    """One Llama decoder block: q, k, v, o projections, the gated MLP and two norms."""
    hidden, inner = shape["hidden_size"], shape["intermediate_size"]
    return 4 * hidden * hidden + 3 * hidden * inner + 2 * hidden


def ppo_bytes(strategy: str, parameters: int, block: int, frozen_bytes: int) -> int:
    """PPO's models per GPU: policy and value trained, the reference frozen (sharded with
    them under FSDP, one gathered block at a time), two reward models whole on every GPU."""
    from paddock.training.engines import MemoryPlan

    trained = MemoryPlan(strategy, PLAN_GPUS, 2 * parameters, parameters, block, frozen_bytes)
    rewards = MemoryPlan("none", PLAN_GPUS, 0, 2 * parameters, 0, frozen_bytes)
    return trained.bytes_per_gpu + rewards.bytes_per_gpu


def memory_plan_table() -> dict:
    """GiB per GPU of weights, gradients and AdamW state for 1B and 7B models, at
    :data:`PLAN_GPUS` GPUs: full fine-tuning under DDP and FSDP, and PPO's four models."""
    from benchmarks.reward_model_gpu import LLAMA_1B
    from paddock.training.engines import GIB, MemoryPlan

    table = {}
    for label, (parameters, block) in PLAN_MODELS.items():
        block = block or llama_block_parameters(LLAMA_1B)
        row = {"parameters": parameters, "largest_block_parameters": block}
        for strategy in ("ddp", "fsdp"):
            plan = MemoryPlan(strategy, PLAN_GPUS, parameters, 0, block)
            row[f"full_finetune_{strategy}_{PLAN_GPUS}_gpus"] = plan.gib_per_gpu
        for strategy in ("ddp", "fsdp"):
            row[f"ppo_{strategy}_{PLAN_GPUS}_gpus"] = round(
                ppo_bytes(strategy, parameters, block, 2) / GIB, 2)
        table[label] = row
    return table


MEMORY_PLAN_NOTE = (
    "GiB per GPU from paddock.training.engines.MemoryPlan: trained weights 4 bytes, their "
    "gradients 4 and AdamW's moments 8 per parameter; frozen weights 2 (bf16). "
    "Activations, the allocator's slack and the CUDA context are excluded. FSDP divides "
    "the trained and its sharded frozen weights by the GPUs and adds the largest block "
    "and its prefetch gathered in bf16. 1B: 1.1e9 parameters, a LLAMA_1B decoder block; "
    "7B: 6.74e9, a Llama-2-7B block of 202e6. PPO: policy and value trained (the value "
    "model the policy's size), the reference frozen in bf16 (sharded with them under "
    "FSDP, whole under DDP), two reward models of the policy's size whole in bf16 on "
    "every GPU (the PPO trainer casts its frozen models to bf16 when bf16 is on on a GPU; "
    "with bf16 off they stay fp32, 4 bytes).")


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny CPU model, 3 steps, 1 vs 2 ranks only; small GPU model")
    parser.add_argument("--worker", metavar="SPEC.json",
                        help=argparse.SUPPRESS)  # one rank of a GPU run, under torchrun
    args = parser.parse_args()
    if args.worker:
        gpu_worker(args.worker)
        return

    import torch

    from benchmarks.common import write_results

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="paddock-scale-") as scratch:
        work = Path(scratch)
        figures = cpu_part(args.quick, work)
        figures |= gpu_part(args.quick, work) if torch.cuda.is_available() else no_gpu_figures()
    figures["memory_plan_gib"] = memory_plan_table()
    figures["memory_plan_note"] = MEMORY_PLAN_NOTE
    figures["benchmark_seconds"] = round(time.perf_counter() - started, 1)
    write_results("training_scale", figures, quick=args.quick)


if __name__ == "__main__":
    main()
