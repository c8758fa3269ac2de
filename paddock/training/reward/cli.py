"""``python -m paddock.training.reward train|eval``: what the GPU workers run.

Progress goes to stdout as one JSON object per line (``{"event": "progress", "step": ...,
"total_steps": ..., "loss": ..., "pairs_per_second": ..., "eta_seconds": ...}``), ending
with ``{"event": "done", ...}``, so a caller reads it line by line without parsing logs.
Bad arguments or data, and a model folder that is missing, corrupt or of the wrong kind,
end the command with one line on stderr and exit status 2.

``train`` is resumable (see :mod:`paddock.training.run_guard`): it locks ``--output``
(a second run on the same folder exits at once with status 2), checkpoints every 50
steps and every ``--checkpoint-minutes`` (10) by default, and on SIGTERM finishes its
step, checkpoints, prints ``{"event": "stopped", "reason": "SIGTERM", "checkpoint": ...}``
and exits with status 143; the same command run again resumes from there. ``eval`` reads
the maximum length the model was trained with from its ``reward_config.json``.

    python -m paddock.training.reward train --model BASE --output DIR \\
        --data paddock=export.jsonl.gz --data hh-harmless=harmless.jsonl.gz --rm safety
    python -m paddock.training.reward eval --model DIR --data paddock=export.jsonl.gz \\
        --name "safety RM on batch 12" --output DIR/eval
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from paddock.kernel import vocabulary
from paddock.training import run_guard
from paddock.training.checkpoints import (
    ANY_MODEL,
    REWARD_MODEL,
    CheckpointError,
    check_model_folder,
    latest_checkpoint,
)
from paddock.training.reward import readers
from paddock.training.reward.mixes import helpfulness_mix, safety_mix
from paddock.training.reward.pairs import PreferencePair

FORMATS: dict[str, Callable[[str], readers.PairReader]] = {
    "paddock": readers.read_paddock_export,
    "hh-helpful": lambda path: readers.read_hh_rlhf(path, vocabulary.HELPFULNESS),
    "hh-harmless": lambda path: readers.read_hh_rlhf(path, vocabulary.SAFETY),
    "oasst": readers.read_oasst_trees,
    "ukp": readers.read_ukp_convarg,
}


class UsageError(Exception):
    """A problem with the command line or its files, said in one line."""


def emit(event: str, **fields) -> None:
    """One JSON line for the worker reading stdout; under torchrun only rank 0 speaks."""
    if run_guard.is_main_rank():
        print(json.dumps({"event": event, **fields}), flush=True)


def in_split(pair: PreferencePair, split: str) -> bool:
    """The platform's exports mark each pair ``train`` or ``test`` (per comparison);
    public data has no split and counts as training data."""
    return split == "all" or pair.meta.get("split", "train") == split


def check_specs(specs: list[str]) -> list[tuple[str, str]]:
    """(format, path) per ``--data FORMAT=PATH``; a bad one is a usage error."""
    checked = []
    for spec in specs:
        kind, sep, path = spec.partition("=")
        if not sep or kind not in FORMATS:
            raise UsageError(f"--data {spec!r}: expected FORMAT=PATH with FORMAT one of "
                             f"{', '.join(FORMATS)}")
        if not Path(path).is_file():
            raise UsageError(f"--data {spec!r}: no such file {path}")
        checked.append((kind, path))
    return checked


def load_data(specs: list[str], split: str = "all") -> tuple[list[PreferencePair], list[dict]]:
    pairs: list[PreferencePair] = []
    reports = []
    for kind, path in check_specs(specs):
        reader = FORMATS[kind](path)
        pairs.extend(pair for pair in reader if in_split(pair, split))
        reports.append(reader.report.to_dict())
    return pairs, reports


def select_mix(pairs: list[PreferencePair], rm: str, seed: int) -> tuple[list, dict]:
    """The Llama 2 mix for the RM being trained (section 3.2.2), with its record.

    helpfulness: the platform's helpfulness judgements (all helpfulness pairs when there
    are none) plus an equal amount sampled from everything else. safety: every safety
    pair (the platform's and public harmless data) mixed 90/10 with helpfulness pairs.
    """
    if rm == "none":
        return pairs, {"mix": "none", "pairs": len(pairs)}
    helpful = [p for p in pairs if p.axis == vocabulary.HELPFULNESS]
    if rm == "helpfulness":
        own = [p for p in helpful if p.source.startswith("paddock:")] or helpful
        chosen_ids = {p.id for p in own}
        mix = helpfulness_mix(own, [p for p in pairs if p.id not in chosen_ids], seed=seed)
    else:
        mix = safety_mix([p for p in pairs if p.axis == vocabulary.SAFETY], helpful, seed=seed)
    return mix.pairs, mix.record


def parse_overrides(items: list[str]) -> dict:
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--set {item!r}: expected KEY=VALUE")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value  # a bare string
    return overrides


def checkpoint_seconds(args: argparse.Namespace) -> float | None:
    minutes = getattr(args, "checkpoint_minutes", None)
    return minutes * 60 if minutes and minutes > 0 else None


def train(args: argparse.Namespace) -> int | None:
    from paddock.training.reward.config import RewardConfig
    from paddock.training.reward.trainer import RewardTrainer

    base = json.loads(Path(args.config).read_text()) if args.config else {}
    settings = run_guard.default_save_every(
        base | parse_overrides(args.set), "save_every_steps", run_guard.DEFAULT_SAVE_EVERY_STEPS,
    ) | {"model_path": args.model, "output_dir": args.output}
    try:
        config = RewardConfig.from_dict(settings)
    except (TypeError, ValueError) as error:
        raise UsageError(f"reward config: {error}") from None
    check_specs(args.data)
    check_model_folder(args.model, ANY_MODEL)
    with run_guard.RunGuard(args.output) as guard:
        pairs, reports = load_data(args.data, args.split)
        mixed, record = select_mix(pairs, args.rm, config.seed)
        if not mixed:
            raise UsageError("no training pairs after reading and mixing the data")
        config.extra = config.extra | {"rm": args.rm, "mix": record, "data": reports}
        trainer = RewardTrainer(config, mixed, progress=lambda r: emit("progress", **r))
        result = trainer.train(should_stop=guard.should_stop,
                               save_every_seconds=checkpoint_seconds(args))
        if result.steps < trainer.total_steps:  # stopped by a signal: resumable
            return guard.emit_stopped(latest_checkpoint(args.output), step=result.steps,
                                      total_steps=trainer.total_steps)
        emit("done", output_dir=str(result.output_dir), metrics=result.metrics)
    return None


def trained_settings(model: str) -> dict:
    """The reward config the trainer saved next to the model ({} when there is none)."""
    saved = Path(model) / "reward_config.json"
    if not saved.is_file():
        return {}
    settings = json.loads(saved.read_text())  # checked to be JSON by check_model_folder
    return settings if isinstance(settings, dict) else {}


def evaluate(args: argparse.Namespace) -> None:
    from paddock.training.devices import pick_device
    from paddock.training.reward.evaluation import accuracy_table, save, scored_pairs
    from paddock.training.reward.evaluation import evaluate as evaluate_scores
    from paddock.training.reward.modeling import load_reward_model
    from paddock.training.reward.trainer import load_tokenizer, score_pairs

    check_specs(args.data)
    check_model_folder(args.model, REWARD_MODEL)
    trained = trained_settings(args.model)
    # Score at the length the model was trained with: a shorter one cuts context the model
    # learned to read, a longer one shows it inputs it never saw.
    max_length = args.max_length if args.max_length is not None else trained.get("max_length")
    if max_length is None:
        raise UsageError(f"{Path(args.model) / 'reward_config.json'}: missing or without "
                         "max_length; pass --max-length")
    min_context_tokens = trained.get("min_context_tokens", 32)
    pairs, reports = load_data(args.data, args.split)
    if not pairs:
        raise UsageError("no pairs to evaluate")
    device = pick_device()
    model = load_reward_model(args.model).to(device)
    tokenizer = load_tokenizer(args.model)
    scores, truncation = score_pairs(model, tokenizer, pairs, max_length=max_length,
                                     min_context_tokens=min_context_tokens, device=device)
    result = evaluate_scores(scored_pairs(pairs, [c for c, _ in scores], [r for _, r in scores]),
                             name=args.name)
    json_path, png_path = save(result, args.output or Path(args.model) / "eval")
    emit("done", accuracy=result.accuracy, pairs=result.n, table=accuracy_table([result]),
         json=str(json_path), png=str(png_path), truncation=truncation, data=reports,
         max_length=max_length, split=args.split)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m paddock.training.reward",
                                     description="Train or evaluate a reward model.")
    commands = parser.add_subparsers(dest="command", required=True)
    formats = ", ".join(FORMATS)
    train_cmd = commands.add_parser("train", help="train a reward model")
    train_cmd.add_argument("--model", required=True, help="base checkpoint folder")
    train_cmd.add_argument("--output", required=True, help="folder for checkpoints and result")
    train_cmd.add_argument("--data", action="append", required=True,
                           help=f"FORMAT=PATH, repeatable; FORMAT: {formats}")
    train_cmd.add_argument("--rm", choices=["helpfulness", "safety", "none"], default="none",
                           help="which Llama 2 data mix to build (default: all pairs as read)")
    train_cmd.add_argument("--split", choices=["all", "train", "test"], default="all",
                           help="keep only the platform pairs of this split (default: all)")
    train_cmd.add_argument("--config", help="RewardConfig as JSON")
    train_cmd.add_argument("--set", action="append", default=[],
                           help="override one config field: KEY=VALUE (JSON value); "
                                "save_every_steps defaults to "
                                f"{run_guard.DEFAULT_SAVE_EVERY_STEPS} here")
    add_checkpoint_minutes(train_cmd)
    train_cmd.set_defaults(handler=train)
    eval_cmd = commands.add_parser("eval", help="accuracy per strength level")
    eval_cmd.add_argument("--model", required=True, help="trained reward model folder")
    eval_cmd.add_argument("--data", action="append", required=True, help="FORMAT=PATH")
    eval_cmd.add_argument("--name", default="reward model", help="row name in the table")
    eval_cmd.add_argument("--output", help="folder for eval JSON and PNG (default MODEL/eval)")
    eval_cmd.add_argument("--split", choices=["all", "train", "test"], default="all",
                          help="keep only the platform pairs of this split (default: all)")
    eval_cmd.add_argument("--max-length", type=int, default=None,
                          help="token budget per side (default: the one the model was "
                               "trained with, from its reward_config.json)")
    eval_cmd.set_defaults(handler=evaluate)
    return parser


def add_checkpoint_minutes(command: argparse.ArgumentParser) -> None:
    command.add_argument("--checkpoint-minutes", type=float,
                         default=run_guard.DEFAULT_CHECKPOINT_MINUTES,
                         help="also checkpoint when this many minutes have passed since "
                              "the last checkpoint (default %(default)s; 0: off)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args) or 0
    except (UsageError, readers.PairFormatError, CheckpointError,
            run_guard.FolderLocked) as error:
        print(f"paddock.training.reward: {error}", file=sys.stderr)
        return 2
