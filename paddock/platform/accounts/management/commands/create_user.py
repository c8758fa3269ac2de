"""``manage.py create_user NAME --role ROLE``: add a user with a role.

The password comes from ``--password-stdin`` (for scripts: ``echo "$PW" | manage.py
create_user ...``) or an interactive prompt; never from a command-line argument, which
would land in shell history and ``ps``.
"""

from __future__ import annotations

import getpass
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from paddock.platform.accounts.models import Role


class Command(BaseCommand):
    help = "Create a user with a role (annotator, data_manager or admin)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-stdin", action="store_true", help="Read the password from stdin."
        )
        parser.add_argument(
            "--update",
            action="store_true",
            help="Change the role (and password, if given) of an existing user.",
        )

    def handle(self, *args, username: str, role: str, email: str, **options):
        User = get_user_model()
        password = self._read_password(options["password_stdin"])
        with transaction.atomic():
            user = User.objects.select_for_update().filter(username=username).first()
            if user is not None and not options["update"]:
                raise CommandError(
                    f"user {username!r} already exists (role {user.role}); pass --update to "
                    "change it."
                )
            user = user or User(username=username)
            user.role = Role(role)
            if email:
                user.email = email
            if password is not None:
                try:
                    validate_password(password, user)
                except ValidationError as exc:
                    raise CommandError(f"password rejected: {' '.join(exc.messages)}") from None
                user.set_password(password)
            elif user.pk is None:
                user.set_unusable_password()
            user.save()
        self.stdout.write(f"{username}: {Role(role).label.lower()}")

    def _read_password(self, from_stdin: bool) -> str | None:
        if from_stdin:
            password = sys.stdin.readline().rstrip("\n")
            if not password:
                raise CommandError("--password-stdin: stdin held no password")
            return password
        if not sys.stdin.isatty():
            return None
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("the two passwords differ")
        return first or None
