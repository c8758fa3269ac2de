"""``python -m paddock.training.policy sample|sft|rejection|ppo|gatt``: what the workers run.

Like the reward CLI: progress on stdout as one JSON object per line, ending with
``{"event": "done", ...}``; bad arguments or data, and a model folder that is missing,
corrupt or of the wrong kind (a reward model given as a policy...), end the command with
one line on stderr and exit status 2.

``sft``, ``rejection`` and ``ppo`` are resumable like the reward CLI's ``train`` (see
:mod:`paddock.training.run_guard`): they lock ``--output`` (a second run on the same
folder exits at once with status 2), checkpoint every 50 optimizer steps (SFT) or 5
iterations (PPO) and every ``--checkpoint-minutes`` (10), and on SIGTERM checkpoint,
print ``{"event": "stopped", "reason": "SIGTERM", "checkpoint": ...}`` and exit with
status 143; the same command run again resumes.

Prompt and conversation files are the annotation "prompts" format (``{"id", "prompt" |
"turns", "axis", "risk_category"}``), so a batch's prompts feed every step; safety-axis
prompts are the safety-tagged ones of the combined reward.

    python -m paddock.training.policy sample --conversations prompts.jsonl \\
        --model-a NEW --version-a policy-0005 --model-b OLD --version-b policy-0004 \\
        --output pairs.jsonl
    python -m paddock.training.policy sft --model BASE --data sft.jsonl --output DIR
    python -m paddock.training.policy rejection --model POLICY --prompts prompts.jsonl \\
        --helpfulness-rm RM_H --safety-rm RM_S --pool earlier_pool.jsonl --k 8 --output DIR
    python -m paddock.training.policy ppo --model POLICY --prompts train.jsonl \\
        --eval-prompts held_out.jsonl --helpfulness-rm RM_H --safety-rm RM_S --output DIR
    python -m paddock.training.policy gatt --model POLICY --conversations dialogues.jsonl \\
        --instructions instructions.txt --output gatt_sft.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from paddock.kernel import vocabulary
from paddock.training import recipe, run_guard
from paddock.training.checkpoints import (
    CAUSAL_LM,
    REWARD_MODEL,
    CheckpointError,
    check_model_folder,
    latest_checkpoint,
)
from paddock.training.reward.cli import (
    UsageError,
    add_checkpoint_minutes,
    checkpoint_seconds,
    emit,
    parse_overrides,
)


def read_prompts(path: str):
    from paddock.training.policy.prompts import PolicyPrompt
    from paddock.training.policy.sampling import read_conversations

    if not Path(path).is_file():
        raise UsageError(f"no such prompts file {path}")
    return [PolicyPrompt(c.id or f"line-{c.line}", tuple(c.messages),
                         safety=c.axis == vocabulary.SAFETY)
            for c in read_conversations(path)]


def load_config(cls, args: argparse.Namespace, fixed: dict, *,
                defaults: dict | None = None):
    """``cls`` from --config, then --set, then ``fixed``; ``defaults`` fill what the
    first two leave unset (the CLI's checkpoint schedule)."""
    base = json.loads(Path(args.config).read_text()) if args.config else {}
    settings = base | parse_overrides(args.set)
    for key, value in (defaults or {}).items():
        settings = run_guard.default_save_every(settings, key, value)
    try:
        return cls.from_dict(settings | fixed)
    except (TypeError, ValueError) as error:
        raise UsageError(f"{cls.__name__}: {error}") from None


SFT_DEFAULTS = {"save_every_steps": run_guard.DEFAULT_SAVE_EVERY_STEPS}
PPO_DEFAULTS = {"save_every_iterations": run_guard.DEFAULT_SAVE_EVERY_ITERATIONS}


def report_sampling(backend, what: str):
    """The backend's batches as progress lines (``{"event": "sampling", "step", "total_steps"}``),
    so the pipeline's step shows how far a long sampling pass is; returns the backend."""
    if hasattr(backend, "on_batch"):
        backend.on_batch = lambda done, total: emit("sampling", what=what, step=done,
                                                   total_steps=total)
    return backend


def stopped(guard: run_guard.RunGuard, folder: str | Path, **fields) -> int:
    """The ``stopped`` line for a run a signal interrupted; the exit status (143)."""
    return guard.emit_stopped(latest_checkpoint(folder), **fields)


def sample(args: argparse.Namespace) -> None:
    from paddock.training.policy.generation import load_backend
    from paddock.training.policy.sampling import SamplingPlan, Side, Variant, sample_file

    backend_a = report_sampling(
        load_backend(args.backend, args.model_a, batch_size=args.batch_size), "side A")
    backend_b = backend_a if args.model_b in (None, args.model_a) else report_sampling(
        load_backend(args.backend, args.model_b, batch_size=args.batch_size), "side B")
    plan = SamplingPlan(
        a=Side(Variant(args.version_a, args.temperature_a, args.top_p), backend_a),
        b=Side(Variant(args.version_b or args.version_a, args.temperature_b, args.top_p),
               backend_b),
        max_new_tokens=args.max_new_tokens, seed=args.seed)
    report = sample_file(args.conversations, args.output, plan, report_path=args.report)
    emit("done", output=args.output, report=report.to_dict())


def sft(args: argparse.Namespace) -> int | None:
    from paddock.training.policy.sft import SFTConfig, SFTTrainer, read_sft_jsonl

    config = load_config(SFTConfig, args, {"model_path": args.model, "output_dir": args.output},
                         defaults=SFT_DEFAULTS)
    check_model_folder(args.model, CAUSAL_LM)
    with run_guard.RunGuard(args.output) as guard:
        examples = [example for path in args.data for example in read_sft_jsonl(path)]
        if not examples:
            raise UsageError("no SFT examples in --data")
        trainer = SFTTrainer(config, examples, progress=lambda r: emit("progress", **r))
        result = trainer.train(should_stop=guard.should_stop,
                               save_every_seconds=checkpoint_seconds(args))
        if result.steps < trainer.total_steps:
            return stopped(guard, args.output, step=result.steps,
                           total_steps=trainer.total_steps)
        emit("done", output_dir=str(result.output_dir), metrics=result.metrics)
    return None


def wait_for_file(path: Path, should_stop, poll_seconds: float = 2.0) -> bool:
    """Wait for ``path`` to appear (True) or for a stop signal (False). No collective is
    used: sampling a pool can take longer than any process-group timeout, and torchrun
    ends every rank if rank 0 fails."""
    import time

    while not path.exists():
        if should_stop():
            return False
        time.sleep(poll_seconds)
    return True


def rejection(args: argparse.Namespace) -> int | None:
    from paddock.training.policy.chat import ChatFormat
    from paddock.training.policy.generation import load_backend
    from paddock.training.policy.prompts import CombinedReward
    from paddock.training.policy.rejection import (
        pool_messages,
        read_pool,
        rejection_round,
        write_pool,
    )
    from paddock.training.policy.rewards import CombinedScorer, RewardScorer
    from paddock.training.policy.sft import SFTConfig, SFTExample, SFTTrainer

    output = Path(args.output)
    config = None if args.no_sft else load_config(
        SFTConfig, args, {"model_path": args.model, "output_dir": str(output / "model")},
        defaults=SFT_DEFAULTS)
    prompts = read_prompts(args.prompts)
    check_model_folder(args.model, CAUSAL_LM)
    pool_path = output / "pool.jsonl"
    with run_guard.RunGuard(output) as guard:
        if not run_guard.is_main_rank():  # under torchrun rank 0 samples, all ranks train
            if not wait_for_file(pool_path, guard.should_stop):
                return stopped(guard, output / "model", pool=str(pool_path))
        if not pool_path.exists():  # a second run of the same round reuses its samples
            for rm in (args.helpfulness_rm, args.safety_rm):
                check_model_folder(rm, REWARD_MODEL)
            backend = report_sampling(
                load_backend(args.backend, args.model, batch_size=args.batch_size),
                f"{args.k} samples per prompt")
            chat = ChatFormat(backend.tokenizer)
            ids = {p.id: chat.prompt_ids(list(p.messages)) for p in prompts}
            reward = CombinedReward(CombinedScorer(RewardScorer.load(args.helpfulness_rm),
                                                   RewardScorer.load(args.safety_rm)))
            pool, report = rejection_round(
                backend, prompts, ids, reward, k=args.k, round_name=args.round or args.model,
                earlier_pool=read_pool(args.pool) if args.pool else (),
                temperature=args.temperature, max_new_tokens=args.max_new_tokens,
                seed=args.seed)
            (output / "rejection_report.json").write_text(
                json.dumps(report.as_dict(), indent=2))
            write_pool(pool_path, pool)
            emit("sampled", pool=str(pool_path), temperature=args.temperature, k=args.k,
                 report=report.as_dict())
        sampling = rejection_sampling_record(output, args)
        if guard.should_stop():  # the pool is written: a rerun goes straight to SFT
            return stopped(guard, output / "model", pool=str(pool_path), sampling=sampling)
        if config is None:
            emit("done", pool=str(pool_path), sampling=sampling)
            return None
        config.extra = config.extra | {"rejection_sampling": sampling}
        examples = [SFTExample(pool_messages(e), id=e.prompt_id) for e in read_pool(pool_path)]
        trainer = SFTTrainer(config, examples, progress=lambda r: emit("progress", **r))
        result = trainer.train(should_stop=guard.should_stop,
                               save_every_seconds=checkpoint_seconds(args))
        if result.steps < trainer.total_steps:
            return stopped(guard, output / "model", pool=str(pool_path), step=result.steps,
                           total_steps=trainer.total_steps, sampling=sampling)
        emit("done", pool=str(pool_path), output_dir=str(result.output_dir),
             metrics=result.metrics | {"sampling": sampling}, sampling=sampling)
    return None


def rejection_sampling_record(output: Path, args: argparse.Namespace) -> dict:
    """How this round's pool was sampled, from its report (the run that wrote the pool
    may have been an earlier one, with other arguments than this one)."""
    report_path = output / "rejection_report.json"
    try:
        report = json.loads(report_path.read_text())
    except (OSError, json.JSONDecodeError):
        report = {}
    return {"temperature": report.get("temperature", args.temperature),
            "k": report.get("k", args.k), "samples": report.get("samples"),
            "mean_best_score": report.get("mean_best_score")}


def ppo(args: argparse.Namespace) -> int | None:
    from paddock.training.policy.ppo import PPOConfig, PPOTrainer

    config = load_config(PPOConfig, args, {
        "policy_path": args.model, "output_dir": args.output,
        "helpfulness_rm": args.helpfulness_rm, "safety_rm": args.safety_rm},
        defaults=PPO_DEFAULTS)
    prompts = read_prompts(args.prompts)
    eval_prompts = read_prompts(args.eval_prompts) if args.eval_prompts else []
    if args.eval_prompts and not eval_prompts:
        raise UsageError(f"{args.eval_prompts}: no prompts")
    if eval_prompts and not config.eval_every:
        raise UsageError("--eval-prompts with eval_every=0: the held-out prompts would never "
                         "be used (set eval_every)")
    check_model_folder(args.model, CAUSAL_LM)
    for rm in (args.helpfulness_rm, args.safety_rm):
        check_model_folder(rm, REWARD_MODEL)
    with run_guard.RunGuard(args.output) as guard:
        trainer = PPOTrainer(config, prompts, eval_prompts=eval_prompts,
                             progress=lambda r: emit("progress", **r))
        result = trainer.train(should_stop=guard.should_stop,
                               save_every_seconds=checkpoint_seconds(args))
        if result.iterations < config.iterations and not trainer.stopped_early:
            return stopped(guard, args.output, iteration=result.iterations,
                           total_iterations=config.iterations)
        emit("done", output_dir=str(result.output_dir), metrics=result.metrics)
    return None


def gatt(args: argparse.Namespace) -> None:
    from paddock.kernel.atomic_write import write_atomically
    from paddock.training.policy.generation import (
        GenerationRequest,
        SamplingParams,
        load_backend,
    )
    from paddock.training.policy.ghost_attention import build_dialogues, training_examples
    from paddock.training.policy.sampling import read_conversations

    instructions = [line.strip() for line in Path(args.instructions).read_text().splitlines()
                    if line.strip()]
    if not instructions:
        raise UsageError(f"{args.instructions}: no instructions (one per line)")
    backend = load_backend(args.backend, args.model, batch_size=1)
    calls = iter(range(10**9))

    def sampler(messages: list[dict]) -> str:
        """An answer, resampled a few times if the policy answers with nothing at all."""
        for _ in range(4):
            params = SamplingParams(temperature=args.temperature,
                                    max_new_tokens=args.max_new_tokens,
                                    seed=args.seed + next(calls))
            text = backend.generate([GenerationRequest("gatt", messages=messages,
                                                       params=params)])[0].text
            if text.strip():
                break
        return text  # still blank: build_dialogues names the dialogue and turn

    conversations = read_conversations(args.conversations)
    try:
        dialogues = build_dialogues([list(c.messages) for c in conversations], instructions,
                                    sampler, seed=args.seed,
                                    ids=[c.id or f"line-{c.line}" for c in conversations])
    except ValueError as error:  # a conversation or an answer that cannot be used
        raise UsageError(f"{args.conversations}: {error}") from None
    examples = training_examples(dialogues)
    write_atomically(args.output, [
        json.dumps({"id": f"{e.id}", "messages": list(e.messages),
                    "loss_from_answer": e.loss_from_answer}, ensure_ascii=False) + "\n"
        for e in examples])
    emit("done", output=args.output, dialogues=len(dialogues), examples=len(examples))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m paddock.training.policy",
                                     description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def with_config(command):
        command.add_argument("--config", help="the trainer's config as JSON")
        command.add_argument("--set", action="append", default=[],
                             help="override one config field: KEY=VALUE (JSON value)")

    def with_backend(command):
        command.add_argument("--backend", default="transformers",
                             help="generation backend: transformers (default) or vllm")
        command.add_argument("--batch-size", type=int, default=32)
        command.add_argument("--max-new-tokens", type=int, default=256)
        command.add_argument("--seed", type=int, default=0)

    def with_rms(command):
        command.add_argument("--helpfulness-rm", required=True, help="reward model folder")
        command.add_argument("--safety-rm", required=True, help="reward model folder")

    cmd = commands.add_parser("sample", help="two responses per conversation, for annotation")
    cmd.add_argument("--conversations", required=True, help="prompts JSONL")
    cmd.add_argument("--output", required=True, help="pairs JSONL for the annotation import")
    cmd.add_argument("--report", help="sampling report JSON")
    cmd.add_argument("--model-a", required=True)
    cmd.add_argument("--version-a", required=True, help="model version name recorded")
    cmd.add_argument("--model-b", help="default: the same model as A")
    cmd.add_argument("--version-b")
    cmd.add_argument("--temperature-a", type=float, default=0.7)
    cmd.add_argument("--temperature-b", type=float, default=0.7)
    cmd.add_argument("--top-p", type=float, default=0.9)
    with_backend(cmd)
    cmd.set_defaults(handler=sample)

    cmd = commands.add_parser("sft", help="supervised fine-tuning on answer tokens")
    cmd.add_argument("--model", required=True)
    cmd.add_argument("--data", action="append", required=True, help="SFT JSONL, repeatable")
    cmd.add_argument("--output", required=True)
    with_config(cmd)
    add_checkpoint_minutes(cmd)
    cmd.set_defaults(handler=sft)

    cmd = commands.add_parser("rejection", help="best of K samples, pooled, then SFT")
    cmd.add_argument("--model", required=True, help="the newest policy")
    cmd.add_argument("--prompts", required=True)
    cmd.add_argument("--pool", help="the previous round's pool.jsonl")
    cmd.add_argument("--output", required=True, help="folder: pool.jsonl, report, model/")
    cmd.add_argument("--k", type=int, default=4)
    cmd.add_argument("--temperature", type=float, default=recipe.REJECTION_TEMPERATURE,
                     help="sampling temperature of this round (default %(default)s, the "
                          "paper's); recorded in rejection_report.json and the metrics")
    cmd.add_argument("--round", help="round name recorded in the pool (default: --model)")
    cmd.add_argument("--no-sft", action="store_true", help="only sample and pool")
    with_rms(cmd)
    with_backend(cmd)
    with_config(cmd)
    add_checkpoint_minutes(cmd)
    cmd.set_defaults(handler=rejection)

    cmd = commands.add_parser("ppo", help="PPO against the combined reward")
    cmd.add_argument("--model", required=True)
    cmd.add_argument("--prompts", required=True)
    cmd.add_argument("--eval-prompts", metavar="FILE",
                     help="held-out prompts: evaluated every eval_every iterations and at "
                          "the end, for early stopping and the best policy")
    cmd.add_argument("--output", required=True)
    with_rms(cmd)
    with_config(cmd)
    add_checkpoint_minutes(cmd)
    cmd.set_defaults(handler=ppo)

    cmd = commands.add_parser("gatt", help="Ghost Attention SFT data")
    cmd.add_argument("--model", required=True, help="the policy that samples the answers")
    cmd.add_argument("--conversations", required=True, help="multi-turn prompts JSONL")
    cmd.add_argument("--instructions", required=True, help="text file, one per line")
    cmd.add_argument("--output", required=True, help="SFT JSONL")
    cmd.add_argument("--temperature", type=float, default=0.7)
    with_backend(cmd)
    cmd.set_defaults(handler=gatt)
    return parser


def main(argv: list[str] | None = None) -> int:
    from paddock.training.policy.chat import ConversationError
    from paddock.training.policy.sampling import ConversationFileError
    from paddock.training.policy.sft import SFTDataError

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args) or 0
    except (UsageError, ConversationFileError, SFTDataError, ConversationError,
            FileNotFoundError, CheckpointError, run_guard.FolderLocked) as error:
        print(f"paddock.training.policy: {error}", file=sys.stderr)
        return 2
