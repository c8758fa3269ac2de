"""Issue 18, low: API tokens survived a password change and never expired.

A password change now replaces the user's token (the old key answers 401 at once), and
``PADDOCK_TOKEN_TTL`` (seconds) bounds a token's life with a clear 401.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token

from paddock.platform.accounts.models import Role

pytestmark = pytest.mark.django_db

PROGRESS = "/api/v1/annotation/progress"


def get_with(client, key: str):
    return client.get(PROGRESS, HTTP_AUTHORIZATION=f"Token {key}")


def test_a_password_change_rotates_the_token(client, make_user):
    user = make_user(Role.ANNOTATOR)
    old = Token.objects.create(user=user).key
    assert get_with(client, old).status_code == 200

    user = get_user_model().objects.get(pk=user.pk)
    user.set_password("a-new-password-42")
    user.save()

    assert get_with(client, old).status_code == 401
    new = Token.objects.get(user=user).key
    assert new != old
    assert get_with(client, new).status_code == 200


def test_the_admin_password_form_rotates_it_too(client, make_user):
    admin, user = make_user(Role.ADMIN), make_user(Role.ANNOTATOR)
    old = Token.objects.create(user=user).key
    client.force_login(admin)
    response = client.post(f"/admin/accounts/user/{user.pk}/password/",
                           {"password1": "fresh-pass-9876", "password2": "fresh-pass-9876"})
    assert response.status_code == 302, response.content[:400]
    assert get_with(client.__class__(), old).status_code == 401


def test_saving_the_user_without_a_new_password_keeps_the_token(client, make_user):
    user = make_user(Role.ANNOTATOR)
    key = Token.objects.create(user=user).key
    user = get_user_model().objects.get(pk=user.pk)
    user.first_name = "Ada"
    user.save()
    user.check_password("secret-pass-123")  # a hash upgrade would save, not rotate
    assert get_with(client, key).status_code == 200


def test_a_token_older_than_the_ttl_is_refused_with_a_clear_401(client, make_user, settings):
    settings.PADDOCK_TOKEN_TTL = 3600
    token = Token.objects.create(user=make_user(Role.ANNOTATOR))
    assert get_with(client, token.key).status_code == 200

    # Saved, not QuerySet.update(): a save tells every process's principal cache (which
    # holds the token's creation time) to forget it, as any change to a token must.
    token.created = timezone.now() - timedelta(seconds=3601)
    token.save(update_fields=["created"])
    response = get_with(client, token.key)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == "token_expired" and "Ask an admin for a new one" in body["detail"]


def test_without_a_ttl_old_tokens_are_accepted(client, make_user, settings):
    settings.PADDOCK_TOKEN_TTL = None
    token = Token.objects.create(user=make_user(Role.ANNOTATOR))
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(days=400))
    assert get_with(client, token.key).status_code == 200
