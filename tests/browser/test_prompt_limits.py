"""The workspace says in words when a written prompt is over a quota (issue 18, M2): the
same service answers the page and the API, and the page keeps what was typed."""

from __future__ import annotations

import pytest

from paddock.annotation.generation import StandInGenerator
from paddock.annotation.services.authoring import prompt_submit
from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch
from tests.browser.helpers import log_in, screenshot, shown_assignment
from tests.security.test_prompt_quotas import client_for, write

pytestmark = pytest.mark.browser


def send_from_the_page(page, message: str) -> None:
    page.click("#mode-write")
    page.fill("#prompt-message", message)
    page.press("#prompt-message", "Control+Enter")


def test_a_second_prompt_while_one_waits_is_refused_in_words(page, make_user):
    from playwright.sync_api import expect

    annotator = make_user(Role.ANNOTATOR)
    batch = make_batch()
    # Two earlier prompts of theirs (the default limit), answered and not yet judged (the
    # service, no worker).
    for message in ("How do tides work?", "Why is the sea salty?"):
        prompt_submit(annotator=annotator, batch=batch, message=message,
                      generator=StandInGenerator())
    log_in(page, annotator)
    shown_assignment(page)  # the page offers it first
    expect(page.locator("#cmp-batch")).to_contain_text("your prompt")
    send_from_the_page(page, "What should I pack for a day hike?")
    expect(page.locator("#notice")).to_have_text(
        "Your earlier prompt is still waiting for its responses or for your judgement: judge "
        "or skip it before writing another. You may have 2 of your own prompts open at a time.")
    expect(page.locator("#compose")).to_be_visible()
    expect(page.locator("#prompt-message")).to_have_value("What should I pack for a day hike?")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "workspace-prompt-open-limit")


def test_past_the_rate_the_page_says_when_to_try_again(page, make_user, settings):
    from playwright.sync_api import expect

    settings.PADDOCK_PROMPT_RATE = "1/hour"
    settings.PADDOCK_MAX_OPEN_LEASES = 5
    annotator = make_user(Role.ANNOTATOR)
    make_batch()
    assert write(client_for(annotator)).status_code == 202
    log_in(page, annotator)
    expect(page.locator("#empty")).to_be_visible()  # the page has asked for work: idle
    send_from_the_page(page, "And one more?")
    expect(page.locator("#notice")).to_have_text(
        "You have sent 1 prompt for responses in the last hour, the most allowed; try again "
        "in 60 minutes. Nothing was stored.")
    expect(page.locator("#prompt-message")).to_have_value("And one more?")
    screenshot(page, "workspace-prompt-rate")
