"""Browser tests: Debian's Chromium, driven by Playwright's Python API, against a live
server on the test database (PostgreSQL in CI).

One browser for all the browser tests; every test gets a fresh context (no cookies) and a
page at 1280x800. A test fails on any JavaScript error or Content-Security-Policy
violation in the page. Screenshots of what the tests saw go to ``var/screenshots/``
(git-ignored); the README's screenshot is refreshed only on request (see README).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from benchmarks import _chromium
from tests.support.skips import skip_or_fail


def chromium() -> Iterator:
    """One headless Chromium, for a browser fixture of whatever scope a package needs."""
    reason = _chromium.missing()
    if reason:
        skip_or_fail(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps its event loop marked as running in this thread between
    # calls, which Django's guard against ORM use inside async code mistakes for an async
    # context. The tests' own ORM calls are plain synchronous code: lift the guard while
    # the browser lives.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = _chromium.launch(playwright)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


# Package scope, not session: while Playwright's sync API is alive, this thread's event
# loop counts as running, so asyncio.run() elsewhere would fail; the browser closes (and
# the guard below comes back) once the browser tests are done. A browser test elsewhere
# (tests/security) defines its own, module-scoped, from chromium(): two alive at once
# would fail.
@pytest.fixture(scope="package")
def browser() -> Iterator:
    yield from chromium()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 800},
                                  base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def console(message) -> None:
        # A 4xx answer the page handles (409 lease lost) is logged as a failed load.
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(f"console: {message.text}")

    page.on("console", console)
    yield page
    context.close()
    assert not problems, problems
