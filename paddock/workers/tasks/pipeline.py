"""One Celery task per pipeline step, each on its step's queue. Thin: they take the run's
id and hand over to the runner, which makes every delivery safe."""

from __future__ import annotations

from celery import current_task

from paddock.workers.declare import RetryPolicy, paddock_task
from paddock.workers.pipeline import steps
from paddock.workers.pipeline.plan import BY_NAME
from paddock.workers.pipeline.runner import run_step
from paddock.workers.pipeline.service import pipeline_watch, pipelines_tick
from paddock.workers.queues import Queue


def _run(step: str, pipeline_id: str) -> dict:
    request = current_task.request
    return run_step(pipeline_id, step, steps.FUNCTIONS[step],
                    task_id=request.id or "", worker=request.hostname or "")


def _declare(step: str):
    return paddock_task(name=f"pipeline.{step}", queue=BY_NAME[step].queue, idempotent=True,
                        retry=RetryPolicy.transient(max_retries=3))


@_declare("close_batch")
def close_batch(pipeline_id: str) -> dict:
    return _run("close_batch", pipeline_id)


@_declare("export")
def export(pipeline_id: str) -> dict:
    return _run("export", pipeline_id)


@_declare("train_helpfulness_rm")
def train_helpfulness_rm(pipeline_id: str) -> dict:
    return _run("train_helpfulness_rm", pipeline_id)


@_declare("train_safety_rm")
def train_safety_rm(pipeline_id: str) -> dict:
    return _run("train_safety_rm", pipeline_id)


@_declare("evaluate_rms")
def evaluate_rms(pipeline_id: str) -> dict:
    return _run("evaluate_rms", pipeline_id)


@_declare("rejection_sampling")
def rejection_sampling(pipeline_id: str) -> dict:
    return _run("rejection_sampling", pipeline_id)


@_declare("ppo")
def ppo(pipeline_id: str) -> dict:
    return _run("ppo", pipeline_id)


@_declare("register_policy")
def register_policy(pipeline_id: str) -> dict:
    return _run("register_policy", pipeline_id)


@_declare("sample_next_batch")
def sample_next_batch(pipeline_id: str) -> dict:
    return _run("sample_next_batch", pipeline_id)


@_declare("open_next_batch")
def open_next_batch(pipeline_id: str) -> dict:
    return _run("open_next_batch", pipeline_id)


STEP_TASKS = {
    "close_batch": close_batch, "export": export,
    "train_helpfulness_rm": train_helpfulness_rm, "train_safety_rm": train_safety_rm,
    "evaluate_rms": evaluate_rms, "rejection_sampling": rejection_sampling, "ppo": ppo,
    "register_policy": register_policy, "sample_next_batch": sample_next_batch,
    "open_next_batch": open_next_batch,
}


@paddock_task(name="pipeline.tick", queue=Queue.DEFAULT, idempotent=True)
def tick() -> dict:
    """Every minute (beat): open and close batches on schedule, start the pipelines of
    batches that closed, re-send steps whose worker was lost."""
    return {**pipelines_tick(), **pipeline_watch()}
