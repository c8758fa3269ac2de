"""One Celery task per pipeline step, each on its step's queue. Thin: they take the run's
id and hand over to the runner, which makes every delivery safe."""

from __future__ import annotations

import redis
from celery import current_task
from django.conf import settings

from paddock.curation.services.runs import runs_fail_stale
from paddock.workers.declare import RetryPolicy, paddock_task
from paddock.workers.heartbeat import stale_after
from paddock.workers.pipeline import steps
from paddock.workers.pipeline.canvas import step_task_name
from paddock.workers.pipeline.child import JOIN_TASK, Group, join_group
from paddock.workers.pipeline.plan import BY_NAME, STEP_NAMES
from paddock.workers.pipeline.runner import run_step
from paddock.workers.pipeline.service import pipeline_watch, pipelines_tick
from paddock.workers.queues import Queue


def _step_task(step: str):
    """The task of one step: ``pipeline.<step>`` on the step's queue, safe to deliver twice
    (the runner makes it so), retried only for transient errors."""

    def run(pipeline_id: str) -> dict:
        request = current_task.request
        return run_step(pipeline_id, step, steps.FUNCTIONS[step],
                        task_id=request.id or "", worker=request.hostname or "")

    run.__name__ = run.__qualname__ = step
    return paddock_task(name=step_task_name(step), queue=BY_NAME[step].queue, idempotent=True,
                        retry=RetryPolicy.transient(max_retries=3))(run)


STEP_TASKS = {step: _step_task(step) for step in STEP_NAMES}


@paddock_task(name=JOIN_TASK, queue=Queue.TRAINING_GROUP)
def join_training_group(module: str, args: list[str], processes: int, nodes: int, master: str,
                        node_rank: int) -> dict:
    """Run this machine's ranks of a training step that spans ``nodes`` machines; the step's
    own worker (machine 0) reads the results. Never retried: a second delivery could not
    meet a group that has finished (the message expires, see ``ask_group_to_join``)."""
    group = Group(processes=processes, nodes=nodes, master=master)
    join_group(module, args, group, node_rank)
    return {"module": module, "command": args[0], "node_rank": node_rank, "nodes": nodes}


@paddock_task(name="pipeline.tick", queue=Queue.DEFAULT, idempotent=True)
def tick() -> dict:
    """Every minute (beat): open and close batches on schedule, start the pipelines of
    batches that closed, re-send steps whose worker was lost, fail curation runs whose
    worker was lost.

    A curation run's heartbeat comes from the task working on it; between tasks (its
    shards wait behind other work in the curation queue) nothing beats it. So while the
    curation queue holds messages, a silent run may be waiting rather than lost, and the
    watchdog waits too; once the queue is empty, silence means the worker died."""
    waiting = messages_waiting(Queue.CURATION)
    lost = [] if waiting else runs_fail_stale(stale_after=stale_after())
    return {**pipelines_tick(), **pipeline_watch(), "curation_runs_failed": lost,
            "curation_messages_waiting": waiting}


def messages_waiting(queue: Queue) -> int:
    """Messages waiting in ``queue`` on the broker: kombu's Redis transport keeps each
    queue as a list named after it, under the deployment's key prefix."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=2.0,
                                  socket_timeout=2.0)
    try:
        return int(client.llen(f"{settings.REDIS_KEY_PREFIX}{queue.value}"))
    finally:
        client.close()
