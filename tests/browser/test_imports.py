"""The import form in real headless Chromium, with a real worker: a data manager reads
what a prompts file holds, downloads the example, uploads it, and reads in plain words
what it added and when the prompts become comparisons.

``make screenshots`` (PADDOCK_DOCS_SCREENSHOTS=1) also refreshes
``docs/screenshots/import.png`` for the README from this test.
"""

from __future__ import annotations

import pytest

from paddock.annotation.formats import FORMATS
from paddock.annotation.models import BatchStatus
from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch
from tests.browser.helpers import PASSWORD, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def test_manager_reads_the_format_downloads_the_example_and_imports_it(
        page, make_user, default_worker, tmp_path, settings):
    from playwright.sync_api import expect

    manager = make_user(Role.DATA_MANAGER)
    batch = make_batch(name="week 12", status=BatchStatus.DRAFT)
    page.goto("/accounts/login/")
    page.fill("#id_username", manager.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url("**/manage/")
    page.goto(f"/manage/batches/{batch.pk}/")

    # The form says what a prompts file holds: its fields, compression and limits.
    help_ = page.locator("#import-formats")
    expect(help_).to_contain_text("gzip (.gz) or zstd (.zst)")
    expect(help_).to_contain_text("line number, field and reason")
    prompts = page.locator("#format-prompts")
    prompts.locator("summary").click()
    fields = prompts.locator("table.format-fields")
    expect(fields).to_be_visible()
    for field in FORMATS["prompts"].fields:
        expect(fields).to_contain_text(field.name)
    expect(prompts).to_contain_text("no worker answers them in this batch")

    # The example downloads under its own name, and is what gets uploaded.
    with page.expect_download() as download:
        prompts.get_by_role("link", name="paddock-example-prompts.jsonl").click()
    assert download.value.suggested_filename == "paddock-example-prompts.jsonl"
    example = tmp_path / download.value.suggested_filename
    download.value.save_as(example)
    assert example.read_bytes() == FORMATS["prompts"].example_path.read_bytes()

    page.set_input_files("#import_file", str(example))
    page.select_option("#import_kind", "prompts")
    page.get_by_role("button", name="Upload and import").click()
    imported = page.locator("#imported-files")
    expect(imported).to_contain_text("4 prompts added, 0 lines refused.", timeout=30_000)
    expect(imported).to_contain_text("Prompts alone give annotators nothing to judge")
    expect(imported).to_contain_text("Sample the next batch's comparisons")
    assert batch.conversations.count() == 4 and batch.comparisons.count() == 0

    # Fits 1,280 px: nothing wider than the window, the help and the results included.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert imported.evaluate("e => e.closest('.table-scroll').scrollWidth"
                             " <= e.closest('.table-scroll').clientWidth")
    # The README's picture: the import card, its help opened, and the result.
    page.set_viewport_size({"width": 1280, "height": 1750})
    prompts.locator("summary").click()  # open again: the finished import reloaded the page
    expect(fields).to_be_visible()
    page.evaluate("document.getElementById('imports').scrollIntoView()")
    screenshot(page, "import", docs=True)
