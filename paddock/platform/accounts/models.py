"""Users and their role: annotator, data manager or admin.

A role is one field on the user rather than Django groups: every page asks "may this role
see this?", and a single field keeps that question answerable at a glance and impossible to
half-configure.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models, transaction


class Role(models.TextChoices):
    ANNOTATOR = "annotator", "Annotator"
    DATA_MANAGER = "data_manager", "Data manager"
    ADMIN = "admin", "Admin"


class PaddockUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields["role"] = Role.ADMIN
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ANNOTATOR)

    objects = PaddockUserManager()

    def save(self, *args, **kwargs):
        # The admin site and Django's permission checks read these flags; derive them from
        # the role so the two can never disagree.
        self.is_staff = self.is_superuser = self.role == Role.ADMIN
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "role" in update_fields:
            kwargs["update_fields"] = {*update_fields, "is_staff", "is_superuser"}
        # set_password() leaves the new password here until saved (a hash upgrade at log-in
        # does not): a changed password must end whatever the old one let out, API tokens
        # included, as Django already ends the other sessions.
        password_changed = self._password is not None and self.pk is not None
        with transaction.atomic():
            super().save(*args, **kwargs)
            if password_changed:
                rotate_api_token(self)

    def has_role(self, *roles: Role) -> bool:
        """Whether the user may act in one of ``roles``; admins may act in every role."""
        return self.is_active and (self.role == Role.ADMIN or self.role in roles)

    @property
    def is_annotator(self) -> bool:
        return self.role == Role.ANNOTATOR

    @property
    def is_data_manager(self) -> bool:
        return self.has_role(Role.DATA_MANAGER)


def rotate_api_token(user: User) -> None:
    """Replace the user's API token, if they have one, with a new key: the old key stops
    working at once, and the new one (shown to admins in the Django admin) starts a fresh
    ``PADDOCK_TOKEN_TTL``."""
    from rest_framework.authtoken.models import Token

    if Token.objects.filter(user=user).delete()[0]:
        Token.objects.create(user=user)
