"""``manage.py seed_demo`` leaves the demo annotator comparisons to judge on first start
(canned pairs, no worker needed), once, and ends its output with the demo users."""

import io

import pytest
from django.core.management import call_command

from paddock.annotation.models import Batch, BatchStatus, Comparison
from paddock.annotation.services.assignment import next_assignment
from paddock.platform.accounts.models import User
from paddock.workers.demo import DEMO_READY_BATCH, HELPFUL, SAFETY

pytestmark = pytest.mark.django_db


def seed_demo() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_the_demo_annotator_has_comparisons_waiting_without_any_worker():
    output = seed_demo()

    batch = Batch.objects.get(name=DEMO_READY_BATCH)
    assert batch.status == BatchStatus.OPEN
    assert batch.comparisons.count() == len(HELPFUL) + len(SAFETY)
    assert not batch.comparisons.filter(judgements__isnull=False).exists()
    lease = next_assignment(annotator=User.objects.get(username="annotator"))
    assert lease is not None and lease.comparison.batch == batch
    assert f"{DEMO_READY_BATCH} ({len(HELPFUL) + len(SAFETY)} comparisons waiting" in output


def test_a_second_run_adds_no_second_ready_batch():
    seed_demo()
    comparisons = Comparison.objects.count()

    seed_demo()

    assert Batch.objects.filter(name=DEMO_READY_BATCH).count() == 1
    assert Comparison.objects.count() == comparisons


def test_the_demo_users_come_last_right_above_the_url_make_run_prints():
    lines = seed_demo().strip().splitlines()

    assert lines[-4] == "Demo users (username / password):"
    assert [line.split()[-3] for line in lines[-3:]] == ["annotator", "manager", "admin"]
