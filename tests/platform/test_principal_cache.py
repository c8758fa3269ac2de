"""Authentication without a database query per request (issue 20), and revocation at once.

Tokens' and session users' rows are cached per process and used only while the
authentication epoch in Redis is unchanged; every change to a user or token, and every
log-out, bumps it. These tests use the real Redis and database, and a second Django
process for revocations made elsewhere.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token

from paddock.platform.accounts import auth_epoch, principal_cache
from paddock.platform.accounts.models import Role
from paddock.platform.accounts.principal_cache import BoundedCache
from tests.support.celery_worker import worker_environment
from tests.support.redis_server import free_port
from tests.support.timing import scaled, wait_until

ROOT = Path(__file__).resolve().parents[2]
PROGRESS = "/api/v1/annotation/progress"
AUTH_TABLES = ("authtoken_token", "accounts_user", "django_session")


@pytest.fixture(autouse=True)
def _fresh_epoch_client():
    auth_epoch.reset()
    yield
    auth_epoch.reset()


def auth_statements(queries) -> list[str]:
    return [q["sql"] for q in queries if any(table in q["sql"] for table in AUTH_TABLES)]


def token_get(key: str):
    return Client().get(PROGRESS, HTTP_AUTHORIZATION=f"Token {key}")


def get_counting_auth_sql(send) -> tuple[int, list[str]]:
    """(status, the authentication statements the request ran)."""
    with CaptureQueriesContext(connection) as queries:
        status = send().status_code
    return status, auth_statements(queries.captured_queries)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def in_another_process(code: str, *args: str) -> None:
    """Run ``code`` in a fresh Django process on this test's database and Redis prefix;
    it finds ``args`` in ``sys.argv[1:]``."""
    env = worker_environment(database_name=str(connection.settings_dict["NAME"]))
    done = subprocess.run(
        [sys.executable, "-c", "import sys, django\ndjango.setup()\n" + code, *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=scaled(60))
    assert done.returncode == 0, done.stderr[-3000:]


# --- The cache is used -------------------------------------------------------------------


@pytest.mark.django_db
def test_a_cached_token_request_runs_no_authentication_sql(make_user):
    token = Token.objects.create(user=make_user(Role.ANNOTATOR))
    status, first = get_counting_auth_sql(lambda: token_get(token.key))
    assert status == 200 and len(first) == 1  # the one-statement look-up fills the cache
    status, second = get_counting_auth_sql(lambda: token_get(token.key))
    assert (status, second) == (200, [])


@pytest.mark.django_db
def test_a_cached_session_user_runs_no_user_query(make_user):
    client = logged_in(make_user(Role.ANNOTATOR))
    status, first = get_counting_auth_sql(lambda: client.get(PROGRESS))
    assert status == 200 and len(first) == 1
    status, second = get_counting_auth_sql(lambda: client.get(PROGRESS))
    assert (status, second) == (200, [])


@pytest.mark.django_db
def test_a_token_request_makes_one_redis_round_trip(make_user, monkeypatch):
    token = Token.objects.create(user=make_user(Role.ANNOTATOR))
    assert token_get(token.key).status_code == 200
    client, _ = auth_epoch._client()
    commands: list[str] = []
    real = client.execute_command

    def counting(*args, **options):
        commands.append(str(args[0]))
        return real(*args, **options)

    monkeypatch.setattr(client, "execute_command", counting)
    assert token_get(token.key).status_code == 200
    assert commands == ["GET"]


@pytest.mark.django_db
def test_with_the_cache_turned_off_every_request_asks_the_database(make_user, settings):
    settings.PADDOCK_AUTH_CACHE_SECONDS = 0
    token = Token.objects.create(user=make_user(Role.ANNOTATOR))
    for _ in range(2):
        status, statements = get_counting_auth_sql(lambda: token_get(token.key))
        assert status == 200 and len(statements) == 1


# --- Revocation in this process ----------------------------------------------------------


@pytest.mark.django_db
def test_a_deleted_token_is_refused_on_the_next_request(make_user):
    token = Token.objects.create(user=make_user(Role.ANNOTATOR))
    assert token_get(token.key).status_code == 200
    assert get_counting_auth_sql(lambda: token_get(token.key)) == (200, [])  # cached
    token.delete()
    assert token_get(token.key).status_code == 401


@pytest.mark.django_db
def test_a_deactivated_user_is_refused_at_once_by_token_and_by_session(make_user):
    user = make_user(Role.ANNOTATOR)
    token = Token.objects.create(user=user)
    browser = logged_in(user)
    for send in (lambda: token_get(token.key), lambda: browser.get(PROGRESS)):
        assert send().status_code == 200
        assert get_counting_auth_sql(send) == (200, [])  # served from the cache
    user.is_active = False
    user.save()
    refused = token_get(token.key)
    assert refused.status_code == 401 and "inactive" in refused.json()["detail"]
    assert browser.get(PROGRESS).status_code == 401


@pytest.mark.django_db
def test_a_password_change_logs_the_other_sessions_out_at_once(make_user):
    user = make_user(Role.ANNOTATOR)
    other = logged_in(user)
    assert other.get(PROGRESS).status_code == 200
    assert get_counting_auth_sql(lambda: other.get(PROGRESS)) == (200, [])

    changing = logged_in(user)  # the user changes their password in another session
    user.set_password("a-new-password-42")
    user.save()

    assert other.get(PROGRESS).status_code == 401
    assert "_auth_user_id" not in other.session  # flushed, as Django does
    assert changing.get(PROGRESS).status_code == 401  # not updated with the new hash either
    assert logged_in(user).get(PROGRESS).status_code == 200


@pytest.mark.django_db
def test_a_role_change_is_seen_on_the_next_request(make_user):
    user = make_user(Role.ANNOTATOR)
    browser = logged_in(user)
    assert browser.get("/api/schema/").status_code == 403  # data managers and admins only
    user.role = Role.DATA_MANAGER
    user.save()
    assert browser.get("/api/schema/").status_code == 200


@pytest.mark.django_db
def test_logging_out_bumps_the_epoch_and_ends_the_session(make_user):
    browser = logged_in(make_user(Role.ANNOTATOR))
    assert browser.get(PROGRESS).status_code == 200
    before = auth_epoch.current()
    assert browser.post("/accounts/logout/").status_code == 302
    assert auth_epoch.current() > before
    assert browser.get(PROGRESS).status_code == 401


@pytest.mark.django_db
def test_an_expired_session_is_refused(make_user):
    user = make_user(Role.ANNOTATOR)
    browser = logged_in(user)
    session = browser.session
    session.set_expiry(3)  # seconds, in the cache and the database alike
    session.save()
    assert browser.get(PROGRESS).status_code == 200
    wait_until(lambda: browser.get(PROGRESS).status_code == 401, timeout=5,
               describe=lambda: "the session outlived its expiry")


# --- Token lifetime ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_token_ttl_is_checked_on_every_request_from_the_cached_creation_time(
    make_user, settings
):
    settings.PADDOCK_TOKEN_TTL = 3600
    token = Token.objects.create(user=make_user(Role.ANNOTATOR))
    token.created = timezone.now() - timedelta(seconds=30)
    token.save(update_fields=["created"])
    assert token_get(token.key).status_code == 200
    assert get_counting_auth_sql(lambda: token_get(token.key)) == (200, [])

    settings.PADDOCK_TOKEN_TTL = 10  # the cached token is now 30 s old: past it
    with CaptureQueriesContext(connection) as queries:
        refused = token_get(token.key)
    assert refused.status_code == 401 and refused.json()["error"] == "token_expired"
    assert auth_statements(queries.captured_queries) == []


# --- Revocation in another process ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_revocations_in_another_process_are_honoured_on_the_next_request(make_user):
    revoked, bypassed = (Token.objects.create(user=make_user(Role.ANNOTATOR))
                         for _ in range(2))
    session_user = make_user(Role.ANNOTATOR)
    browser = logged_in(session_user)
    sends = {"revoked": lambda: token_get(revoked.key),
             "bypassed": lambda: token_get(bypassed.key),
             "session": lambda: browser.get(PROGRESS)}
    for send in sends.values():
        assert send().status_code == 200
        assert get_counting_auth_sql(send) == (200, [])  # this process serves it from memory

    # Raw SQL tells no process anything: the cached token still works here. (This is why
    # nothing may change users or tokens behind the ORM's signals; see revocation.py.)
    in_another_process(
        "from django.db import connection\n"
        "with connection.cursor() as cursor:\n"
        "    cursor.execute('DELETE FROM authtoken_token WHERE key = %s', [sys.argv[1]])\n",
        bypassed.key)
    assert sends["bypassed"]().status_code == 200

    in_another_process(
        "from rest_framework.authtoken.models import Token\n"
        "from paddock.platform.accounts.models import User\n"
        "Token.objects.get(key=sys.argv[1]).delete()\n"
        "user = User.objects.get(pk=sys.argv[2])\n"
        "user.set_password('changed-elsewhere-77')\n"
        "user.save()\n",
        revoked.key, str(session_user.pk))
    assert sends["revoked"]().status_code == 401
    assert sends["bypassed"]().status_code == 401  # the epoch moved: every entry was dropped
    assert sends["session"]().status_code == 401


# --- Redis unreachable -------------------------------------------------------------------


@pytest.mark.django_db
def test_with_redis_unreachable_requests_authenticate_from_the_database(
    make_user, settings, monkeypatch, caplog
):
    token = Token.objects.create(user=make_user(Role.ANNOTATOR))
    revoked = Token.objects.create(user=make_user(Role.ANNOTATOR))
    for key in (token.key, revoked.key):
        assert token_get(key).status_code == 200
        assert get_counting_auth_sql(lambda key=key: token_get(key)) == (200, [])

    port = free_port()
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"  # nothing listens there
    monkeypatch.setattr(auth_epoch, "PAUSE_AFTER_FAILURE_SECONDS", 0.0)  # try every time
    caplog.set_level(logging.WARNING, logger="paddock.security")
    for _ in range(3):
        status, statements = get_counting_auth_sql(lambda: token_get(token.key))
        assert status == 200 and len(statements) == 1  # from the database, every time

    # Deleted behind the signals: only a fresh epoch could have let the cache serve it.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM authtoken_token WHERE key = %s", [revoked.key])
    assert token_get(revoked.key).status_code == 401

    warnings = [r for r in caplog.records if "authentication epoch" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # at most once a minute
    assert f"redis://127.0.0.1:{port}/0" in warnings[0].getMessage()


@pytest.mark.django_db
def test_a_revocation_while_redis_is_unreachable_still_clears_this_process(
    make_user, settings
):
    token = Token.objects.create(user=make_user(Role.ANNOTATOR))
    assert token_get(token.key).status_code == 200
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    token.delete()  # the bump cannot reach Redis; this process forgets all the same
    assert token_get(token.key).status_code == 401


@pytest.mark.django_db
def test_with_redis_unreachable_sessions_are_read_from_the_database(make_user, settings):
    from paddock.platform import settings as production

    user = make_user(Role.ANNOTATOR)
    browser = logged_in(user)
    closed = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = {"default": {**production.CACHES["default"], "LOCATION": closed}}
    settings.REDIS_URL = closed
    for _ in range(2):
        status, statements = get_counting_auth_sql(lambda: browser.get(PROGRESS))
        assert status == 200
        assert sum("django_session" in sql for sql in statements) == 1
        assert sum("accounts_user" in sql for sql in statements) == 1
    user.is_active = False
    user.save()  # the bump cannot reach Redis; the database says no all the same
    assert browser.get(PROGRESS).status_code == 401


# --- The epoch and the bounded cache -------------------------------------------------------


def test_a_lost_epoch_key_never_comes_back_to_an_old_value(redis_client):
    key = f"{settings.REDIS_KEY_PREFIX}{auth_epoch.KEY}"
    redis_client.delete(key)
    first = auth_epoch.current()
    assert first is not None and first > 10**15  # started from the clock, not from 1
    assert auth_epoch.bump() == first + 1
    redis_client.delete(key)  # Redis restarted without its data
    again = auth_epoch.current()
    assert again not in (first, first + 1) and again > first
    redis_client.delete(key)
    assert auth_epoch.bump() > again


def test_entries_are_used_only_under_their_epoch_and_before_their_deadline():
    cache = BoundedCache(max_entries=10)
    cache.put("a", 7, ("row",), seconds=60)
    assert cache.get("a", 7) == ("row",)
    assert cache.get("a", 8) is None
    assert cache.get("a", 7) is None  # dropped when found stale
    cache.put("b", 7, ("row",), seconds=0)  # PADDOCK_AUTH_CACHE_SECONDS ran out
    assert cache.get("b", 7) is None


def test_the_cache_is_bounded_and_drops_the_least_recently_used():
    cache = BoundedCache(max_entries=3)
    for key in "abc":
        cache.put(key, 1, key, seconds=60)
    assert cache.get("a", 1) == "a"  # a is now the most recently used
    cache.put("d", 1, "d", seconds=60)
    assert len(cache) == 3
    assert [cache.get(key, 1) for key in "abcd"] == ["a", None, "c", "d"]
    assert principal_cache.MAX_ENTRIES == 10_000


def test_nothing_in_paddock_changes_users_or_tokens_behind_the_signals():
    """QuerySet.update, bulk_update and raw SQL send no signal, so they would not bump the
    epoch: paddock must not change users or tokens that way (revocation.py)."""
    orm = re.compile(r"\b(User|Token|get_user_model\(\))\b.*\.(update|bulk_update)\(")
    sql = re.compile(r"(UPDATE|DELETE\s+FROM)\s+\W?(accounts_user|authtoken_token)\b",
                     re.IGNORECASE)
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in (ROOT / "paddock").rglob("*.py")
        if "migrations" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if orm.search(line) or sql.search(line)
    ]
    assert found == []


def test_the_epoch_client_gives_up_fast_on_an_unreachable_redis(settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    client, _ = auth_epoch._client()
    assert client.get_retry().get_retries() == 1
    with pytest.raises(redis.ConnectionError):
        client.get("anything")
    assert auth_epoch.current() is None
