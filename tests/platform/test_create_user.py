"""manage.py create_user and seed_demo."""

import io

import pytest
from django.core.management import CommandError, call_command

from paddock.platform.accounts.models import Role, User

pytestmark = pytest.mark.django_db


def create_user(*args: str, stdin: str = "") -> str:
    out = io.StringIO()
    import sys

    saved, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        call_command("create_user", *args, stdout=out)
    finally:
        sys.stdin = saved
    return out.getvalue()


def test_creates_a_user_with_role_and_password_from_stdin():
    create_user("dana", "--role", "data_manager", "--password-stdin", stdin="Long-enough-pw-42\n")
    user = User.objects.get(username="dana")
    assert user.role == Role.DATA_MANAGER
    assert user.check_password("Long-enough-pw-42")


def test_existing_user_is_left_alone_without_update():
    create_user("ann", "--role", "annotator")
    with pytest.raises(CommandError, match="already exists"):
        create_user("ann", "--role", "admin")
    assert User.objects.get(username="ann").role == Role.ANNOTATOR
    create_user("ann", "--role", "admin", "--update")
    assert User.objects.get(username="ann").is_superuser


def test_weak_passwords_are_rejected_and_nothing_is_stored():
    with pytest.raises(CommandError, match="password rejected"):
        create_user("weak", "--role", "annotator", "--password-stdin", stdin="123\n")
    assert not User.objects.filter(username="weak").exists()


def test_user_without_password_cannot_log_in_until_one_is_set():
    create_user("nopw", "--role", "annotator")
    assert not User.objects.get(username="nopw").has_usable_password()


def test_seed_demo_is_idempotent_and_keeps_changed_passwords():
    call_command("seed_demo", stdout=io.StringIO())
    manager = User.objects.get(username="manager")
    assert manager.role == Role.DATA_MANAGER and manager.check_password("paddock-manager")
    manager.set_password("changed-by-the-user")
    manager.save()

    out = io.StringIO()
    call_command("seed_demo", stdout=out)

    assert User.objects.filter(username__in=["annotator", "manager", "admin"]).count() == 3
    assert User.objects.get(username="manager").check_password("changed-by-the-user")
    assert "existing; password unchanged" in out.getvalue()


def test_seed_demo_refuses_production(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="refuses to run"):
        call_command("seed_demo", stdout=io.StringIO())
