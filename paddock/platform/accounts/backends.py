"""The session user from the principal cache: Django's ModelBackend without its query.

Django's ``get_user`` (django.contrib.auth) calls :meth:`CachedModelBackend.get_user` on
every request of a logged-in browser, then checks the session's hash against the user's
password hash: the cached row holds every column, the password's hash included, so a
password change (which bumps the authentication epoch: ``revocation``) still ends the
user's other sessions on their next request, in every process. Log-in (``authenticate``)
and permissions are ModelBackend's, unchanged.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS

from paddock.platform.accounts import principal_cache


def _columns() -> list[str]:
    return [field.attname for field in get_user_model()._meta.concrete_fields]


class CachedModelBackend(ModelBackend):
    def get_user(self, user_id):
        User = get_user_model()
        try:
            pk = User._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        columns = _columns()
        row = principal_cache.lookup(
            ("user", pk),
            lambda: User._default_manager.filter(pk=pk).values_list(*columns).first(),
        )
        if row is None:
            return None
        user = User.from_db(DEFAULT_DB_ALIAS, columns, row)
        return user if self.user_can_authenticate(user) else None
