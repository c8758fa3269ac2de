"""Durable records of background work, so a manager sees it after any restart."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from paddock.workers.queues import Queue
from paddock.workers.states import (
    ACTIVE_RUN_STATES,
    DONE_STEP_STATES,
    JOB_STATES,
    PIPELINE_STATES,
    RunState,
    state_choices,
)

__all__ = [
    "ACTIVE_RUN_STATES", "DONE_STEP_STATES", "FINISHED_STATES", "JOB_STATE_CHOICES", "Job",
    "JobState", "PipelineRun", "RunState", "StepRun",
]


# The name jobs' callers knew the vocabulary by; the states a job takes are JOB_STATES.
JobState = RunState
JOB_STATE_CHOICES = state_choices(JOB_STATES)

PIPELINE_STATE_CHOICES = state_choices(PIPELINE_STATES)

FINISHED_STATES = frozenset({RunState.SUCCEEDED, RunState.CANCELLED})


class Job(models.Model):
    """One enqueued Celery task whose outcome matters beyond Redis's result expiry.

    The primary key is also the Celery task id, which makes a redelivered message find its
    own row.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task_name = models.CharField(max_length=200)
    queue = models.CharField(max_length=32, choices=[(q.value, q.value) for q in Queue])
    label = models.CharField(max_length=200, blank=True, help_text="What a person calls it.")
    kwargs = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=JOB_STATE_CHOICES, default=RunState.QUEUED)
    progress = models.FloatField(default=0.0, help_text="Fraction done, 0 to 1.")
    message = models.CharField(max_length=500, blank=True, help_text="Latest status line.")
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    workers_lost = models.PositiveIntegerField(
        default=0, help_text="Deliveries whose worker died while running this job."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0.0, progress__lte=1.0),
                name="job_progress_between_0_and_1",
            )
        ]

    def __str__(self) -> str:
        return f"{self.label or self.task_name} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES


class PipelineRun(models.Model):
    """One turn of the weekly loop for one closed batch: export, reward models, policy,
    next batch's comparisons. PostgreSQL holds the truth; Redis only carries the steps.

    At most one active run per batch (a partial unique constraint), so a second "run now"
    or a duplicate beat tick finds the run that is already going instead of starting one.
    """

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Batch closed on schedule"
        MANUAL = "manual", "Run now"
        RERUN = "rerun", "Re-run"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    batch = models.ForeignKey(
        "annotation.Batch", on_delete=models.PROTECT, related_name="pipeline_runs"
    )
    state = models.CharField(max_length=16, choices=PIPELINE_STATE_CHOICES, default=RunState.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    plan = models.JSONField(default=dict, help_text="Which steps run, with their settings.")
    next_batch = models.ForeignKey(
        "annotation.Batch", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["batch"],
                condition=models.Q(state__in=["pending", "queued", "running"]),
                name="one_active_pipeline_per_batch",
            )
        ]

    def __str__(self) -> str:
        return f"pipeline of {self.batch} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_RUN_STATES

    @property
    def workdir(self):
        from pathlib import Path

        return Path(settings.ARTIFACTS_DIR) / "pipelines" / str(self.pk)


class StepRun(models.Model):
    """One step of a pipeline run: unique per (run, step), so a second delivery of the
    step's task finds this row and either returns its result or resumes it."""

    pipeline = models.ForeignKey(PipelineRun, on_delete=models.CASCADE, related_name="steps")
    step = models.CharField(max_length=40)
    position = models.PositiveSmallIntegerField()
    queue = models.CharField(max_length=32, choices=[(q.value, q.value) for q in Queue])
    state = models.CharField(max_length=16, choices=PIPELINE_STATE_CHOICES,
                             default=RunState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    progress = models.FloatField(default=0.0)
    message = models.CharField(max_length=500, blank=True)
    log_tail = models.TextField(blank=True, help_text="The last lines the step printed.")
    result = models.JSONField(null=True, blank=True, help_text="Artifacts and metrics.")
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds_inside = models.FloatField(
        default=0.0, help_text="Time spent inside the step function, over all attempts."
    )

    class Meta:
        ordering = ["pipeline", "position"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "step"], name="one_row_per_step"),
            models.CheckConstraint(
                condition=models.Q(progress__gte=0.0, progress__lte=1.0),
                name="step_progress_between_0_and_1",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.step} ({self.state})"
