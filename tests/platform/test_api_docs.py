"""/api/docs/: the interactive API page (Swagger UI) for data managers and admins, served
entirely from our own static files (drf-spectacular-sidecar), never from a CDN."""

import re

import pytest
from django.contrib.staticfiles import finders

from paddock.platform.accounts.models import Role

pytestmark = pytest.mark.django_db

OTHER_HOST = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/api/docs/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("role", [Role.DATA_MANAGER, Role.ADMIN])
def test_managers_get_the_page_with_only_local_assets(client, make_user, role):
    client.force_login(make_user(role))

    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert not OTHER_HOST.search(html), html
    assets = re.findall(r"""(?:src|href)="([^"]+)\"""", html)
    static = [url for url in assets if url.startswith("/static/")]
    assert static, assets
    for url in static:  # every file the page loads exists among our static files
        assert finders.find(url.removeprefix("/static/")), url
    # The start-up script is served as a file and points at our own schema.
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()
    assert "http://" not in script.content.decode() and "https://" not in script.content.decode()


def test_the_schema_the_page_shows_lists_the_annotation_operations(client, make_user):
    client.force_login(make_user(Role.DATA_MANAGER))

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    assert any(path.startswith("/api/v1/annotation/") for path in schema["paths"])


def test_the_console_links_managers_to_the_api_page(client, make_user):
    client.force_login(make_user(Role.DATA_MANAGER))

    page = client.get("/manage/").content.decode()

    assert 'href="/api/docs/"' in page
