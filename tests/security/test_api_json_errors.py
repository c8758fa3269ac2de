"""Issue 18, low: every answer under /api/ is JSON, errors Django writes itself included.

Unknown paths answered Django's HTML 404 page (with ``DEBUG``, as in development) and a
body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` a bare HTML 400; API clients parse JSON.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator

import pytest
from rest_framework.authtoken.models import Token

from paddock.platform.accounts.models import Role

pytestmark = pytest.mark.django_db


def unknown_api_paths(seed: int, count: int) -> Iterator[str]:
    rng = random.Random(seed)
    prefixes = ["/api/", "/api/v1/", "/api/v1/annotation/", "/api/v1/jobs/",
                "/api/v1/annotation/batches/"]
    for _ in range(count):
        tail = "".join(rng.choices(string.ascii_lowercase + string.digits + "-_", k=12))
        yield rng.choice(prefixes) + tail + rng.choice(["", "/"])


def oversized_json(size: int) -> bytes:
    """A well-formed JSON body of about ``size`` bytes."""
    return json.dumps({"reason": "x" * size}).encode()


@pytest.fixture
def annotator_client(client, make_user):
    client.force_login(make_user(Role.ANNOTATOR))
    return client


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_paths_answer_json_404(annotator_client, settings, debug):
    settings.DEBUG = debug
    for path in unknown_api_paths(seed=4, count=12):
        for method in ("get", "post"):
            response = getattr(annotator_client, method)(path)
            assert response.status_code == 404, path
            assert response["Content-Type"] == "application/json", (path, response.content[:80])
            assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("debug", [False, True])
def test_a_body_over_the_upload_limit_answers_json_413(annotator_client, settings, debug):
    settings.DEBUG = debug
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = annotator_client.post("/api/v1/annotation/assignments/1/skip",
                                     oversized_json(limit + 1024),
                                     content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == "too_large" and "nothing was stored" in body["detail"]


def test_an_oversized_form_body_by_token_answers_json_413(client, make_user, settings):
    token = Token.objects.create(user=make_user(Role.ANNOTATOR))
    response = client.post("/api/v1/annotation/prompts",
                           {"message": "y" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)},
                           HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 413 and response.json()["error"] == "too_large"


def test_a_body_under_the_limit_still_reaches_the_view(annotator_client):
    response = annotator_client.post("/api/v1/annotation/assignments/999999/skip",
                                     oversized_json(200), content_type="application/json")
    assert response.status_code == 404 and "detail" in response.json()  # the view's own 404


def test_pages_outside_the_api_keep_their_html(client, make_user, settings):
    settings.DEBUG = False
    client.force_login(make_user(Role.ANNOTATOR))
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and "text/html" in response["Content-Type"]
