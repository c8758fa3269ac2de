"""API token authentication in one SQL statement.

DRF's TokenAuthentication builds an ORM query on every request; this reads the token's
user in one statement and builds the user from those columns only (others load on first
use), which matters on the annotation hot path. Behaviour is DRF's: same header, same
errors, ``request.auth`` is the token key; and with ``PADDOCK_TOKEN_TTL`` (seconds) a
token older than that is refused with 401 ``token_expired``.
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

_WANTED = {"id", "username", "role", "is_active", "is_staff", "is_superuser"}


class FastTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str):
        User = get_user_model()
        # Model.from_db expects the loaded columns in the model's own field order.
        fields = [f.attname for f in User._meta.concrete_fields if f.attname in _WANTED]
        columns = ", ".join(f"u.{field}" for field in fields)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT t.created, {columns} FROM {Token._meta.db_table} t"  # noqa: S608 - table names only
                f" JOIN {User._meta.db_table} u ON u.id = t.user_id WHERE t.key = %s",
                [key],
            )
            row = cursor.fetchone()
        if row is None:
            raise AuthenticationFailed("Invalid token.")
        created, *row = row
        _refuse_expired(created)
        user = User.from_db(connection.alias, fields, row)
        if not user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return user, key


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
