"""Refused, missing and failed pages: in the site's layout, in words, with a way back home;
JSON for API requests; the 500/503 page never touches the database it may be missing."""

import pytest
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

from paddock.platform.accounts.models import Role
from paddock.platform.errors import server_error

pytestmark = pytest.mark.django_db


def styled_with_a_way_back(html: str) -> bool:
    return "paddock/app.css" in html and 'class="button back-home" href="/"' in html


def test_a_refused_page_says_why_and_leads_home(client, make_user):
    client.force_login(make_user(Role.ANNOTATOR))
    response = client.get(reverse("curation:home"))
    html = response.content.decode()
    assert response.status_code == 403
    assert styled_with_a_way_back(html)
    assert "This page is for data managers." in html and "You cannot open this page" in html


def test_a_missing_page_is_styled_and_names_no_model(client, make_user):
    client.force_login(make_user(Role.DATA_MANAGER))
    for url in ("/no/such/page", reverse("curation:run", args=[987654])):
        response = client.get(url)
        html = response.content.decode()
        assert response.status_code == 404, url
        assert styled_with_a_way_back(html) and "Page not found" in html
        assert "CurationRun" not in html and "matches the given query" not in html


def test_anonymous_visitors_get_the_styled_404_too(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404 and styled_with_a_way_back(response.content.decode())


def test_api_requests_get_json_errors(client):
    response = client.get("/api/v1/no-such-endpoint")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


class Untouchable:
    """A request.user that fails if the error page reads it (it would query the database)."""

    def __getattr__(self, name):
        raise AssertionError(f"the failure page read request.user.{name}")


@pytest.mark.parametrize(("error", "status", "words"), [
    (OperationalError("connection refused"), 503, "The database cannot be reached"),
    (RuntimeError("bug"), 500, "Something went wrong"),
])
def test_failure_pages_are_styled_without_the_request_context(rf, error, status, words):
    request = rf.get("/manage/")
    request.user = Untouchable()
    try:
        raise error
    except type(error):
        response = server_error(request)
    html = response.content.decode()
    assert response.status_code == status
    assert styled_with_a_way_back(html) and words in html
    assert "connection refused" not in html and "bug" not in html.split("<main", 1)[1]
    assert (response.get("Retry-After") is not None) == (status == 503)


def test_a_csrf_refusal_is_styled_and_says_what_to_do(make_user):
    """A form posted without its token (left open across a sign-in): the site's page, in
    words, nothing changed; a client asking for JSON gets the same words as JSON."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(Role.DATA_MANAGER))
    response = client.post(reverse("logout"))
    html = response.content.decode()
    assert response.status_code == 403
    assert styled_with_a_way_back(html)
    assert "That form could not be sent" in html and "reload the page" in html
    assert "ask an admin for the role" not in html
    api = client.post(reverse("logout"), HTTP_ACCEPT="application/json")
    assert api.status_code == 403 and api.json()["error"] == "csrf_failed"
