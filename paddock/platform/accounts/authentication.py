"""API token authentication from the principal cache, or in one SQL statement.

DRF's TokenAuthentication builds an ORM query on every request; this reads the token's
user in one statement and builds the user from those columns only (others load on first
use), which matters on the annotation hot path, and keeps that row in this process's
principal cache (``principal_cache``: checked against the authentication epoch in Redis
on every request, so a deleted token is refused at once everywhere). Behaviour is DRF's:
same header, same errors, ``request.auth`` is the token key; and with
``PADDOCK_TOKEN_TTL`` (seconds) a token older than that is refused with 401
``token_expired``, checked on every request, from the cached creation time too.
"""

from __future__ import annotations

from datetime import UTC, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from paddock.platform.accounts import principal_cache

_WANTED = {"id", "username", "role", "is_active", "is_staff", "is_superuser"}


class FastTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str):
        row = principal_cache.lookup(("token", key), lambda: _load(key))
        if row is None:
            raise AuthenticationFailed("Invalid token.")
        created, *values = row
        _refuse_expired(created)
        user = get_user_model().from_db(connection.alias, _columns(), values)
        if not user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return user, key


def _columns() -> list[str]:
    # Model.from_db expects the loaded columns in the model's own field order.
    return [f.attname for f in get_user_model()._meta.concrete_fields if f.attname in _WANTED]


def _load(key: str) -> tuple | None:
    """(token created, the user's wanted columns...) for ``key``, or None."""
    User = get_user_model()
    columns = ", ".join(f"u.{field}" for field in _columns())
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.created, {columns} FROM {Token._meta.db_table} t"  # noqa: S608 - table names only
            f" JOIN {User._meta.db_table} u ON u.id = t.user_id WHERE t.key = %s",
            [key],
        )
        return cursor.fetchone()


def _refuse_expired(created) -> None:
    ttl = getattr(settings, "PADDOCK_TOKEN_TTL", None)
    if not ttl:
        return
    if timezone.is_naive(created):  # raw cursors skip Django's converters (SQLite)
        created = timezone.make_aware(created, UTC)
    if timezone.now() >= created + timedelta(seconds=ttl):
        raise AuthenticationFailed({
            "error": "token_expired",
            "detail": f"This API token expired: tokens are accepted for {ttl} seconds "
                      "(PADDOCK_TOKEN_TTL). Ask an admin for a new one.",
        })
