"""The API page in real headless Chromium: Swagger UI, loaded from our own static files
only, renders the API's operations for a signed-in data manager."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from paddock.platform.accounts.models import Role
from tests.browser.helpers import PASSWORD, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_api_page_renders_the_operations_from_local_assets(page, live_server, make_user):
    manager = make_user(Role.DATA_MANAGER)
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).netloc))

    page.goto("/accounts/login/")
    page.fill("#id_username", manager.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_load_state()
    page.goto("/api/docs/")

    operations = page.locator(".opblock")
    operations.first.wait_for()
    assert operations.count() >= 5
    assert page.locator(".opblock-summary-path", has_text="/api/v1/annotation/").count()
    assert "paddock API" in page.locator(".info .title").inner_text()
    assert hosts == {urlparse(live_server.url).netloc}, hosts
    screenshot(page, "api-docs", docs=True)
