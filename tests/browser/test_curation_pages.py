"""Curation pages and error pages in real headless Chromium at 1,280 px: the run page
(parameters open, long URLs) fits the window, and 403/404 pages are styled with a way back.
"""

from __future__ import annotations

import json

import pytest

from paddock.curation.core.config import CurationConfig
from paddock.curation.core.quality import NO_TEXT_FILTERS
from paddock.curation.services import runs
from paddock.curation.services.ingest import source_ingest
from paddock.platform.accounts.models import Role
from tests.browser.helpers import PASSWORD, screenshot

pytestmark = pytest.mark.browser

ACCENT = "rgb(47, 93, 138)"  # app.css --accent: the button is styled, not a bare link


def log_in(page, user, lands_on: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url(lands_on)


def horizontal_overflow(page) -> int:
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.fixture
def finished_run(tmp_path):
    lines = [{"url": f"https://lookup-people.example/page/{n}",
              "text": " ".join(f"Resident {n}-{i} phone (555) 01{n}-{1000 + i}, email "
                               f"r{n}{i}@example.net." for i in range(12))} for n in range(6)]
    lines += [{"url": "https://news.example/?id=" + "x" * 400 + str(n),
               "text": "An ordinary article about gardening and the weather this week."}
              for n in range(3)]
    path = tmp_path / "web.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    source, _ = source_ingest(path=path, name="web", fmt="auto")
    # Short synthetic pages: the length gates only (the text filters would drop them all).
    run = runs.run_create(name="people", sources=[source],
                          config=CurationConfig(quality=NO_TEXT_FILTERS))
    runs.run_stages(run, runs.STAGES)
    return run


def test_curation_run_page_fits_1280_and_speaks_to_people(page, make_user, finished_run):
    from playwright.sync_api import expect

    log_in(page, make_user(Role.DATA_MANAGER), "**/manage/")
    page.goto("/manage/curation/")
    page.get_by_role("link", name="people").click()
    page.locator("#parameters summary").click()
    expect(page.locator("table.parameters")).to_be_visible()
    expect(page.locator("table.parameters")).to_contain_text("Duplicate similarity")
    expect(page.locator("#drop-reasons")).to_contain_text("Exact duplicate: 2 documents")
    assert horizontal_overflow(page) <= 0
    screenshot(page, "curation-run", docs=True)

    page.goto("/manage/curation/")
    expect(page.locator("#run-form .field-row").first).to_be_visible()
    assert horizontal_overflow(page) <= 0
    screenshot(page, "curation-home")


def test_error_pages_are_styled_with_a_way_back(page, make_user):
    from playwright.sync_api import expect

    log_in(page, make_user(Role.ANNOTATOR), "**/annotate/")
    page.goto("/manage/curation/")
    expect(page.locator("h1")).to_have_text("You cannot open this page")
    back = page.locator("a.back-home")
    assert back.evaluate("a => getComputedStyle(a).backgroundColor") == ACCENT
    screenshot(page, "error-403")

    page.goto("/no/such/page")
    expect(page.locator("h1")).to_have_text("Page not found")
    assert horizontal_overflow(page) <= 0
    screenshot(page, "error-404")
    page.locator("a.back-home").click()
    page.wait_for_url("**/annotate/")


def test_ingest_form_names_the_folders_it_reads_and_refuses_others(page, make_user, settings):
    """Issue 18, M5: the path help names the ingest roots; a system file is refused in
    words, a file in a root is queued."""
    from playwright.sync_api import expect

    root = settings.INGEST_ROOTS[0]
    root.mkdir(parents=True, exist_ok=True)
    (root / "web.jsonl").write_text('{"text": "an honest document"}\n')
    log_in(page, make_user(Role.DATA_MANAGER), "**/manage/")
    page.goto("/manage/curation/")
    expect(page.locator("#id_path_helptext")).to_contain_text(f"A file or folder under {root}")

    page.fill("#id_path", "/proc/self/environ")
    page.fill("#id_name", "leak")
    page.locator("#ingest-form button[type=submit]").click()
    expect(page.get_by_text("Ingest not started")).to_be_visible()
    expect(page.get_by_text("is a system file, not data")).to_be_visible()
    assert horizontal_overflow(page) <= 0
    screenshot(page, "curation-ingest-refused")

    page.fill("#id_path", "web.jsonl")
    page.fill("#id_name", "web")
    page.locator("#ingest-form button[type=submit]").click()
    expect(page.get_by_text(f"Ingesting {root / 'web.jsonl'}")).to_be_visible()
