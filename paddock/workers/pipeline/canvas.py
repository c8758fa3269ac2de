"""The steps of a run as Celery primitives over the named queues.

A chain of step tasks; steps of one group (the two reward models) become a chord: both
train in parallel on whatever training workers are free, and evaluation starts once
both are done. Signatures are immutable (``si``): steps share results through their
rows, not through Celery's result passing, so a step re-sent on its own needs nothing
from a message that may be gone.

Steps are sent by task name (``pipeline.<step>``, the name queued messages carry, declared
in :mod:`paddock.workers.tasks.pipeline`) on their plan's queue: the services that send a
run need not import the tasks that call those services back.
"""

from __future__ import annotations

from celery import chain, chord, group
from celery.canvas import Signature

from paddock.platform.celery import app
from paddock.workers.pipeline.plan import STEPS, StepSpec


def step_task_name(step: str) -> str:
    return f"pipeline.{step}"


def _signature(step: StepSpec, pipeline_id: str) -> Signature:
    return app.signature(step_task_name(step.name), args=(pipeline_id,), immutable=True,
                         queue=step.queue.value)


def pipeline_canvas(pipeline_id: str, *, from_step: str | None = None) -> Signature:
    """The rest of the run from ``from_step`` (default: the first step)."""
    names = [step.name for step in STEPS]
    start = names.index(from_step) if from_step else 0
    remaining = STEPS[start:]
    if from_step and remaining[0].group:  # re-running one RM retrains its whole group
        first = next(i for i, s in enumerate(STEPS) if s.group == remaining[0].group)
        remaining = STEPS[first:]
    parts: list[Signature] = []
    index = 0
    while index < len(remaining):
        step = remaining[index]
        if not step.group:
            parts.append(_signature(step, pipeline_id))
            index += 1
            continue
        members = [s for s in remaining[index:] if s.group == step.group]
        index += len(members)
        header = group(_signature(s, pipeline_id) for s in members)
        if index < len(remaining):
            parts.append(chord(header, _signature(remaining[index], pipeline_id)))
            index += 1
        else:
            parts.append(header)
    return chain(*parts) if len(parts) > 1 else parts[0]
