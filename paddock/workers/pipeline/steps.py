"""What each pipeline step does. Here Django and the training code meet.

Training and sampling run as child processes (``python -m paddock.training.reward`` and
``python -m paddock.training.policy``), never in the worker's own interpreter: the worker
stays small, a CUDA crash takes down the child and not the worker, and progress comes
back as the CLIs' JSON lines. Each step writes into its own folder of the run
(``$PADDOCK_ARTIFACTS_DIR/pipelines/<run>/<step>/``), where the trainers keep their
checkpoints, so a step re-run after a killed worker resumes from them. Models are
registered under keys made of the run's id, so a repeated registration returns the
version the first one made.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from paddock.annotation.models import Batch, BatchStatus, Conversation
from paddock.annotation.services.batches import batch_move
from paddock.annotation.services.export import export_batch, export_path
from paddock.annotation.services.importing import import_file
from paddock.workers.models import PipelineRun
from paddock.workers.pipeline.child import run_training_cli
from paddock.workers.pipeline.runner import StepContext

if TYPE_CHECKING:
    from paddock.training.registry import ModelVersion


class StepError(RuntimeError):
    """A step cannot go on; the message says why and what to do."""


def model_registry():
    # Imported here: the web process imports this module (through the task declarations)
    # and must not import paddock.training, even its torch-free parts.
    from paddock.training.registry import ModelRegistry

    return ModelRegistry(settings.MODEL_REGISTRY_DIR)


def _repeated(flag: str, values) -> list[str]:
    """``--flag v1 --flag v2 ...`` for a CLI option that may be given many times."""
    return [part for value in values for part in (flag, value)]


def _folder(ctx: StepContext, name: str | None = None) -> Path:
    folder = ctx.workdir / (name or ctx.step.step)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- close and export ----------------------------------------------------------------


def close_batch(ctx: StepContext) -> dict:
    batch = ctx.pipeline.batch
    if batch.status == BatchStatus.OPEN:
        batch = batch_move(batch=batch, to=BatchStatus.CLOSED)
    elif batch.status not in (BatchStatus.CLOSED, BatchStatus.EXPORTED):
        raise StepError(f"batch {batch.name} is {batch.status}: only an open or closed batch "
                        "has judgements to train on")
    return {"batch": batch.name, "status": batch.status,
            "judgements": batch.conversations.filter(
                comparisons__judgements__skipped=False).count()}


def _prompt_record(conversation: Conversation) -> dict[str, Any]:
    turns = [{"role": t.role, "content": t.content}
             for t in sorted(conversation.turns.all(), key=lambda t: t.index)]
    record: dict[str, Any] = {"id": f"conversation-{conversation.pk}", "turns": turns,
                              "axis": conversation.axis}
    if conversation.risk_category:
        record["risk_category"] = conversation.risk_category
    return record


def _write_jsonl(path: Path, records) -> int:
    """Write through a temporary name and rename, so a reader never sees half a file."""
    partial = path.with_name(path.name + ".partial")
    count = 0
    with open(partial, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    os.replace(partial, path)
    return count


def export(ctx: StepContext) -> dict:
    """This batch's judgements and prompts; every earlier closed batch's judgements too
    (the reward models retrain on everything collected so far)."""
    batch = ctx.pipeline.batch
    manifest = export_batch(batch, "preferences",
                            progress=lambda f, m="": ctx.report(f * 0.8, m or "exporting"))
    prompts = _folder(ctx) / "prompts.jsonl"
    conversations = (Conversation.objects.filter(batch=batch).prefetch_related("turns")
                     .order_by("pk"))
    prompt_count = _write_jsonl(
        prompts, (_prompt_record(c) for c in conversations.iterator(chunk_size=500)))
    exports = []
    for earlier in Batch.objects.filter(
        status__in=[BatchStatus.CLOSED, BatchStatus.EXPORTED], closes_at__lte=batch.closes_at
    ).exclude(pk=batch.pk).order_by("closes_at"):
        path = export_path(earlier, "preferences")
        if not path.exists():
            export_batch(earlier, "preferences")
        exports.append(str(path))
    exports.append(str(export_path(batch, "preferences")))
    if batch.status == BatchStatus.CLOSED:
        batch_move(batch=batch, to=BatchStatus.EXPORTED)
    return {"preferences": str(export_path(batch, "preferences")), "counts": manifest["counts"],
            "prompts": str(prompts), "prompt_count": prompt_count, "training_exports": exports}


# --- reward models -------------------------------------------------------------------

# The registry's kinds (paddock.training.registry.REWARD_HELPFULNESS, REWARD_SAFETY, POLICY).
RM_KINDS = {"helpfulness": "reward-helpfulness", "safety": "reward-safety"}
POLICY = "policy"


def _reward_base() -> str:
    base = Path(settings.PADDOCK_REWARD_BASE_MODEL)
    if not (base / "config.json").is_file():
        raise StepError(f"no reward-model base at {base}: set PADDOCK_REWARD_BASE_MODEL to a "
                        "checkpoint folder (or run 'manage.py paddock_bootstrap_models --tiny' "
                        "for the CPU demo)")
    return str(base)


def _train_rm(ctx: StepContext, rm: str) -> dict:
    exported = ctx.result_of("export")
    plan = ctx.pipeline.plan["reward"]
    output = _folder(ctx)
    data = [f"paddock={path}" for path in exported["training_exports"]]
    data += list(ctx.pipeline.plan.get("public_data", []))
    overrides = [f"{key}={json.dumps(value)}" for key, value in plan.items()]
    done = run_training_cli(
        ctx, "paddock.training.reward",
        ["train", "--model", _reward_base(), "--output", str(output), "--rm", rm,
         "--split", "train", *_repeated("--data", data), *_repeated("--set", overrides),
         "--set", f"save_every_steps={max(1, int(plan.get('save_every_steps', 1)))}"],
    )
    version = model_registry().register(
        RM_KINDS[rm], done["output_dir"], key=f"{ctx.pipeline.pk}:{RM_KINDS[rm]}",
        batch=ctx.pipeline.batch.name, data_manifest={"exports": exported["training_exports"]},
        metrics=done.get("metrics") or {},
    )
    return {"version": version.version, "path": str(version.path),
            "metrics": done.get("metrics") or {}}


def train_helpfulness_rm(ctx: StepContext) -> dict:
    return _train_rm(ctx, "helpfulness")


def train_safety_rm(ctx: StepContext) -> dict:
    return _train_rm(ctx, "safety")


def evaluate_rms(ctx: StepContext) -> dict:
    """Both RMs on this batch's held-out comparisons, per strength level; the JSON lands
    next to each model (``<model>/eval/``), where the console reads it."""
    exported = ctx.result_of("export")
    results = {}
    for rm in RM_KINDS:
        trained = ctx.result_of(f"train_{rm}_rm")
        name = f"{rm} RM on {ctx.pipeline.batch.name}"
        done = run_training_cli(
            ctx, "paddock.training.reward",
            ["eval", "--model", trained["path"], "--data", f"paddock={exported['preferences']}",
             "--split", "test", "--name", name, "--output", str(Path(trained["path"]) / "eval"),
             "--max-length", str(ctx.pipeline.plan["reward"].get("max_length", 512))],
            allow_usage_error="no pairs to evaluate",
        )
        results[rm] = ({"skipped": "no held-out judgements in this batch"} if done is None
                       else {"accuracy": done["accuracy"], "pairs": done["pairs"],
                             "json": done["json"]})
    return results


# --- the policy ----------------------------------------------------------------------


def current_policy() -> ModelVersion:
    """The newest registered policy; the configured base becomes policy-0001 the first
    time the loop runs."""
    registry = model_registry()
    latest = registry.latest(POLICY)
    if latest is not None:
        return latest
    base = Path(settings.PADDOCK_POLICY_BASE_MODEL)
    if not (base / "config.json").is_file():
        raise StepError(f"no policy registered and no base at {base}: set "
                        "PADDOCK_POLICY_BASE_MODEL (or run 'manage.py "
                        "paddock_bootstrap_models --tiny' for the CPU demo)")
    return registry.register(POLICY, base, key="bootstrap:policy")


def _reward_paths(ctx: StepContext) -> list[str]:
    return ["--helpfulness-rm", ctx.result_of("train_helpfulness_rm")["path"],
            "--safety-rm", ctx.result_of("train_safety_rm")["path"]]


def _previous_pool(ctx: StepContext) -> list[str]:
    """The last finished run's rejection pool: samples are kept across rounds."""
    earlier = (PipelineRun.objects.filter(steps__step="rejection_sampling",
                                          steps__state="succeeded")
               .exclude(pk=ctx.pipeline.pk).order_by("-created_at").first())
    if earlier is None:
        return []
    pool = (earlier.steps.get(step="rejection_sampling").result or {}).get("pool")
    return ["--pool", pool] if pool and Path(pool).is_file() else []


def rejection_sampling(ctx: StepContext) -> dict:
    plan = ctx.pipeline.plan["rejection"]
    policy = current_policy()
    done = run_training_cli(
        ctx, "paddock.training.policy",
        ["rejection", "--model", str(policy.path), "--prompts",
         ctx.result_of("export")["prompts"], *_reward_paths(ctx), *_previous_pool(ctx),
         "--k", str(plan["k"]), "--max-new-tokens", str(plan["max_new_tokens"]),
         "--round", str(ctx.pipeline.pk), "--output", str(_folder(ctx)),
         "--set", f"epochs={plan['epochs']}", "--set", "save_every_steps=1"],
    )
    return {"model": done["output_dir"], "pool": done["pool"], "from": policy.version,
            "metrics": done.get("metrics") or {}}


def ppo(ctx: StepContext) -> dict:
    plan = ctx.pipeline.plan["ppo"]
    start = ctx.result_of("rejection_sampling").get("model") or str(current_policy().path)
    done = run_training_cli(
        ctx, "paddock.training.policy",
        ["ppo", "--model", start, "--prompts", ctx.result_of("export")["prompts"],
         *_reward_paths(ctx), "--output", str(_folder(ctx)),
         *_repeated("--set", (f"{k}={json.dumps(v)}" for k, v in plan.items()))],
    )
    return {"model": done["output_dir"], "metrics": done.get("metrics") or {}}


def register_policy(ctx: StepContext) -> dict:
    registry = model_registry()
    existing = registry.find(f"{ctx.pipeline.pk}:policy")
    if existing is not None:  # a second delivery: the version the first one made
        base = registry.get(existing.base) if existing.base else existing
        return {"version": existing.version, "path": str(existing.path), "new": True,
                "previous": base.version, "previous_path": str(base.path)}
    previous = current_policy()
    trained = ctx.result_of("ppo").get("model") or ctx.result_of("rejection_sampling").get("model")
    if not trained:
        return {"version": previous.version, "path": str(previous.path), "new": False,
                "previous": previous.version, "previous_path": str(previous.path)}
    metrics = {"rejection": ctx.result_of("rejection_sampling").get("metrics", {}),
               "ppo": ctx.result_of("ppo").get("metrics", {})}
    version = registry.register(
        POLICY, trained, key=f"{ctx.pipeline.pk}:policy", base=previous.version,
        batch=ctx.pipeline.batch.name,
        data_manifest={"prompts": ctx.result_of("export")["prompts"]},
        reward_models=(ctx.result_of("train_helpfulness_rm")["version"],
                       ctx.result_of("train_safety_rm")["version"]),
        metrics=metrics,
    )
    return {"version": version.version, "path": str(version.path), "new": True,
            "previous": previous.version, "previous_path": str(previous.path)}


# --- the next batch ------------------------------------------------------------------


def next_batch_for(pipeline: PipelineRun) -> Batch:
    """The batch after this one: the earliest draft or scheduled batch opening at or after
    this one's close, else a new one as long as this one (a week) with the same settings."""
    batch = pipeline.batch
    if pipeline.next_batch_id:
        return pipeline.next_batch
    with transaction.atomic():
        locked = PipelineRun.objects.select_for_update().get(pk=pipeline.pk)
        if locked.next_batch_id:
            return locked.next_batch
        following = (Batch.objects.filter(status__in=[BatchStatus.DRAFT, BatchStatus.SCHEDULED],
                                          opens_at__gte=batch.closes_at - timedelta(hours=1))
                     .order_by("opens_at").first())
        if following is None:  # it opens when this run has filled it, for as long as this one
            opens = timezone.now()
            name = f"{batch.name} + 1 week"
            suffix = 2
            while Batch.objects.filter(name=name).exists():
                name, suffix = f"{batch.name} + 1 week ({suffix})", suffix + 1
            following = Batch.objects.create(
                name=name, status=BatchStatus.DRAFT, opens_at=opens,
                closes_at=opens + (batch.closes_at - batch.opens_at),
                helpfulness_quota=batch.helpfulness_quota, safety_quota=batch.safety_quota,
                overlap=batch.overlap, gold_share=batch.gold_share,
                test_split_size=batch.test_split_size,
                reveal_gold_accuracy=batch.reveal_gold_accuracy,
                created_by=pipeline.created_by,
            )
        locked.next_batch = following
        locked.save(update_fields=["next_batch"])
    return following


def sample_next_batch(ctx: StepContext) -> dict:
    """Pairs from the new and the previous policy for this batch's prompts (a fixed,
    seeded subset), imported into the next batch: the reward models then learn on the
    new policy's distribution."""
    policy = ctx.result_of("register_policy")
    following = next_batch_for(ctx.pipeline)
    plan = ctx.pipeline.plan["sampling"]
    folder = _folder(ctx)
    with open(ctx.result_of("export")["prompts"], encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    random.Random(str(ctx.pipeline.pk)).shuffle(records)  # noqa: S311 - a sample, not a secret
    subset = folder / "prompts.jsonl"
    _write_jsonl(subset, records[: plan["max_prompts"]])
    pairs = folder / "pairs.jsonl"
    if not pairs.exists():
        run_training_cli(
            ctx, "paddock.training.policy",
            ["sample", "--conversations", str(subset), "--output", str(pairs),
             "--model-a", policy["path"], "--version-a", policy["version"],
             "--model-b", policy["previous_path"], "--version-b", policy["previous"],
             "--max-new-tokens", str(plan["max_new_tokens"]), "--seed", "0"],
        )
    report = import_file(batch=following, path=pairs, kind="pairs",
                         dataset=f"sampled by {policy['version']}")
    Batch.objects.filter(pk=following.pk).update(
        model_versions=[policy["version"], policy["previous"]])
    return {"next_batch": following.pk, "next_batch_name": following.name,
            "pairs": str(pairs), "imported": report.imported, "problems": report.problem_count}


def open_next_batch(ctx: StepContext) -> dict:
    following = next_batch_for(ctx.pipeline)
    following.refresh_from_db()
    if following.status in (BatchStatus.DRAFT, BatchStatus.SCHEDULED):
        target = (BatchStatus.OPEN if following.opens_at <= timezone.now()
                  else BatchStatus.SCHEDULED)
        following = batch_move(batch=following, to=target)
    return {"next_batch": following.pk, "status": following.status}


FUNCTIONS: dict[str, Callable[[StepContext], dict]] = {
    "close_batch": close_batch,
    "export": export,
    "train_helpfulness_rm": train_helpfulness_rm,
    "train_safety_rm": train_safety_rm,
    "evaluate_rms": evaluate_rms,
    "rejection_sampling": rejection_sampling,
    "ppo": ppo,
    "register_policy": register_policy,
    "sample_next_batch": sample_next_batch,
    "open_next_batch": open_next_batch,
}
