"""Issue 18, low: the OpenAPI schema and the API page are for data managers and admins.

The schema maps every endpoint, the managers' included; annotators fetched it in full.
"""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from paddock.platform.accounts.models import Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("role", "expected"), [
    (Role.ANNOTATOR, 403), (Role.DATA_MANAGER, 200), (Role.ADMIN, 200)])
def test_the_schema_and_the_api_page_answer_staff_only(client, make_user, role, expected):
    user = make_user(role)
    client.force_login(user)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == expected
    assert client.get("/api/docs/").status_code == expected
    # An API token gets what its holder's session gets.
    token = Token.objects.create(user=user)
    by_token = client.__class__().get("/api/schema/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert by_token.status_code == expected
    if expected == 403:
        assert "data managers and admins" in schema.json()["detail"]
        assert "/api/v1/" not in schema.content.decode()


def test_anonymous_callers_get_401_and_the_page_sends_them_to_log_in(client):
    assert client.get("/api/schema/").status_code == 401
    response = client.get("/api/docs/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
