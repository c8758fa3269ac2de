"""Reward-model training throughput and peak memory for a 1B-class Llama on a CUDA GPU.

The model is built from a config (nothing is downloaded), so the figures are about the
training path, not about quality: bf16 autocast and gradient checkpointing with full
fine-tuning, and the same with LoRA. Pairs are synthetic with a fixed length.
``--quick`` runs the same code on a tiny model, on the CPU when there is no GPU, so the
script cannot rot where no GPU is lent.

    python -m benchmarks.reward_model_gpu [--quick] [--length 512] [--steps 10]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

LLAMA_1B = {"hidden_size": 2048, "layers": 16, "heads": 32, "intermediate_size": 8192}
TINY = {"hidden_size": 64, "layers": 2, "heads": 4, "intermediate_size": 256}


def synthetic_pairs(count: int, words: int):
    from paddock.training.reward.pairs import PreferencePair, Turn

    text = " ".join(["the tide rises and falls with the moon"] * (words // 9 + 1))
    return [PreferencePair(id=str(i), context=(Turn("user", f"{i} {text}"),),
                           chosen=f"{text} yes {i}", rejected=f"{text} no {i}",
                           axis="helpfulness", source="synthetic") for i in range(count)]


def measure(base: str, lora: dict | None, args, device) -> dict:
    import torch

    from paddock.training.reward.config import RewardConfig
    from paddock.training.reward.trainer import RewardTrainer

    micro = args.micro_batch_pairs
    pairs = synthetic_pairs(micro * (args.steps + 1), args.length)  # never reaches the end
    config = RewardConfig(model_path=base, output_dir=tempfile.mkdtemp(), max_length=args.length,
                          batch_pairs=micro, micro_batch_pairs=micro, lora=lora,
                          learning_rate=1e-5)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trainer = RewardTrainer(config, pairs, device=device)
    trainer.train(stop_after_steps=1, checkpoint_on_stop=False)  # warm-up: kernels, allocator
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    trainer.train(stop_after_steps=args.steps - 1, checkpoint_on_stop=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    figures = {
        "lora": lora is not None, "bf16": trainer.bf16,
        "pairs_per_second": round(micro * (args.steps - 1) / seconds, 2),
        "tokens_per_second": round(2 * micro * args.length * (args.steps - 1) / seconds),
        "parameters": sum(p.numel() for p in trainer.model.parameters()),
        "trainable_parameters": sum(p.numel() for p in trainer.model.parameters()
                                    if p.requires_grad),
    }
    if device.type == "cuda":
        figures["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    else:
        figures["peak_rss_mib"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    del trainer
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--length", type=int, default=512, help="tokens per side")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--micro-batch-pairs", type=int, default=8)
    args = parser.parse_args()

    import torch

    from benchmarks.common import write_results
    from paddock.training.tiny import build_tiny_llama

    cuda = torch.cuda.is_available()
    if not cuda and not args.quick:
        sys.exit("benchmarks.reward_model_gpu: no CUDA GPU here (use --quick for a CPU smoke run)")
    if args.quick:
        args.length, args.steps, args.micro_batch_pairs = 64, 3, 2
    shape = TINY if args.quick else LLAMA_1B
    device = torch.device("cuda" if cuda else "cpu")
    base = build_tiny_llama(Path(tempfile.mkdtemp()) / "base", max_positions=4096,
                            hidden_size=shape["hidden_size"],
                            layers=shape["layers"], heads=shape["heads"],
                            intermediate_size=shape["intermediate_size"])
    figures = {
        "model": "Llama architecture from a config, " + ", ".join(
            f"{k} {v}" for k, v in shape.items()),
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "tokens_per_side": args.length, "micro_batch_pairs": args.micro_batch_pairs,
        "full": measure(str(base), None, args, device),
        "lora_r16": measure(str(base), {"r": 16}, args, device),
    }
    write_results("reward_model_gpu", figures, quick=args.quick)


if __name__ == "__main__":
    main()
