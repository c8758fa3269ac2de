"""A comparison whose batch closed while the workspace showed it (issue 18, low): a skip is
refused like a judgement, the annotator reads why, and the next open batch's comparison
comes; a reload never brings the closed batch's comparison back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from paddock.annotation.models import Assignment, BatchStatus, Judgement
from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch, make_comparisons
from tests.browser.helpers import log_in, next_assignment_shown, screenshot, shown_assignment

pytestmark = pytest.mark.browser


def test_a_skip_on_a_closed_batch_is_refused_and_the_next_batch_comes(page, make_user):
    from playwright.sync_api import expect

    annotator = make_user(Role.ANNOTATOR)
    closing = make_batch(name="week 20", closes_at=timezone.now() + timedelta(hours=1))
    make_comparisons(closing, 1)
    make_comparisons(make_batch(name="week 21", closes_at=timezone.now() + timedelta(days=6)), 1)
    log_in(page, annotator)
    first = shown_assignment(page)
    assert Assignment.objects.get(pk=first).comparison.batch_id == closing.pk
    closing.status = BatchStatus.CLOSED
    closing.save()

    page.keyboard.press("s")
    expect(page.locator("#skip-dialog")).to_be_visible()
    page.keyboard.press("Enter")
    second = next_assignment_shown(page, first)
    expect(page.locator("#notice")).to_contain_text(
        "Batch week 20 is not open any more; nothing was stored.")
    assert not Judgement.objects.exists()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "workspace-batch-closed")

    page.reload()
    assert shown_assignment(page) == second
