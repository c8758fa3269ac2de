"""What each pipeline step does. Here Django and the training code meet.

Training and sampling run as child processes (``python -m paddock.training.reward`` and
``python -m paddock.training.policy``), never in the worker's own interpreter: the worker
stays small, a CUDA crash takes down the child and not the worker, and progress comes
back as the CLIs' JSON lines. Each step writes into its own folder of the run
(``$PADDOCK_ARTIFACTS_DIR/pipelines/<run>/<step>/``), where the trainers keep their
checkpoints (every 50 steps or 10 minutes, the CLIs' defaults), so a step re-run after a
killed worker resumes from them. Models are
registered under keys made of the run's id, so a repeated registration returns the
version the first one made.

Prompts have one identity everywhere (see :mod:`paddock.annotation.services.prompts_export`,
``prompt-`` and a hash of the normalised first user turn): it is the ``id`` of every
prompts file written here, so the rejection-sampling pool (keyed by prompt id) merges a
prompt asked again in a later round, and a held-out prompt is recognised in any batch.
A held-out prompt (one of a held-out comparison, this batch's or an earlier one's) is
never training data: rejection sampling and PPO never see it (PPO evaluates on it), and
the next batch never asks it again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from paddock.annotation.generation import STAND_IN_PREFIX
from paddock.annotation.models import (
    Axis,
    Batch,
    BatchStatus,
    Conversation,
    ConversationOrigin,
    Judgement,
)
from paddock.annotation.services.batches import batch_move
from paddock.annotation.services.export import (
    REASKED,
    export_batch,
    export_path,
)
from paddock.annotation.services.importing import import_file
from paddock.annotation.services.next_batch import next_batch_ensure, next_batch_open
from paddock.annotation.services.prompts_export import (
    earlier_batches,
    held_out_prompt_ids,
    prompt_records,
    prompts_export,
)
from paddock.kernel.exchange import (
    PREFERENCES,
    PROMPTS,
    manifest_path,
    read_records,
    write_records,
)
from paddock.kernel.registry import POLICY, REWARD_KIND_BY_AXIS, ModelVersion
from paddock.workers.models import PipelineRun
from paddock.workers.pipeline.child import run_training_cli
from paddock.workers.pipeline.runner import StepContext
from paddock.workers.registry import model_registry


class StepError(RuntimeError):
    """A step cannot go on; the message says why and what to do."""


def _repeated(flag: str, values) -> list[str]:
    """``--flag v1 --flag v2 ...`` for a CLI option that may be given many times."""
    return [part for value in values for part in (flag, value)]


def _folder(ctx: StepContext, name: str | None = None) -> Path:
    folder = ctx.workdir / (name or ctx.step.step)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# What a plan section holds when the stored plan predates a key (plans are stored per run).
PLAN_DEFAULTS: dict[str, dict[str, Any]] = {
    "rejection": {"temperature": 1.2, "max_prompts": None},
    "ppo": {"max_eval_prompts": None},
    "sampling": {"temperature": 0.7},
    "held_out": {"fraction": None, "max": None},
}
# The plan's PPO keys that are PPOConfig fields (max_eval_prompts is the pipeline's own).
PPO_SETTINGS = ("iterations", "batch_size", "minibatch_size", "micro_batch_size",
                "max_new_tokens", "eval_every", "patience")


def _plan(ctx: StepContext, section: str) -> dict[str, Any]:
    return {**PLAN_DEFAULTS.get(section, {}), **(ctx.pipeline.plan.get(section) or {})}


def _ranked(records: Iterable[dict], salt: str) -> list[dict]:
    """A fixed pseudo-random order of prompt records: by a hash of ``salt`` and their id."""
    return sorted(records, key=lambda r: hashlib.sha256(f"{salt}:{r['id']}".encode()).digest())


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


def _held_out_ids(ctx: StepContext) -> set[str]:
    """Prompt ids of every held-out prompt so far (the export step wrote them)."""
    exported = ctx.result_of("export")
    path = exported.get("held_out_prompts")
    if path and Path(path).is_file():
        return {record["id"] for record in read_records(path, kind=PROMPTS)}
    # a run exported before held-out prompts were written
    return held_out_prompt_ids(ctx.pipeline.batch)


def export(ctx: StepContext) -> dict:
    """This batch's judgements and prompts; every earlier closed batch's judgements too
    (the reward models retrain on everything collected so far). Its test split follows
    the plan's ``held_out`` fraction and maximum. Two prompts files, one record per prompt
    id: ``held_out_prompts.jsonl``, the held-out prompts of this batch and every earlier
    one, and ``prompts.jsonl``, this batch's other prompts (what the policy trains on)."""
    batch = ctx.pipeline.batch
    held = _plan(ctx, "held_out")
    manifest = export_batch(batch, "preferences",
                            progress=lambda f, m="": ctx.report(f * 0.8, m or "exporting"),
                            held_out_fraction=held["fraction"], held_out_max=held["max"])
    earlier = earlier_batches(batch)
    exports = []
    for before in earlier:
        path = export_path(before, "preferences")
        if not path.exists():
            export_batch(before, "preferences")
        exports.append(str(path))
    exports.append(str(export_path(batch, "preferences")))
    prompts = prompts_export(batch_id=batch.pk, folder=_folder(ctx))
    if batch.status == BatchStatus.CLOSED:
        batch_move(batch=batch, to=BatchStatus.EXPORTED)
    return {"preferences": str(export_path(batch, "preferences")), "counts": manifest["counts"],
            "held_out": manifest["held_out"], **prompts, "training_exports": exports}


# --- reward models -------------------------------------------------------------------

RM_KINDS = REWARD_KIND_BY_AXIS  # axis -> the registry's kind


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
         "--split", "train", *_repeated("--data", data), *_repeated("--set", overrides)],
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


def held_out_eval_set(exports: Iterable[str], axis: str, path: Path) -> dict[str, Any]:
    """The test-split records of ``axis`` in ``exports`` (this batch's and every earlier
    one's preference exports), written to ``path``: a set that only grows week by week,
    since an export's split never changes. Returns what it holds."""
    batches: list[str] = []
    count = 0

    def records() -> Iterator[dict]:
        nonlocal count
        for export_file in exports:
            for record in read_records(export_file, kind=PREFERENCES):
                if record.get("split") != "test" or record.get("axis") != axis:
                    continue
                if record["batch"] not in batches:
                    batches.append(record["batch"])
                count += 1
                yield record

    write_records(path, records(), kind=PREFERENCES)
    return {"axis": axis, "batches": batches, "pairs": count}


def evaluate_rms(ctx: StepContext) -> dict:
    """Each RM on its own axis's held-out pairs: the helpfulness RM on the helpfulness
    test split, the safety RM on the safety one, of this batch and every earlier closed
    batch (the same pairs next week, plus next week's). The JSON lands next to each model
    (``<model>/eval/``), where the console reads it."""
    exported = ctx.result_of("export")
    folder = _folder(ctx)
    results = {}
    for rm in RM_KINDS:
        trained = ctx.result_of(f"train_{rm}_rm")
        data = folder / f"held_out_{rm}.jsonl"
        eval_set = held_out_eval_set(exported["training_exports"], rm, data)
        if not eval_set["pairs"]:
            results[rm] = {"skipped": f"no held-out {rm} judgements yet", "eval_set": eval_set}
            continue
        name = (f"{rm} RM on held-out {rm} pairs of {len(eval_set['batches'])} "
                f"batch(es) to {ctx.pipeline.batch.name}")
        done = run_training_cli(
            ctx, "paddock.training.reward",
            ["eval", "--model", trained["path"], "--data", f"paddock={data}",
             "--split", "test", "--name", name, "--output", str(Path(trained["path"]) / "eval")],
            allow_usage_error="no pairs to evaluate",
        )
        results[rm] = ({"skipped": f"no usable held-out {rm} pairs", "eval_set": eval_set}
                       if done is None
                       else {"accuracy": done["accuracy"], "pairs": done["pairs"],
                             "json": done["json"], "eval_set": eval_set})
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


def _training_prompts(ctx: StepContext, *, limit: int | None, salt: str) -> list[dict]:
    """This batch's training prompts (the export step left every held-out one out), at
    most ``limit`` of them in a fixed order drawn from the batch (the same on a re-run)."""
    records = read_records(ctx.result_of("export")["prompts"], kind=PROMPTS)
    if limit is not None and len(records) > limit:
        records = _ranked(records, f"{salt}:{ctx.pipeline.batch_id}")[:limit]
    return records


def _sft_settings(plan: dict) -> list[str]:
    """The SFT half of rejection sampling, from the plan (a plan stored before the SFT keys
    existed gets SFTConfig's own defaults for them)."""
    settings = [f"epochs={plan['epochs']}"]
    if "learning_rate" in plan:
        settings.append(f"learning_rate={json.dumps(plan['learning_rate'])}")
    if "batch_sequences" in plan:
        batch = int(plan["batch_sequences"])
        settings += [f"batch_sequences={batch}",
                     f"micro_batch_sequences={math.gcd(batch, 8)}"]  # divides the batch
    return settings


def rejection_sampling(ctx: StepContext) -> dict:
    plan = _plan(ctx, "rejection")
    policy = current_policy()
    folder = _folder(ctx)
    prompts = folder / "prompts.jsonl"
    count = write_records(prompts, _training_prompts(ctx, limit=plan["max_prompts"],
                                                    salt="rejection"), kind=PROMPTS)
    done = run_training_cli(
        ctx, "paddock.training.policy",
        ["rejection", "--model", str(policy.path), "--prompts", str(prompts),
         *_reward_paths(ctx), *_previous_pool(ctx),
         "--k", str(plan["k"]), "--temperature", str(plan["temperature"]),
         "--max-new-tokens", str(plan["max_new_tokens"]),
         "--round", str(ctx.pipeline.pk), "--output", str(folder),
         *_repeated("--set", _sft_settings(plan))],
    )
    return {"model": done["output_dir"], "pool": done["pool"], "from": policy.version,
            "prompts": str(prompts), "prompt_count": count,
            "metrics": done.get("metrics") or {}}


def ppo(ctx: StepContext) -> dict:
    """PPO on this batch's training prompts; it evaluates on held-out prompts (at most
    ``max_eval_prompts``) to stop early."""
    plan = _plan(ctx, "ppo")
    start = ctx.result_of("rejection_sampling").get("model") or str(current_policy().path)
    folder = _folder(ctx)
    prompts = folder / "prompts.jsonl"
    write_records(prompts, _training_prompts(ctx, limit=None, salt="ppo"), kind=PROMPTS)
    held_out_path = ctx.result_of("export").get("held_out_prompts")
    held_out = (_ranked(read_records(held_out_path, kind=PROMPTS),
                        f"ppo-eval:{ctx.pipeline.batch_id}")
                if held_out_path and Path(held_out_path).is_file() else [])
    if plan["max_eval_prompts"] is not None:
        held_out = held_out[: plan["max_eval_prompts"]]
    evaluation: list[str] = []
    if held_out:
        eval_prompts = folder / "eval_prompts.jsonl"
        write_records(eval_prompts, held_out, kind=PROMPTS)
        evaluation = ["--eval-prompts", str(eval_prompts)]
    overrides = [f"{key}={json.dumps(plan[key])}" for key in PPO_SETTINGS if key in plan]
    done = run_training_cli(
        ctx, "paddock.training.policy",
        ["ppo", "--model", start, "--prompts", str(prompts), *evaluation,
         *_reward_paths(ctx), "--output", str(folder), *_repeated("--set", overrides)],
    )
    return {"model": done["output_dir"], "metrics": done.get("metrics") or {},
            "eval_prompts": len(held_out)}


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
    """The batch after this one (:func:`paddock.annotation.services.next_batch.next_batch_ensure`),
    chosen once per run: the run's row is locked while it is found or created, and keeps it."""
    if pipeline.next_batch_id:
        return pipeline.next_batch
    with transaction.atomic():
        locked = PipelineRun.objects.select_for_update().get(pk=pipeline.pk)
        if locked.next_batch_id:
            return locked.next_batch
        following = next_batch_ensure(after_batch_id=pipeline.batch_id,
                                      created_by_id=pipeline.created_by_id)
        locked.next_batch = following
        locked.save(update_fields=["next_batch"])
    return following


def prompt_pool(batch: Batch, following: Batch, held_out: set[str]
                ) -> tuple[list[dict], list[dict]]:
    """The prompts the next batch may ask: (not yet asked, asked before), one record per
    prompt id. Drawn from this batch and every earlier closed one (prompts imported
    without responses, prompts nobody judged or judged only on stand-in text, judged
    ones); never a held-out prompt, nor
    one already in ``following``; public preference data is not a prompt source. A prompt
    asked before is marked (``metadata.reasked``): it was training data, so the next
    batch's split never holds it out."""
    history = [b.pk for b in earlier_batches(batch)] + [batch.pk]
    judged = set(  # a judgement on placeholder text never asked the prompt for real
        Judgement.objects.filter(skipped=False, comparison__batch_id__in=history)
        .exclude(comparison__response_a__model_version__startswith=STAND_IN_PREFIX)
        .exclude(comparison__response_b__model_version__startswith=STAND_IN_PREFIX)
        .values_list("comparison__conversation_id", flat=True).distinct())
    queued = {record["id"] for _, record in
              prompt_records(Conversation.objects.filter(batch=following))}
    pool: dict[str, tuple[dict, bool]] = {}
    for pk, record in prompt_records(
        Conversation.objects.filter(batch_id__in=history)
        .exclude(origin=ConversationOrigin.OPEN_SOURCE)
    ):
        if record["id"] in held_out or record["id"] in queued:
            continue
        _, asked = pool.get(record["id"], (record, False))
        pool[record["id"]] = (record, asked or pk in judged)  # the newest conversation's
    fresh = [record for record, asked in pool.values() if not asked]
    again = [{**record, "metadata": {REASKED: True}} for record, asked in pool.values() if asked]
    return fresh, again


def choose_prompts(fresh: list[dict], again: list[dict], *, limit: int,
                   quotas: dict[str, int], salt: str) -> list[dict]:
    """At most ``limit`` prompts, the not-yet-asked first, then those asked before (each
    group in a fixed order drawn from ``salt``), split over the axes in proportion to
    ``quotas``. An axis short of prompts leaves its share to another axis that has a
    quota; an axis whose quota is 0 gets none (unless no axis has a quota)."""
    ordered = _ranked(fresh, salt) + _ranked(again, salt)
    total = sum(quotas.values())
    if total == 0:
        return ordered[:limit]
    axes = [axis for axis in quotas if quotas[axis] > 0]
    want = {axis: round(limit * quotas[axis] / total) for axis in axes[1:]}
    want[axes[0]] = max(limit - sum(want.values()), 0)
    by_axis = {axis: [r for r in ordered if r["axis"] == axis] for axis in axes}
    taken = {axis: min(want[axis], len(by_axis[axis])) for axis in axes}
    spare = limit - sum(taken.values())
    for axis in axes:
        extra = min(spare, len(by_axis[axis]) - taken[axis])
        taken[axis] += extra
        spare -= extra
    chosen = {id(r) for axis in axes for r in by_axis[axis][: taken[axis]]}
    return [r for r in ordered if id(r) in chosen]


def sample_next_batch(ctx: StepContext) -> dict:
    """Pairs from the new and the previous policy, imported into the next batch: the
    reward models then learn on the new policy's distribution. The prompts come from the
    pool (:func:`prompt_pool`, :func:`choose_prompts`): prompts not yet asked first, then
    ones asked before, in the next batch's axis proportions, never a held-out one.

    Safe to run again after a killed worker: the chosen prompts are kept in the step's
    folder, the pairs file appears only once the sampler is done (written under another
    name and renamed), and importing the same file into the same batch twice imports it
    once (a cut import resumes)."""
    policy = ctx.result_of("register_policy")
    following = next_batch_for(ctx.pipeline)
    plan = _plan(ctx, "sampling")
    folder = _folder(ctx)
    subset = folder / "prompts.jsonl"
    if not subset.exists():
        fresh, again = prompt_pool(ctx.pipeline.batch, following, _held_out_ids(ctx))
        chosen = choose_prompts(
            fresh, again, limit=plan["max_prompts"], salt=f"sample:{ctx.pipeline.batch_id}",
            quotas={Axis.HELPFULNESS.value: following.helpfulness_quota,
                    Axis.SAFETY.value: following.safety_quota})
        write_records(subset, chosen, kind=PROMPTS)
    chosen = read_records(subset, kind=PROMPTS)
    summary = {"prompts": len(chosen),
               "reasked": sum(bool((r.get("metadata") or {}).get(REASKED)) for r in chosen),
               "by_axis": {axis: sum(r["axis"] == axis for r in chosen) for axis in Axis.values}}
    pairs = folder / "pairs.jsonl"
    imported = problems = 0
    if chosen:
        if not pairs.exists():
            # The sampler writes atomically, but only a finished file may ever carry the
            # name the import (and a re-delivery) trusts, whatever CLI wrote it: written
            # aside, then renamed with its manifest.
            partial = folder / "pairs.partial.jsonl"
            temperature = str(plan["temperature"])
            run_training_cli(
                ctx, "paddock.training.policy",
                ["sample", "--conversations", str(subset), "--output", str(partial),
                 "--model-a", policy["path"], "--version-a", policy["version"],
                 "--model-b", policy["previous_path"], "--version-b", policy["previous"],
                 "--temperature-a", temperature, "--temperature-b", temperature,
                 "--max-new-tokens", str(plan["max_new_tokens"]), "--seed", "0"],
            )
            if manifest_path(partial).exists():
                os.replace(manifest_path(partial), manifest_path(pairs))
            os.replace(partial, pairs)
        report = import_file(batch=following, path=pairs, kind="pairs",
                             dataset=f"sampled by {policy['version']}")
        imported, problems = report.imported, report.problem_count
    Batch.objects.filter(pk=following.pk).update(
        model_versions=[policy["version"], policy["previous"]])
    return {"next_batch": following.pk, "next_batch_name": following.name,
            "pairs": str(pairs), "imported": imported, "problems": problems, **summary}


def open_next_batch(ctx: StepContext) -> dict:
    following = next_batch_open(batch_id=next_batch_for(ctx.pipeline).pk)
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
