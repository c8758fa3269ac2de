"""The annotation services the weekly loop calls for the next batch (moved out of the
pipeline's steps): found or created once, then opened or scheduled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from paddock.annotation.models import Batch, BatchStatus
from paddock.annotation.services.next_batch import (
    next_batch_ensure,
    next_batch_name,
    next_batch_open,
)

pytestmark = pytest.mark.django_db


def _batch(name: str, status: str, opens_at, days: int = 7) -> Batch:
    return Batch.objects.create(name=name, status=status, opens_at=opens_at,
                                closes_at=opens_at + timedelta(days=days))


def test_a_new_next_batch_copies_the_length_and_settings_and_gets_a_free_name():
    now = timezone.now()
    closed = _batch("week 1", BatchStatus.CLOSED, now - timedelta(days=3), days=3)
    closed.overlap, closed.test_split_size = 2, 7
    closed.save()
    _batch("week 2", BatchStatus.EXPORTED, now - timedelta(days=30))
    following = next_batch_ensure(after_batch_id=closed.pk)
    assert following.name == "week 3"
    assert following.status == BatchStatus.DRAFT
    assert following.closes_at - following.opens_at == timedelta(days=3)
    assert (following.overlap, following.test_split_size) == (2, 7)


def test_the_next_batch_name_counts_on_or_says_next_week():
    assert next_batch_name("demo week 1") == "demo week 2"
    assert next_batch_name("week 09") == "week 10" and next_batch_name("w01") == "w02"
    _batch("june", BatchStatus.EXPORTED, timezone.now())
    assert next_batch_name("june") == "june (next week)"
    _batch("june (next week)", BatchStatus.EXPORTED, timezone.now())
    assert next_batch_name("june") == "june (next week 2)"


def test_an_existing_draft_or_scheduled_batch_after_the_close_is_the_next_one():
    now = timezone.now()
    closed = _batch("week 1", BatchStatus.CLOSED, now - timedelta(days=7))
    planned = _batch("week 2", BatchStatus.SCHEDULED, closed.closes_at + timedelta(days=1))
    assert next_batch_ensure(after_batch_id=closed.pk) == planned
    assert Batch.objects.count() == 2


def test_opening_opens_a_due_batch_schedules_a_later_one_and_leaves_others():
    now = timezone.now()
    due = _batch("due", BatchStatus.DRAFT, now - timedelta(minutes=1))
    later = _batch("later", BatchStatus.DRAFT, now + timedelta(days=1))
    closed = _batch("closed", BatchStatus.CLOSED, now - timedelta(days=9))
    assert next_batch_open(batch_id=due.pk).status == BatchStatus.OPEN
    assert next_batch_open(batch_id=later.pk).status == BatchStatus.SCHEDULED
    assert next_batch_open(batch_id=closed.pk).status == BatchStatus.CLOSED
