"""The one state vocabulary of background work: jobs, pipeline runs and their steps, and
curation runs all say where they are in these words.

Each kind of row takes the subset it can be in (a job is never a draft; only a pipeline
step is skipped), stored as the same strings as before the vocabularies were merged, so
no stored value changed.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models


class RunState(models.TextChoices):
    DRAFT = "draft", "Draft"  # a curation run not started, or stopped between stages
    PENDING = "pending", "Pending"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    SKIPPED = "skipped", "Skipped"  # a pipeline step switched off in its run's plan
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


def state_choices(states: Iterable[RunState]) -> list[tuple[str, str]]:
    """A model field's ``choices`` for ``states``, in the vocabulary's order."""
    wanted = set(states)
    return [(state.value, state.label) for state in RunState if state in wanted]


JOB_STATES = (RunState.QUEUED, RunState.RUNNING, RunState.SUCCEEDED, RunState.FAILED,
              RunState.CANCELLED)
PIPELINE_STATES = (RunState.PENDING, RunState.QUEUED, RunState.RUNNING, RunState.SUCCEEDED,
                   RunState.SKIPPED, RunState.FAILED, RunState.CANCELLED)
CURATION_STATES = (RunState.DRAFT, RunState.QUEUED, RunState.RUNNING, RunState.SUCCEEDED,
                   RunState.FAILED)

ACTIVE_RUN_STATES = (RunState.PENDING, RunState.QUEUED, RunState.RUNNING)
DONE_STEP_STATES = (RunState.SUCCEEDED, RunState.SKIPPED)
