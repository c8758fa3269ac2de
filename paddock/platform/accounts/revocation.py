"""What ends cached authentication: every change to a user or an API token, and log-outs.

Each event clears this process's principal cache and bumps the authentication epoch in
Redis, so every other process (gunicorn workers, Celery) stops using its entries on its
next request. Inside a transaction the bump happens twice: at once, and again after the
commit, since a process may have re-read the old rows between the first bump and the
commit (rows are read after the epoch; see ``principal_cache``).

Users and tokens are changed through the ORM's save and delete everywhere in paddock
(the admin, ``create_user``, ``rotate_api_token``, Django's password and log-in code), all
of which send these signals; ``QuerySet.delete`` sends them too while receivers are
connected. ``QuerySet.update`` and raw SQL would not: nothing in paddock updates users or
tokens that way (tests/platform/test_principal_cache.py greps for it), and code that
must should call :func:`revoke` after it.

Saves that change nothing security-relevant bump too (``last_login`` at each log-in):
they are rare next to requests, and one extra query per process is all they cost.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from paddock.platform.accounts import auth_epoch, principal_cache


def revoke() -> None:
    """Make every process forget the principals it cached."""
    _bump()
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        transaction.on_commit(_bump)


def _bump() -> None:
    principal_cache.forget_all()
    auth_epoch.bump()


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="paddock-revoke-user-saved")
@receiver(post_delete, sender=settings.AUTH_USER_MODEL,
          dispatch_uid="paddock-revoke-user-deleted")
@receiver(post_save, sender=Token, dispatch_uid="paddock-revoke-token-saved")
@receiver(post_delete, sender=Token, dispatch_uid="paddock-revoke-token-deleted")
def _changed(sender, **kwargs) -> None:
    revoke()


@receiver(user_logged_out, dispatch_uid="paddock-revoke-logged-out")
def _logged_out(sender, **kwargs) -> None:
    revoke()
