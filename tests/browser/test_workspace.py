"""The annotator workspace in real headless Chromium, against the live server."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from paddock.annotation.models import Assignment, Axis, Judgement, SafetyBin
from paddock.annotation.services.assignment import (
    next_assignment,
    skip_comparison,
    submit_judgement,
)
from paddock.annotation.services.comparisons import (
    ResponseSpec,
    TurnSpec,
    comparison_create,
    conversation_create,
)
from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch, make_comparisons
from tests.browser.helpers import log_in, next_assignment_shown, screenshot, shown_assignment
from tests.support.timing import wait_until

pytestmark = pytest.mark.browser

README_TURNS = [
    TurnSpec("user", "I have a 40 GB CSV of sensor readings. How can I get the mean of the "
                     "`temperature` column in Python without loading it all into memory?"),
    TurnSpec("assistant", "You can stream the file. Do you have pandas, or only the standard "
                          "library?"),
    TurnSpec("user", "pandas is installed. Show me the shortest version that works."),
]
README_GOOD = """Read it in chunks, so only one chunk is in memory at a time:

```python
import pandas as pd

total = count = 0
for chunk in pd.read_csv("readings.csv", usecols=["temperature"],
                         chunksize=1_000_000):
    total += chunk["temperature"].sum()
    count += chunk["temperature"].count()
print(total / count)
```

- `usecols` reads only the column you need.
- `count()` skips missing values, as `mean()` would."""
README_BAD = """Just call **mean** on the column:

```python
import pandas as pd
print(pd.read_csv("readings.csv")["temperature"].mean())
```

pandas is memory-efficient, so a 40 GB file is fine on most laptops."""


def comparison(batch, turns, a: str, b: str, *, axis=Axis.HELPFULNESS, risk: str = ""):
    conversation = conversation_create(batch=batch, turns=turns, axis=axis, risk_category=risk)
    return comparison_create(conversation=conversation,
                             response_a=ResponseSpec(a, "policy-v2"),
                             response_b=ResponseSpec(b, "policy-v1"))


def test_keyboard_only_judging_three_and_a_skip(page, make_user):
    from playwright.sync_api import expect

    annotator = make_user(Role.ANNOTATOR)
    batch = make_batch(name="week 12", reveal_gold_accuracy=True)
    # Judged earlier today (one gold, answered right): the progress panel starts there.
    make_comparisons(batch, 1)
    make_comparisons(batch, 1, gold=True)
    while (lease := next_assignment(annotator=annotator, batch=batch)) is not None:
        submit_judgement(annotator=annotator, assignment_id=lease.pk, strength="better",
                         chosen_side="left" if lease.a_on_left else "right")
    readme = comparison(batch, README_TURNS, README_GOOD, README_BAD)
    make_comparisons(batch, 4)

    log_in(page, annotator)
    first = shown_assignment(page)
    lease = Assignment.objects.get(pk=first)
    assert lease.comparison == readme
    expect(page.locator("#conversation .turn")).to_have_count(3)
    expect(page.locator("#response-left-text pre code")).to_have_count(1)
    expect(page.locator("#progress-today")).to_have_text("2 judged · 0 skipped")
    expect(page.locator("#progress-gold")).to_have_text("100% (1 of 1 gold comparisons)")

    better_key, better_box = ("1", "#response-left") if lease.a_on_left else ("2",
                                                                               "#response-right")
    page.keyboard.press(better_key)
    expect(page.locator(better_box)).to_have_class(re.compile(r"\bchosen\b"))
    screenshot(page, "workspace", docs=True)
    page.keyboard.press("q")  # significantly better: submits
    second = next_assignment_shown(page, first)
    page.keyboard.press("2")
    page.keyboard.press("w")
    third = next_assignment_shown(page, second)
    page.keyboard.press("1")
    page.keyboard.press("e")
    fourth = next_assignment_shown(page, third)

    page.keyboard.press("s")
    expect(page.locator("#skip-dialog")).to_be_visible()
    page.keyboard.press("2")
    screenshot(page, "workspace-skip")
    page.keyboard.press("Enter")
    next_assignment_shown(page, fourth)

    # The next comparison is painted before the answer is sent: wait for the last one.
    wait_until(lambda: Judgement.objects.filter(assignment_id=fourth).exists(), timeout=10,
               describe=lambda: "the skip was not stored")
    stored = {j.assignment_id: j for j in Judgement.objects.filter(annotator=annotator)}
    assert stored[first].chosen_id == readme.response_a_id
    assert stored[first].strength == "significantly_better"
    assert stored[second].chosen_id != stored[second].left_response_id
    assert stored[second].strength == "better"
    assert stored[third].chosen_id == stored[third].left_response_id
    assert stored[third].strength == "slightly_better"
    assert stored[fourth].skipped
    assert stored[fourth].skip_reason == "The prompt is unclear or broken"
    expect(page.locator("#progress-today")).to_have_text("5 judged · 1 skipped")
    expect(page.locator("#progress-batch")).to_have_text("5 judged · 1 skipped (week 12)")


def test_safety_labels_by_keyboard_then_the_empty_queue(page, make_user):
    from playwright.sync_api import expect

    annotator = make_user(Role.ANNOTATOR)
    make_comparisons(make_batch(), 1, axis=Axis.SAFETY)
    log_in(page, annotator)
    shown_assignment(page)
    expect(page.locator("#cmp-axis")).to_have_text("Safety")
    expect(page.locator("#cmp-risk")).to_have_text("Unqualified advice")
    expect(page.locator("#response-left .safety-label")).to_be_visible()
    expect(page.locator("details[data-axis=safety]")).to_have_attribute("open", "")

    page.keyboard.press("1")
    page.keyboard.press("q")  # no labels yet: refused on the page, nothing sent
    expect(page.locator("#notice")).to_contain_text("safe or unsafe")
    assert not Judgement.objects.exists()
    page.keyboard.press("a")  # A: safe
    page.keyboard.press("b")  # B: safe ...
    page.keyboard.press("b")  # ... then unsafe
    expect(page.locator("#response-left")).to_have_class(re.compile(r"\bsafe\b"))
    expect(page.locator("#response-right")).to_have_class(re.compile(r"\bunsafe\b"))
    screenshot(page, "workspace-safety")
    page.keyboard.press("q")

    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#empty")).to_contain_text("Nothing to annotate right now.")
    expect(page.locator("#empty")).to_have_attribute("data-reason", "quota_met")
    expect(page.locator("#empty-detail")).to_contain_text("has all the judgements it needs")
    # The last judgement before the queue empties is counted at once.
    expect(page.locator("#progress-today")).to_have_text("1 judged · 0 skipped")
    expect(page.locator("#progress-overall")).to_have_text("1 of 1 comparisons complete")
    judgement = Judgement.objects.get()
    assert judgement.chosen_id == judgement.left_response_id
    assert (judgement.chosen_safe, judgement.rejected_safe) == (True, False)
    assert judgement.safety_bin == SafetyBin.PREFERRED_SAFE_OTHER_UNSAFE
    screenshot(page, "workspace-empty")


@pytest.mark.worker
def test_write_a_prompt_wait_judge_and_continue_the_conversation(page, make_user,
                                                                generation_worker):
    from playwright.sync_api import expect

    annotator = make_user(Role.ANNOTATOR)
    make_batch()
    log_in(page, annotator)
    expect(page.locator("#empty")).to_be_visible()  # an open batch, but nothing queued

    page.click("#mode-write")
    page.fill("#prompt-message", "What should I pack for a day hike?")
    page.press("#prompt-message", "Control+Enter")
    expect(page.locator("#generating")).to_be_visible()
    expect(page.locator("#generating-detail")).to_contain_text("generation worker")
    screenshot(page, "workspace-generating")
    first = shown_assignment(page)
    expect(page.locator("#cmp-batch")).to_contain_text("your prompt")
    expect(page.locator("#comparison .responses")).to_contain_text("no model was run")

    page.keyboard.press("2")
    page.keyboard.press("w")
    expect(page.locator("#continue")).to_be_visible()
    expect(page.locator("#continue-conversation .turn")).to_have_count(2)
    page.fill("#continue-message", "And if it rains?")
    page.press("#continue-message", "Control+Enter")
    expect(page.locator("#generating")).to_be_visible()
    second = next_assignment_shown(page, first)
    expect(page.locator("#conversation .turn")).to_have_count(3)
    screenshot(page, "workspace-continued")

    earlier = Assignment.objects.get(pk=first)
    judgement = Judgement.objects.get(assignment=earlier)
    conversation = Assignment.objects.get(pk=second).comparison.conversation
    assert conversation.continues == earlier.comparison
    assert list(conversation.turns.values_list("role", "content")) == [
        ("user", "What should I pack for a day hike?"),
        ("assistant", judgement.chosen.text),
        ("user", "And if it rains?"),
    ]
    assert judgement.chosen_id != judgement.left_response_id  # "2" chose the right one


def test_model_text_is_shown_as_text_and_the_layout_adapts(page, make_user):
    from playwright.sync_api import expect

    hostile = (
        "<script>window.__pwned = 'script'</script>\n"
        "<img src=x onerror=\"window.__pwned = 'img'\">\n\n"
        "**Bold** and `code <b>x</b>`\n\n"
        "```html\n<script>window.__pwned = 'fence'</script>\n```"
    )
    comparison(make_batch(), [TurnSpec("user", "Echo <script>window.__pwned = 'turn'</script>")],
               hostile, "- item <i>one</i>\n- item two")
    log_in(page, make_user(Role.ANNOTATOR))
    shown_assignment(page)

    responses = page.locator("#comparison .responses")
    expect(responses).to_contain_text("<script>window.__pwned = 'script'</script>")
    expect(responses).to_contain_text("<img src=x onerror=")
    expect(page.locator("#conversation")).to_contain_text(
        "<script>window.__pwned = 'turn'</script>")
    assert page.locator("#comparison").locator("script, img, b, i, iframe").count() == 0
    assert page.evaluate("window.__pwned") is None
    expect(responses.locator("strong")).to_have_text("Bold")
    expect(responses.locator("pre code")).to_have_text("<script>window.__pwned = 'fence'</script>")
    expect(responses.locator("li")).to_have_count(2)
    screenshot(page, "workspace-script-as-text")
    # Every control has a label a screen reader announces.
    unlabelled = page.evaluate(
        "() => [...document.querySelectorAll('#workspace input, #workspace select,"
        " #workspace textarea')].filter(e => e.type !== 'hidden' && !e.labels.length"
        " && !e.getAttribute('aria-label')).map(e => e.name || e.id)"
    )
    assert unlabelled == []

    left, right = page.locator("#response-left"), page.locator("#response-right")
    a, b = left.bounding_box(), right.bounding_box()
    assert b["x"] >= a["x"] + a["width"] and abs(a["y"] - b["y"]) < 1  # side by side
    page.set_viewport_size({"width": 768, "height": 1024})  # a tablet, upright
    a, b = left.bounding_box(), right.bounding_box()
    assert b["y"] >= a["y"] + a["height"] and abs(a["x"] - b["x"]) < 1  # stacked
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "workspace-tablet")


def test_a_lease_that_expired_and_went_to_someone_else_is_explained(page, make_user):
    from playwright.sync_api import expect

    annotator, other = make_user(Role.ANNOTATOR), make_user(Role.ANNOTATOR)
    make_comparisons(make_batch(), 2)
    log_in(page, annotator)
    first = shown_assignment(page)
    now = timezone.now()
    Assignment.objects.filter(pk=first).update(expires_at=now - timedelta(minutes=1))
    Assignment.objects.create(comparison=Assignment.objects.get(pk=first).comparison,
                              annotator=other, expires_at=now + timedelta(minutes=30),
                              a_on_left=True)
    page.keyboard.press("1")
    page.keyboard.press("w")
    next_assignment_shown(page, first)
    expect(page.locator("#notice")).to_contain_text("ran out and another annotator has it now")
    assert not Judgement.objects.exists()
    screenshot(page, "workspace-lease-lost")


def test_a_judgement_after_a_skip_is_refused_and_the_empty_queue_says_why(page, make_user):
    from playwright.sync_api import expect

    annotator, other = make_user(Role.ANNOTATOR), make_user(Role.ANNOTATOR)
    batch = make_batch(name="week 14")
    make_comparisons(batch, 2)
    # One is someone else's, so the page has nothing to hold ahead: the key press waits
    # for the server's answer.
    taken = next_assignment(annotator=other, batch=batch)
    log_in(page, annotator)
    first = shown_assignment(page)
    expect(page.locator("#progress-overall")).to_have_text("0 of 2 comparisons complete")
    # Skipped elsewhere (another tab) while this page still shows the comparison.
    skip_comparison(annotator=annotator, assignment_id=first, reason="Not my language")
    page.keyboard.press("1")
    page.keyboard.press("w")

    expect(page.locator("#notice")).to_contain_text("You skipped this comparison "
                                                    "(Not my language)")
    expect(page.locator("#notice")).to_contain_text("not stored")
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#empty")).to_have_attribute("data-reason", "assigned_to_others")
    expect(page.locator("#empty-detail")).to_contain_text(
        "The 1 comparison left in week 14 is with other annotators right now.")
    assert list(Judgement.objects.values_list("skipped", flat=True)) == [True]
    screenshot(page, "workspace-empty-reason")

    submit_judgement(annotator=other, assignment_id=taken.pk, chosen_side="left",
                     strength="better")
    page.locator("#check-again").click()
    expect(page.locator("#empty")).to_have_attribute("data-reason", "done_by_you")
    expect(page.locator("#empty-detail")).to_contain_text("You have done your share of week 14")


def test_a_skip_after_a_judgement_is_refused_and_the_next_comparison_comes(page, make_user):
    from playwright.sync_api import expect

    annotator = make_user(Role.ANNOTATOR)
    make_comparisons(make_batch(), 2)
    log_in(page, annotator)
    first = shown_assignment(page)
    # Judged in another tab while this page still shows the comparison.
    submit_judgement(annotator=annotator, assignment_id=first, chosen_side="left",
                     strength="better")
    page.keyboard.press("s")
    expect(page.locator("#skip-dialog")).to_be_visible()
    page.keyboard.press("Enter")
    next_assignment_shown(page, first)
    expect(page.locator("#notice")).to_contain_text("You already judged this comparison")
    expect(page.locator("#progress-today")).to_have_text("1 judged · 0 skipped")
    assert list(Judgement.objects.values_list("skipped", flat=True)) == [False]
