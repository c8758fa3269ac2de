"""A data manager sees each annotator's use of the generation workers (issue 18, M2): the
jobs page's "Written prompts by annotator" table, from real requests through the API."""

from __future__ import annotations

import re

import pytest

from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch, make_comparisons
from tests.browser.helpers import screenshot
from tests.browser.test_console import log_in_manager
from tests.security.test_prompt_quotas import client_for, judge, sample, write

pytestmark = pytest.mark.browser
SECONDS = re.compile(r"^\d+ s$")  # a generation worker another test started may be slow


def test_managers_see_written_prompts_by_annotator(page, make_user, settings):
    from playwright.sync_api import expect

    settings.PADDOCK_MAX_OPEN_LEASES = 1  # one own prompt open at a time, as counted below

    make_comparisons(make_batch(), 2)
    busy, quiet = make_user(Role.ANNOTATOR), make_user(Role.ANNOTATOR)
    busy_client = client_for(busy)
    # Sampled here, in this process: a generation worker another test started may take
    # them first, and either way each ends answered (the task is idempotent).
    judge(busy_client, sample(write(busy_client))["assignment_id"])
    second = write(busy_client)
    assert write(busy_client).status_code == 409  # one open at a time (the limit): not sent
    sample(second)
    sample(write(client_for(quiet)))

    log_in_manager(page, make_user(Role.DATA_MANAGER))
    page.goto("/manage/jobs/")
    rows = page.locator("#generation-use tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td")).to_have_text([busy.username, "2", "2", "0", "0", SECONDS])
    expect(rows.nth(1).locator("td")).to_have_text([quiet.username, "1", "1", "0", "0", SECONDS])
    expect(page.locator("#generation-use-title + .table-scroll + p")).to_contain_text(
        "Each annotator may send 30 prompts an hour, and have 1 waiting or not yet judged")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.locator("#generation-use").scroll_into_view_if_needed()
    screenshot(page, "jobs-generation-use")
