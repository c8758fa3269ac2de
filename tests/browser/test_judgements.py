"""The judgement browser in real headless Chromium: a data manager opens a batch's
judgements from its page, filters them, moves with the keys, opens one, goes to its
neighbours, excludes it with a reason, and finds it marked in the list. Both pages fit a
1,280 px screen.

``make screenshots`` (PADDOCK_DOCS_SCREENSHOTS=1) refreshes ``docs/screenshots/
judgements.png`` and ``judgement.png`` from this test.
"""

from __future__ import annotations

import random

import pytest

from paddock.annotation.models import Axis, Judgement, JudgementMark
from paddock.annotation.services.assignment import next_assignment, submit_judgement
from paddock.platform.accounts.models import Role, User
from tests.annotation.factories import make_batch
from tests.browser.helpers import screenshot
from tests.browser.test_console import HELPFUL, SAFETY, log_in_manager

pytestmark = pytest.mark.browser

FITS = "document.documentElement.scrollWidth <= window.innerWidth"


def a_judged_batch():
    """The console test's prompts (helpful and safety), each judged by two of three
    annotators, with comments and a flag here and there."""
    from paddock.annotation.services.comparisons import (
        ResponseSpec,
        TurnSpec,
        comparison_create,
        conversation_create,
    )

    batch = make_batch(name="week 12", overlap=2)
    for axis, rows in ((Axis.HELPFULNESS, HELPFUL), (Axis.SAFETY, SAFETY)):
        for prompt, good, bad in rows:
            conversation = conversation_create(
                batch=batch, turns=[TurnSpec("user", prompt)], axis=axis, origin="imported",
                risk_category="illicit_criminal" if axis == Axis.SAFETY else "")
            comparison_create(conversation=conversation,
                              response_a=ResponseSpec(good, "policy-0004"),
                              response_b=ResponseSpec(bad, "policy-0003"))
    rng = random.Random(12)
    for name in ("ana", "ben", "chloe"):
        person = User.objects.create_user(username=name, password="x", role=Role.ANNOTATOR)
        while (lease := next_assignment(annotator=person, batch=batch, rng=rng)):
            safety = lease.comparison.axis == Axis.SAFETY
            submit_judgement(
                annotator=person, assignment_id=lease.pk,
                chosen_side=rng.choice(["left", "right"]),
                strength=rng.choice(["significantly_better", "better", "slightly_better"]),
                left_safe=rng.random() < 0.7 if safety else None,
                right_safe=rng.random() < 0.7 if safety else None,
                comment=rng.choice(["", "", "Clear winner.", "Both a bit long."]),
                flagged_harmful=safety and rng.random() < 0.3)
    return batch


def test_browse_filter_open_and_exclude_with_the_keys(page, make_user):
    batch = a_judged_batch()
    manager = make_user(Role.DATA_MANAGER)
    log_in_manager(page, manager)
    page.goto(f"/manage/batches/{batch.pk}/")
    page.get_by_role("link", name="Judgements: browse").click()
    page.wait_for_url(f"**/manage/batches/{batch.pk}/judgements/")
    assert page.locator("#judgement-total").inner_text() == "28 judgements"

    page.select_option("#f-axis", "helpfulness")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/judgements/?*axis=helpfulness*")
    helpful = list(Judgement.objects.filter(comparison__batch=batch,
                                            comparison__axis="helpfulness")
                   .order_by("-id").values_list("id", flat=True))
    rows = page.locator("#judgement-list tbody tr")
    assert rows.count() == len(helpful) == 20
    assert page.locator("#judgement-total").inner_text() == "20 judgements match"
    assert page.evaluate(FITS)

    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("k")
    assert page.locator("tr.selected").get_attribute("data-id") == str(helpful[2])
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/judgements/{helpful[2]}?axis=helpfulness")
    assert page.evaluate(FITS)
    page.keyboard.press("n")
    page.wait_for_url(f"**/judgements/{helpful[3]}?axis=helpfulness")
    page.keyboard.press("p")
    page.wait_for_url(f"**/judgements/{helpful[2]}?axis=helpfulness")

    page.keyboard.press("x")
    assert page.evaluate("document.activeElement.id") == "mark-reason"
    page.keyboard.type("The chosen answer is copied from a forum.")
    page.keyboard.press("Enter")
    page.wait_for_selector("#current-mark")
    assert page.locator(".flash").inner_text() == (
        f"Judgement {helpful[2]} marked: excluded from export.")
    mark = JudgementMark.objects.get(judgement_id=helpful[2], current=True)
    assert (mark.state, mark.reason, mark.by_id) == (
        "excluded", "The chosen answer is copied from a forum.", manager.pk)
    assert "copied from a forum" in page.locator("#mark-history").inner_text()
    assert page.evaluate(FITS)
    screenshot(page, "judgement", docs=True)

    page.keyboard.press("Escape")
    page.wait_for_url("**/judgements/?axis=helpfulness")
    row = page.locator(f"#judgement-list tr[data-id='{helpful[2]}']")
    assert "Excluded" in row.inner_text()
    page.keyboard.press("j")  # the selection starts on the first row again
    assert page.locator("tr.selected").get_attribute("data-id") == str(helpful[1])
    screenshot(page, "judgements", docs=True)

    page.select_option("#f-review", "excluded")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**review=excluded*")
    assert page.locator("#judgement-list tbody tr").count() == 1
    assert page.locator("#judgement-total").inner_text() == "1 judgement matches"
