"""Durable records of background work, so a manager sees it after any restart."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from paddock.workers.queues import Queue


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATES = frozenset({JobState.SUCCEEDED, JobState.CANCELLED})


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
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    progress = models.FloatField(default=0.0, help_text="Fraction done, 0 to 1.")
    message = models.CharField(max_length=500, blank=True, help_text="Latest status line.")
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)
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
