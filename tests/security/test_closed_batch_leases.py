"""Issue 18, low: a lease on a batch that closed kept coming back from ``next`` until
skipped, and skip was accepted there while submit was refused.

Now such a lease is released: ``next`` serves the next open batch (or nothing), and submit
and skip both answer 409 ``batch_not_open``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from paddock.annotation.models import Assignment, BatchStatus, Judgement
from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch, make_comparisons

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def close(batch, how: str) -> None:
    if how == "status":
        batch.status = BatchStatus.CLOSED
    else:  # its closing time passed while it stayed "open"
        batch.closes_at = timezone.now() - timedelta(seconds=1)
    batch.save()


@pytest.mark.parametrize("how", ["status", "closing_time"])
def test_a_lease_on_a_closed_batch_is_released_and_refused_alike(make_user, how):
    annotator = make_user(Role.ANNOTATOR)
    first = make_batch(closes_at=timezone.now() + timedelta(days=1))
    make_comparisons(first, 2)
    client = api(annotator)
    lease = client.post(reverse("annotation-api:next")).json()
    close(first, how)

    # next does not hand the closed batch's lease out again: nothing else is open.
    assert client.post(reverse("annotation-api:next")).status_code == 204
    assert client.post(reverse("annotation-api:next")).status_code == 204
    held = Assignment.objects.get(pk=lease["assignment_id"])
    assert held.expires_at <= timezone.now()  # released

    skip = client.post(reverse("annotation-api:skip", args=[lease["assignment_id"]]),
                       {"reason": "Batch closed"}, format="json")
    submit = client.post(reverse("annotation-api:submit", args=[lease["assignment_id"]]),
                         {"chosen": "left", "strength": "better"}, format="json")
    assert (skip.status_code, submit.status_code) == (409, 409)
    assert skip.json()["error"] == submit.json()["error"] == "batch_not_open"
    assert not Judgement.objects.exists()


def test_after_a_closed_batchs_lease_the_next_open_batch_is_served(make_user):
    annotator = make_user(Role.ANNOTATOR)
    closing = make_batch(closes_at=timezone.now() + timedelta(hours=1))
    later = make_batch(closes_at=timezone.now() + timedelta(days=5))
    make_comparisons(closing, 1)
    make_comparisons(later, 1)
    client = api(annotator)
    first = client.post(reverse("annotation-api:next")).json()
    close(closing, "status")
    second = client.post(reverse("annotation-api:next"))
    assert second.status_code == 200
    assert second.json()["assignment_id"] != first["assignment_id"]
    assert second.json()["batch"] == later.name
