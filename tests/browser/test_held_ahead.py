"""The workspace never waits for the network after a key press (issue 20): it holds the next
comparison leased ahead, paints it at the key press and sends the answer afterwards.

Real headless Chromium against the live server. "No request before the paint" is read from
the page's own clock: the resource timings of the requests the key press caused start after
the end of the page's "paddock:render" measure of the comparison it painted.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from paddock.annotation.models import Assignment, Judgement
from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch, make_comparisons
from tests.browser.helpers import log_in, next_assignment_shown, shown_assignment
from tests.support.timing import wait_until

pytestmark = pytest.mark.browser

HELD = "document.getElementById('workspace').dataset.held"


def held_assignment(page, *, other_than: int | None = None) -> int:
    """Wait until the page holds a comparison leased ahead (not ``other_than``); its id."""
    page.wait_for_function(
        f"other => {HELD} && {HELD} !== String(other)", arg=other_than if other_than else ""
    )
    return int(page.evaluate(HELD))


def live(assignment_id: int) -> bool:
    """Leased now; a released lease is gone (its comparison may come back to the same
    annotator later: they never saw it)."""
    return Assignment.objects.filter(pk=assignment_id, expires_at__gt=timezone.now()).exists()


def wait_released(assignment_id: int) -> None:
    wait_until(lambda: not Assignment.objects.filter(pk=assignment_id).exists(), timeout=10,
               describe=lambda: f"assignment {assignment_id} is still there: "
                                f"{Assignment.objects.filter(pk=assignment_id).first()}")


def requests_after_the_paint(page, since: float, path_end: str) -> dict:
    """Once the request ending in ``path_end`` has finished: the page's clock for the end
    of the last comparison drawn, and every request started at ``since`` or later."""
    page.wait_for_function(
        "end => performance.getEntriesByType('resource').some(r => r.name.endsWith(end))",
        arg=path_end,
    )
    return page.evaluate(
        "since => { const drawn = performance.getEntriesByName('paddock:render').at(-1);"
        " return { drawn: drawn.startTime + drawn.duration,"
        "   requests: performance.getEntriesByType('resource')"
        "     .filter(r => r.startTime >= since)"
        "     .map(r => ({ url: r.name, start: r.startTime })) }; }",
        since,
    )


def assert_painted_before_any_request(seen: dict, path_end: str) -> None:
    assert any(r["url"].endswith(path_end) for r in seen["requests"]), seen
    early = [r for r in seen["requests"] if r["start"] < seen["drawn"]]
    assert early == [], f"requests started before the next comparison was drawn: {seen}"


def test_a_key_press_paints_the_held_comparison_before_any_request(page, make_user):
    annotator = make_user(Role.ANNOTATOR)
    make_comparisons(make_batch(), 3)
    log_in(page, annotator)
    first = shown_assignment(page)
    ahead = held_assignment(page)
    assert ahead != first and live(ahead) and live(first)
    assert Assignment.objects.get(pk=ahead).annotator == annotator

    page.keyboard.press("1")
    page.keyboard.press("w")  # "better": submits
    assert next_assignment_shown(page, first) == ahead
    submitted = page.evaluate("performance.getEntriesByName('paddock:submit').at(-1).startTime")
    seen = requests_after_the_paint(page, submitted, f"/assignments/{first}/submit")
    assert_painted_before_any_request(seen, f"/assignments/{first}/submit")
    page.wait_for_function(
        "() => performance.getEntriesByName('paddock:submit-to-next').length === 1")

    judgement = wait_until(lambda: Judgement.objects.filter(assignment_id=first).first(),
                           timeout=10, describe=lambda: "the judgement was not stored")
    assert judgement.chosen_id == judgement.left_response_id  # "1" chose A on the left
    assert judgement.strength == "better"
    # The submit's reply brought the next comparison to hold: the third one.
    third = held_assignment(page, other_than=ahead)
    assert third not in (first, ahead) and live(third) and live(ahead)


def test_a_refused_previous_answer_keeps_the_new_comparison_and_says_so(page, make_user):
    from playwright.sync_api import expect

    annotator, other = make_user(Role.ANNOTATOR), make_user(Role.ANNOTATOR)
    make_comparisons(make_batch(), 3)
    log_in(page, annotator)
    first = shown_assignment(page)
    ahead = held_assignment(page)
    # The lease on screen runs out and another annotator takes the comparison.
    now = timezone.now()
    Assignment.objects.filter(pk=first).update(expires_at=now - timedelta(minutes=1))
    Assignment.objects.create(comparison=Assignment.objects.get(pk=first).comparison,
                              annotator=other, expires_at=now + timedelta(minutes=30),
                              a_on_left=True)

    page.keyboard.press("2")
    page.keyboard.press("q")
    assert next_assignment_shown(page, first) == ahead
    notice = page.locator("#notice")
    expect(notice).to_contain_text("Your answer to the previous comparison was not stored")
    expect(notice).to_contain_text("ran out and another annotator has it now")
    assert int(page.get_attribute("#comparison", "data-assignment")) == ahead
    assert not Judgement.objects.filter(annotator=annotator).exists()

    # A refused answer leased nothing: the page leases ahead again, and work goes on.
    third = held_assignment(page)
    assert third not in (first, ahead)
    page.keyboard.press("1")
    page.keyboard.press("e")
    assert next_assignment_shown(page, ahead) == third
    judgement = wait_until(lambda: Judgement.objects.filter(assignment_id=ahead).first(),
                           timeout=10, describe=lambda: "the second judgement was not stored")
    assert judgement.strength == "slightly_better"


def test_leaving_the_page_releases_the_held_lease_only(page, make_user):
    annotator = make_user(Role.ANNOTATOR)
    make_comparisons(make_batch(), 3)
    log_in(page, annotator)
    first = shown_assignment(page)
    ahead = held_assignment(page)

    page.goto("/api/v1/annotation/progress")  # anywhere else: the workspace is left
    wait_released(ahead)
    assert live(first)  # the comparison on screen is never released

    page.goto("/annotate/")
    assert shown_assignment(page) == first  # still leased, so it comes back
    again = held_assignment(page)
    assert again not in (first, ahead) and live(again)


def test_writing_a_prompt_releases_the_held_lease_and_the_queue_leases_ahead_again(
        page, make_user):
    from playwright.sync_api import expect

    annotator = make_user(Role.ANNOTATOR)
    make_comparisons(make_batch(), 3)
    log_in(page, annotator)
    first = shown_assignment(page)
    ahead = held_assignment(page)

    page.click("#mode-write")
    expect(page.locator("#compose")).to_be_visible()
    wait_released(ahead)
    assert page.evaluate(HELD) == ""
    assert live(first)

    page.click("#mode-queue")
    assert shown_assignment(page) == first
    again = held_assignment(page)
    assert again not in (first, ahead) and live(again)


def test_the_last_comparison_judged_shows_why_the_queue_is_empty(page, make_user):
    from playwright.sync_api import expect

    annotator = make_user(Role.ANNOTATOR)
    make_comparisons(make_batch(name="week 30"), 2)
    log_in(page, annotator)
    first = shown_assignment(page)
    ahead = held_assignment(page)

    page.keyboard.press("1")
    page.keyboard.press("r")
    assert next_assignment_shown(page, first) == ahead
    # The reply has no next comparison: nothing is held, the shown one stays.
    wait_until(lambda: Judgement.objects.filter(assignment_id=first).exists(), timeout=10,
               describe=lambda: "the first judgement was not stored")
    page.keyboard.press("2")
    page.keyboard.press("r")

    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#empty")).to_have_attribute("data-reason", "quota_met")
    expect(page.locator("#empty-detail")).to_contain_text("has all the judgements it needs")
    expect(page.locator("#progress-overall")).to_have_text("2 of 2 comparisons complete")
    assert Judgement.objects.filter(annotator=annotator, skipped=False).count() == 2
    assert page.evaluate(HELD) == ""


def test_a_skip_paints_the_held_comparison_at_once_and_stores_the_skip(page, make_user):
    from playwright.sync_api import expect

    annotator = make_user(Role.ANNOTATOR)
    make_comparisons(make_batch(), 3)
    log_in(page, annotator)
    first = shown_assignment(page)
    ahead = held_assignment(page)

    page.keyboard.press("s")
    expect(page.locator("#skip-dialog")).to_be_visible()
    page.keyboard.press("3")
    before = page.evaluate("performance.now()")
    page.keyboard.press("Enter")
    assert next_assignment_shown(page, first) == ahead
    seen = requests_after_the_paint(page, before, f"/assignments/{first}/skip")
    assert_painted_before_any_request(seen, f"/assignments/{first}/skip")

    skip = wait_until(lambda: Judgement.objects.filter(assignment_id=first).first(),
                      timeout=10, describe=lambda: "the skip was not stored")
    assert skip.skipped
    assert skip.skip_reason == "The responses are identical, empty or cut off"
    assert held_assignment(page, other_than=ahead) not in (first, ahead)
