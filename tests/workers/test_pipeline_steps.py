"""The pipeline's steps in order, in this process (no broker): what each one leaves."""

from __future__ import annotations

import pytest
from celery.exceptions import Ignore
from django.conf import settings
from django.utils import timezone

from paddock.annotation.models import BatchStatus
from paddock.training.registry import POLICY, REWARD_HELPFULNESS, REWARD_SAFETY, ModelRegistry
from paddock.workers.demo import demo_batch_seed
from paddock.workers.models import PipelineRun, RunState, StepRun
from paddock.workers.pipeline.plan import STEP_NAMES
from paddock.workers.pipeline.runner import run_step
from paddock.workers.pipeline.service import pipeline_start
from paddock.workers.pipeline.steps import FUNCTIONS
from tests.workers.pipeline_support import FAST_PLAN


def run_all(run: PipelineRun) -> None:
    for step in STEP_NAMES:
        run_step(str(run.pk), step, FUNCTIONS[step], task_id=f"test-{step}", worker="test")


def test_one_cycle_trains_both_rms_registers_a_policy_and_fills_the_next_batch(
    db, base_models, make_user
):
    batch = demo_batch_seed(repeats=2)
    run = pipeline_start(batch, plan=FAST_PLAN, user=make_user())
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
