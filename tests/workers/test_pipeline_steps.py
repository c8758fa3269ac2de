"""The pipeline's steps in order, in this process (no broker): what each one leaves."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest
from celery.exceptions import Ignore
from django.conf import settings
from django.utils import timezone

from paddock.annotation.importers import prompt_id
from paddock.annotation.models import (
    Assignment,
    Axis,
    Batch,
    BatchStatus,
    Comparison,
    Conversation,
    RiskCategory,
)
from paddock.annotation.services.assignment import submit_judgement
from paddock.annotation.services.comparisons import (
    ResponseSpec,
    TurnSpec,
    comparison_create,
    conversation_create,
)
from paddock.annotation.services.export import REASKED, held_out_comparisons
from paddock.kernel.registry import POLICY, REWARD_HELPFULNESS, REWARD_SAFETY, ModelRegistry
from paddock.training.policy.cli import build_parser
from paddock.workers.demo import demo_batch_seed
from paddock.workers.models import PipelineRun, RunState, StepRun
from paddock.workers.pipeline import steps
from paddock.workers.pipeline.plan import STEP_NAMES
from paddock.workers.pipeline.runner import run_step
from paddock.workers.pipeline.service import pipeline_start
from paddock.workers.pipeline.steps import FUNCTIONS, choose_prompts
from tests.workers.pipeline_support import (
    FAST_PLAN,
    FakeCLI,
    judge_all,
    set_result,
    step_context,
)


@pytest.fixture(autouse=True)
def own_artifacts(settings, tmp_path):
    """Exports are named by batch id, and ids come again after a test's rollback: each
    test gets its own folder, so no test reads another's export or manifest."""
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"


def run_all(run: PipelineRun) -> None:
    for step in STEP_NAMES:
        run_step(str(run.pk), step, FUNCTIONS[step], task_id=f"test-{step}", worker="test")


def test_one_cycle_trains_both_rms_registers_a_policy_and_fills_the_next_batch(
    db, base_models, make_user
):
    batch = demo_batch_seed(repeats=2)
    # The split is a hash of the comparisons' ids, which depend on what ran before on this
    # database: the first share that holds out pairs of both axes and leaves both axes
    # pairs to train on (uncapped by the batch's test split size for the search).
    Batch.objects.filter(pk=batch.pk).update(test_split_size=batch.comparisons.count())
    batch.refresh_from_db()
    both = {"helpfulness", "safety"}

    def axes(held_out: bool, fraction: float) -> set[str]:
        ids = held_out_comparisons(batch, fraction, None)
        found = (Comparison.objects.filter(pk__in=ids) if held_out
                 else batch.comparisons.exclude(pk__in=ids))
        return set(found.values_list("axis", flat=True))

    fraction = next(f for f in (0.5, 0.4, 0.6, 0.3, 0.7)
                    if axes(True, f) == both and axes(False, f) == both)
    run = pipeline_start(batch, plan={**FAST_PLAN, "held_out": {"fraction": fraction}},
                         user=make_user())
    registry = ModelRegistry(settings.MODEL_REGISTRY_DIR)
    policies_before = len(registry.list(POLICY))

    run_all(run)

    run.refresh_from_db()
    steps = {s.step: s for s in run.steps.all()}
    assert run.state == RunState.SUCCEEDED, {n: (s.state, s.error[-500:]) for n, s in steps.items()}
    assert [s.step for s in run.steps.order_by("position")] == list(STEP_NAMES)
    assert steps["ppo"].state == RunState.SKIPPED  # the default plan starts PPO later
    batch.refresh_from_db()
    assert batch.status == BatchStatus.EXPORTED

    helpful = registry.get(steps["train_helpfulness_rm"].result["version"])
    safety = registry.get(steps["train_safety_rm"].result["version"])
    assert (helpful.kind, safety.kind) == (REWARD_HELPFULNESS, REWARD_SAFETY)
    assert helpful.batch == batch.name and helpful.metrics
    evaluation = steps["evaluate_rms"].result
    for rm in ("helpfulness", "safety"):
        assert 0.0 <= evaluation[rm]["accuracy"] <= 1.0 and evaluation[rm]["pairs"] > 0
        assert evaluation[rm]["eval_set"]["axis"] == rm
        assert evaluation[rm]["eval_set"]["batches"] == [batch.name]
    held_out = held_out_prompt_ids(batch)
    # the export kept the chosen share: ceil(fraction * 18), the test split size uncapped
    assert len(held_out_comparisons(batch)) == math.ceil(fraction * batch.comparisons.count())
    pool_prompts = [json.loads(line) for line in
                    open(steps_dir(run, "rejection_sampling") / "prompts.jsonl")]
    assert pool_prompts and not {p["id"] for p in pool_prompts} & held_out

    policy = registry.get(steps["register_policy"].result["version"])
    assert policy.kind == POLICY and policy.base is not None
    assert set(policy.reward_models) == {helpful.version, safety.version}
    assert len(registry.list(POLICY)) == max(policies_before, 1) + 1

    following = run.next_batch
    assert following is not None and following.status == BatchStatus.OPEN
    assert following.model_versions == [policy.version, policy.base]
    sampled = following.comparisons.select_related("response_a", "response_b")
    assert sampled.count() == FAST_PLAN["sampling"]["max_prompts"]
    assert {c.response_a.model_version for c in sampled} | {
        c.response_b.model_version for c in sampled} == {policy.version, policy.base}
    asked = conversation_prompt_ids(following.conversations.prefetch_related("turns"))
    assert len(asked) == sampled.count() and not asked & held_out
    assert {c.conversation.external_id for c in sampled} == asked

    # Every step delivered again: the stored results, no new versions, no new comparisons.
    versions = {kind: len(registry.list(kind)) for kind in (POLICY, REWARD_HELPFULNESS)}
    comparisons = following.comparisons.count()
    run_all(run)
    assert {kind: len(registry.list(kind)) for kind in versions} == versions
    assert following.comparisons.count() == comparisons
    assert all(s.attempts == 1 for s in run.steps.exclude(state=RunState.SKIPPED))


def test_a_step_running_elsewhere_drops_the_duplicate_delivery(db, base_models):
    batch = demo_batch_seed(repeats=1)
    run = pipeline_start(batch, plan=FAST_PLAN)
    StepRun.objects.filter(pipeline=run, step="close_batch").update(
        state=RunState.RUNNING, heartbeat_at=timezone.now(), worker="gpu0@elsewhere")
    calls = []
    with pytest.raises(Ignore):
        run_step(str(run.pk), "close_batch", lambda ctx: calls.append(1) or {},
                 task_id="duplicate", worker="test")
    assert calls == []
    row = StepRun.objects.get(pipeline=run, step="close_batch")
    assert (row.state, row.worker, row.attempts) == (RunState.RUNNING, "gpu0@elsewhere", 0)


def test_a_run_whose_plan_switches_off_the_last_step_still_succeeds(db):
    batch = demo_batch_seed(repeats=1)
    run = pipeline_start(batch, plan={"steps": {"open_next_batch": False}})
    StepRun.objects.filter(pipeline=run).exclude(step="open_next_batch").update(
        state=RunState.SUCCEEDED)
    PipelineRun.objects.filter(pk=run.pk).update(state=RunState.RUNNING)
    calls = []
    result = run_step(str(run.pk), "open_next_batch", lambda ctx: calls.append(1) or {},
                      task_id="last", worker="test")
    assert calls == [] and "skipped" in result
    run.refresh_from_db()
    assert run.state == RunState.SUCCEEDED and run.finished_at is not None


def test_a_failed_step_fails_the_run_with_the_error_and_a_rerun_resumes_there(db, base_models):
    from paddock.workers.pipeline.service import pipeline_rerun

    batch = demo_batch_seed(repeats=1)
    run = pipeline_start(batch, plan=FAST_PLAN)
    run_step(str(run.pk), "close_batch", FUNCTIONS["close_batch"], task_id="a", worker="t")

    def broken(ctx):
        raise OSError("disk full while exporting")

    with pytest.raises(OSError):
        run_step(str(run.pk), "export", broken, task_id="b", worker="t")
    run.refresh_from_db()
    assert run.state == RunState.FAILED and "disk full" in run.error
    assert StepRun.objects.get(pipeline=run, step="export").state == RunState.FAILED

    step = StepRun.objects.get(pipeline=run, step="export")
    assert step.error == step.message == "OSError: disk full while exporting"  # no traceback

    again = pipeline_rerun(run, from_step="export")
    rows = {s.step: s for s in again.steps.all()}
    assert rows["close_batch"].state == RunState.SUCCEEDED
    assert rows["close_batch"].result == StepRun.objects.get(pipeline=run,
                                                             step="close_batch").result
    assert rows["export"].state == RunState.QUEUED
    run_step(str(again.pk), "export", FUNCTIONS["export"], task_id="c", worker="t")
    assert StepRun.objects.get(pipeline=again, step="export").state == RunState.SUCCEEDED


def test_one_active_run_per_batch(db):
    batch = demo_batch_seed(repeats=1)
    first = pipeline_start(batch)
    assert pipeline_start(batch).pk == first.pk
    assert PipelineRun.objects.filter(batch=batch).count() == 1


# --- the steps one by one, with the training CLIs stood in for -------------------------


def week(name: str, *, days_ago: int, helpful: int, safety: int, texts: str = "") -> Batch:
    """An open batch with ``helpful`` + ``safety`` single-turn comparisons; one made with
    a larger ``days_ago`` closes earlier (all still accept judgements in the test)."""
    now = timezone.now()
    batch = Batch.objects.create(
        name=name, status=BatchStatus.OPEN, opens_at=now - timedelta(days=7),
        closes_at=now + timedelta(days=1) - timedelta(hours=days_ago),
        helpfulness_quota=helpful, safety_quota=safety, test_split_size=1000)
    for axis, count in ((Axis.HELPFULNESS, helpful), (Axis.SAFETY, safety)):
        for i in range(count):
            conversation = conversation_create(
                batch=batch, turns=[TurnSpec("user", f"{texts or name}: {axis} question {i}")],
                axis=axis, risk_category=RiskCategory.UNQUALIFIED_ADVICE
                if axis == Axis.SAFETY else "")
            comparison_create(conversation=conversation,
                              response_a=ResponseSpec(f"answer A {i}", "policy-0001"),
                              response_b=ResponseSpec(f"answer B {i}", "policy-0002"))
    return batch


def close_and_export(batch: Batch, plan: dict) -> PipelineRun:
    run = pipeline_start(batch, plan=plan)
    for step in ("close_batch", "export"):
        run_step(str(run.pk), step, FUNCTIONS[step], task_id=step, worker="test")
    return run


def conversation_prompt_ids(conversations) -> set[str]:
    return {prompt_id([{"role": t.role, "content": t.content}
                       for t in sorted(c.turns.all(), key=lambda t: t.index)])
            for c in conversations}


def held_out_prompt_ids(batch: Batch) -> set[str]:
    held = held_out_comparisons(batch)
    return conversation_prompt_ids(
        c.conversation for c in Comparison.objects.filter(pk__in=held)
        .select_related("conversation").prefetch_related("conversation__turns"))


@pytest.fixture
def fake_cli(monkeypatch):
    fake = FakeCLI()
    monkeypatch.setattr(steps, "run_training_cli", fake)
    return fake


def test_each_rm_is_evaluated_on_its_axis_held_out_pairs_of_every_batch_so_far(
    db, make_user, fake_cli, tmp_path
):
    rater = make_user()

    def evaluate(batch, number: int):
        judge_all(batch, rater)
        run = close_and_export(batch, FAST_PLAN)
        for rm in ("helpfulness", "safety"):
            set_result(run, f"train_{rm}_rm", {"path": str(tmp_path / f"{rm}-{number}")})
        return run, steps.evaluate_rms(step_context(run, "evaluate_rms"))

    first = week("week 1", days_ago=7, helpful=20, safety=0)
    run1, result1 = evaluate(first, 1)

    assert result1["helpfulness"]["eval_set"] == {"axis": "helpfulness", "batches": ["week 1"],
                                                  "pairs": 4}  # ceil(0.2 * 20)
    assert result1["helpfulness"]["accuracy"] == 0.75 and result1["helpfulness"]["json"]
    assert "skipped" in result1["safety"]  # no safety comparisons yet
    assert len(fake_cli.commands("eval")) == 1

    second = week("week 2", days_ago=0, helpful=10, safety=10)
    _, result2 = evaluate(second, 2)

    helpful, safety = result2["helpfulness"]["eval_set"], result2["safety"]["eval_set"]
    held_out_2 = held_out_comparisons(second)
    second_helpful = Comparison.objects.filter(pk__in=held_out_2, axis=Axis.HELPFULNESS).count()
    assert len(held_out_2) == 4  # ceil(0.2 * 20)
    assert helpful["batches"][0] == "week 1" and helpful["pairs"] == 4 + second_helpful
    assert safety == {"axis": "safety", "batches": ["week 2"] if second_helpful < 4 else [],
                      "pairs": 4 - second_helpful}
    evaluated = {}
    for args in fake_cli.commands("eval")[1:]:
        data = args[args.index("--data") + 1].removeprefix("paddock=")
        records = [json.loads(line) for line in open(data, encoding="utf-8")]
        evaluated[args[args.index("--model") + 1]] = records
        assert args[args.index("--split") + 1] == "test"
    week_1_set = {r["id"] for r in records_of(run1, "evaluate_rms", "helpfulness")}
    helpful_records = evaluated[str(tmp_path / "helpfulness-2")]
    assert {r["axis"] for r in helpful_records} == {"helpfulness"}
    assert {r["split"] for r in helpful_records} == {"test"}
    assert week_1_set <= {r["id"] for r in helpful_records}  # the set only grows
    if second_helpful < 4:
        assert {r["axis"] for r in evaluated[str(tmp_path / "safety-2")]} == {"safety"}


def steps_dir(run, step: str):
    return run.workdir / step


def records_of(run, step: str, rm: str) -> list[dict]:
    path = steps_dir(run, step) / f"held_out_{rm}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_rejection_sampling_and_ppo_train_on_training_prompts_and_ppo_stops_on_held_out_ones(
    db, base_models, make_user, fake_cli, tmp_path
):
    batch = week("week 1", days_ago=0, helpful=12, safety=8)
    judge_all(batch, make_user())
    plan = {**FAST_PLAN, "steps": {"ppo": True},
            "rejection": {**FAST_PLAN["rejection"], "temperature": 1.3, "max_prompts": 5},
            "ppo": {"iterations": 3, "batch_size": 4, "minibatch_size": 2,
                    "micro_batch_size": 1, "max_new_tokens": 8, "eval_every": 1,
                    "patience": 2, "max_eval_prompts": 2}}
    run = close_and_export(batch, plan)
    for rm in ("helpfulness", "safety"):
        set_result(run, f"train_{rm}_rm", {"path": str(tmp_path / rm), "version": rm})
    held_out = held_out_prompt_ids(batch)
    assert len(held_out) == 4  # ceil(0.2 * 20)

    rejection = steps.rejection_sampling(step_context(run, "rejection_sampling"))
    (args,) = fake_cli.commands("rejection")
    assert args[args.index("--temperature") + 1] == "1.3"
    prompts = [json.loads(line) for line in open(args[args.index("--prompts") + 1])]
    assert len(prompts) == rejection["prompt_count"] == 5
    ids = {p["id"] for p in prompts}
    assert all(i.startswith("prompt-") for i in ids) and not ids & held_out

    set_result(run, "rejection_sampling", rejection)
    steps.ppo(step_context(run, "ppo"))
    (args,) = fake_cli.commands("ppo")
    overrides = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    assert sorted(o.split("=")[0] for o in overrides) == sorted(
        ["iterations", "batch_size", "minibatch_size", "micro_batch_size", "max_new_tokens",
         "eval_every", "patience"])  # not max_eval_prompts: the pipeline's own
    assert "patience=2" in overrides and "micro_batch_size=1" in overrides
    evaluation = [json.loads(line) for line in open(args[args.index("--eval-prompts") + 1])]
    assert len(evaluation) == 2 and {p["id"] for p in evaluation} <= held_out
    training = [json.loads(line) for line in open(args[args.index("--prompts") + 1])]
    assert len(training) == 16 and not {p["id"] for p in training} & held_out
    assert args[args.index("--model") + 1] == rejection["model"]

    # The flags are the CLI's own (parsed by its parser, not only by this fake).
    parser = build_parser()
    for args in fake_cli.commands("rejection") + fake_cli.commands("ppo"):
        parser.parse_args(args)


def test_the_next_batch_asks_new_prompts_first_in_its_axis_mix_and_never_a_held_out_one(
    db, make_user, fake_cli
):
    rater = make_user()
    earlier = week("week 1", days_ago=7, helpful=6, safety=0, texts="shared")
    judge_all(earlier, rater)
    close_and_export(earlier, FAST_PLAN)
    batch = week("week 2", days_ago=0, helpful=6, safety=4, texts="shared")
    for i in range(3):  # imported without responses: waiting in the pool
        conversation_create(batch=batch, turns=[TurnSpec("user", f"Waiting prompt {i}")])
    conversation_create(batch=batch, turns=[TurnSpec("user", "Waiting safety prompt")],
                        axis=Axis.SAFETY, risk_category=RiskCategory.ILLICIT_CRIMINAL)
    unjudged = {c.conversation_id for c in batch.comparisons.filter(axis=Axis.SAFETY)[:1]}
    placeholder = conversation_create(batch=batch, turns=[TurnSpec("user", "Written prompt")])
    comparison_create(conversation=placeholder,  # judged below, on placeholder text only
                      response_a=ResponseSpec("[stand-in] A", "stand-in:newest"),
                      response_b=ResponseSpec("[stand-in] B", "stand-in:newest"))
    for comparison in batch.comparisons.exclude(conversation_id__in=unjudged):
        lease = Assignment.objects.create(comparison=comparison, annotator=rater,
                                          expires_at=timezone.now() + timedelta(minutes=5),
                                          a_on_left=True)
        submit_judgement(annotator=rater, assignment_id=lease.pk, chosen_side="left",
                         strength="better", left_safe=True if comparison.axis == "safety"
                         else None, right_safe=True if comparison.axis == "safety" else None)
    batch.helpfulness_quota, batch.safety_quota = 3, 1  # the next batch: 3/4 helpfulness
    batch.save()
    run = close_and_export(batch, {**FAST_PLAN, "sampling": {**FAST_PLAN["sampling"],
                                                             "max_prompts": 8,
                                                             "temperature": 0.9}})
    set_result(run, "register_policy", {"version": "policy-0002", "path": "/new",
                                        "previous": "policy-0001", "previous_path": "/old"})
    held_out = held_out_prompt_ids(batch) | held_out_prompt_ids(earlier)

    result = steps.sample_next_batch(step_context(run, "sample_next_batch"))

    following = PipelineRun.objects.get(pk=run.pk).next_batch
    asked = list(following.conversations.prefetch_related("turns"))
    ids = conversation_prompt_ids(asked)
    assert result["imported"] == len(asked) == len(ids) == 8
    assert {c.external_id for c in asked} == ids  # re-asked prompts keep their identity
    assert not ids & held_out
    by_axis = {axis: sum(c.axis == axis for c in asked) for axis in ("helpfulness", "safety")}
    # 3/4 of 8 are helpfulness prompts, unless the held-out split (a hash of comparison
    # ids, which depend on the tests before on PostgreSQL) leaves fewer than 6 to ask: the
    # short share then goes to safety.
    helpful = conversation_prompt_ids(
        Conversation.objects.filter(batch__in=[batch, earlier], axis=Axis.HELPFULNESS)
        .prefetch_related("turns")) - held_out
    wanted = min(6, len(helpful))
    assert wanted >= 4  # the fresh helpfulness prompts alone
    assert by_axis == {"helpfulness": wanted, "safety": 8 - wanted} == result["by_axis"]
    fresh_ids = conversation_prompt_ids(
        [*Conversation.objects.filter(batch=batch, comparisons__isnull=True),
         *Conversation.objects.filter(pk__in=unjudged), placeholder])
    fresh_ids -= held_out
    assert fresh_ids <= ids  # every prompt not yet asked came first
    reasked = [c for c in asked if c.metadata.get(REASKED)]
    assert len(reasked) == result["reasked"] == 8 - len(fresh_ids)
    assert not {c.external_id for c in reasked} & fresh_ids
    (args,) = fake_cli.commands("sample")
    assert args[args.index("--temperature-a") + 1] == args[args.index("--temperature-b") + 1] \
        == "0.9"
    build_parser().parse_args(args)


def test_a_killed_sampling_step_runs_again_without_duplicating_the_next_batch(
    db, make_user, fake_cli
):
    batch = week("week 1", days_ago=0, helpful=10, safety=0)
    judge_all(batch, make_user())
    run = close_and_export(batch, FAST_PLAN)
    set_result(run, "register_policy", {"version": "policy-0002", "path": "/new",
                                        "previous": "policy-0001", "previous_path": "/old"})
    folder = run.workdir / "sample_next_batch"

    fake_cli.fail_sampling = True  # the worker dies with half the pairs written
    with pytest.raises(RuntimeError):
        steps.sample_next_batch(step_context(run, "sample_next_batch"))
    following = PipelineRun.objects.get(pk=run.pk).next_batch
    assert not (folder / "pairs.jsonl").exists()
    assert following.comparisons.count() == 0 and not following.imports.exists()

    fake_cli.fail_sampling = False
    first = steps.sample_next_batch(step_context(run, "sample_next_batch"))
    assert first["imported"] == following.comparisons.count() == 6  # FAST_PLAN's max_prompts
    again = steps.sample_next_batch(step_context(run, "sample_next_batch"))  # a re-delivery
    assert again["imported"] == 6 and following.comparisons.count() == 6
    assert len(fake_cli.commands("sample")) == 2  # the finished file is not sampled again
    assert following.imports.count() == 1


def test_choose_prompts_fills_quotas_in_order_and_gives_a_short_axis_share_away():
    def records(axis, n, tag):
        return [{"id": f"{tag}-{axis}-{i}", "axis": axis} for i in range(n)]

    fresh = records("helpfulness", 2, "new") + records("safety", 1, "new")
    again = records("helpfulness", 10, "old") + records("safety", 10, "old")
    chosen = choose_prompts(fresh, again, limit=8,
                            quotas={"helpfulness": 1, "safety": 1}, salt="s")
    assert [r["axis"] for r in chosen].count("safety") == 4
    assert {r["id"] for r in fresh} <= {r["id"] for r in chosen}
    assert chosen[:3] == [r for r in chosen if r["id"].startswith("new")]
    # Safety short: helpfulness takes its share; an axis with no quota gets nothing.
    chosen = choose_prompts(fresh, records("helpfulness", 10, "old"), limit=8,
                            quotas={"helpfulness": 1, "safety": 1}, salt="s")
    assert [r["axis"] for r in chosen].count("safety") == 1 and len(chosen) == 8
    chosen = choose_prompts(fresh, again, limit=8, quotas={"helpfulness": 5, "safety": 0},
                            salt="s")
    assert {r["axis"] for r in chosen} == {"helpfulness"} and len(chosen) == 8


def test_a_step_failing_on_a_database_error_shows_a_sentence_not_its_sql(db, base_models):
    """Issue 18, M3: people see a sentence; the SQL and the traceback go to the log."""
    from django.db import DataError

    run = pipeline_start(demo_batch_seed(repeats=1), plan=FAST_PLAN)

    def broken(ctx):
        raise DataError('invalid input syntax for type json\nLINE 1: INSERT INTO "x" ...')

    with pytest.raises(DataError):
        run_step(str(run.pk), "close_batch", broken, task_id="a", worker="t")
    run.refresh_from_db()
    step = StepRun.objects.get(pipeline=run, step="close_batch")
    for shown in (step.error, step.message, run.error):
        assert "INSERT" not in shown and "Traceback" not in shown
        assert "an unexpected error stopped this on the worker" in shown
