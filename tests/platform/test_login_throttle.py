"""Failed log-ins are limited per username and client IP, per client IP, and per username
from everywhere (accounts.throttle). The bypasses issue 18 found are in
tests/security/test_login_throttle.py.

There is no DRF endpoint that takes a password (no obtain-token view is routed: API tokens
are made by an admin in the Django admin), so the two places a password is checked are the
log-in page and the Django admin's own log-in form; both are here.
"""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from paddock.platform.accounts.models import Role
from paddock.platform.accounts.throttle import Proxies, client_ip

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-7"


@pytest.fixture(autouse=True)
def fresh_counters(settings):
    settings.PADDOCK_LOGIN_ATTEMPTS = settings.PADDOCK_LOGIN_IP_ATTEMPTS = 3
    settings.PADDOCK_LOGIN_ACCOUNT_ATTEMPTS = 12
    settings.PADDOCK_LOGIN_WINDOW_SECONDS = 300
    cache.clear()
    yield
    cache.clear()  # no counter from 127.0.0.1 leaks into other tests' log-ins


def from_ip(ip: str) -> Client:
    return Client(REMOTE_ADDR=ip)


def attempt(client: Client, username: str, password: str, url: str | None = None):
    return client.post(url or reverse("login"), {"username": username, "password": password})


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_defaults_are_five_failures_in_five_minutes(settings):
    from paddock.platform.accounts.throttle import limits

    del settings.PADDOCK_LOGIN_ATTEMPTS, settings.PADDOCK_LOGIN_WINDOW_SECONDS
    del settings.PADDOCK_LOGIN_IP_ATTEMPTS, settings.PADDOCK_LOGIN_ACCOUNT_ATTEMPTS
    config = limits()
    assert (config.attempts, config.ip_attempts, config.account_attempts, config.window) == (
        5, 5, 20, 300)


def test_after_the_limit_even_the_right_password_gets_429_with_retry_after(make_user):
    user = make_user(Role.ANNOTATOR, password=PASSWORD)
    client = from_ip("10.0.0.1")
    for _ in range(3):
        wrong = attempt(client, user.username, "nope")
        assert wrong.status_code == 200 and b"didn't match" in wrong.content
    blocked = attempt(client, user.username, PASSWORD)
    assert blocked.status_code == 429
    assert 290 <= int(blocked["Retry-After"]) <= 300
    assert b"Too many failed log-in attempts" in blocked.content
    assert b"Try again in 5 minutes" in blocked.content
    assert not logged_in(client)
    # Case and surrounding spaces do not make a fresh counter.
    assert attempt(client, f" {user.username.upper()} ", "x").status_code == 429
    # The account's owner elsewhere is not locked out by the address that guessed.
    elsewhere = from_ip("10.0.0.2")
    assert attempt(elsewhere, user.username, PASSWORD).status_code == 302
    assert logged_in(elsewhere)


def test_one_ip_guessing_many_usernames_is_stopped(make_user):
    victim = make_user(Role.DATA_MANAGER, password=PASSWORD)
    client = from_ip("10.0.0.9")
    for name in ("alice", "bob", "carol"):
        assert attempt(client, name, "nope").status_code == 200
    blocked = attempt(client, victim.username, PASSWORD)
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 0
    assert not logged_in(client)


def test_other_usernames_from_another_ip_are_unaffected(make_user):
    target = make_user(Role.ANNOTATOR, password=PASSWORD)
    bystander = make_user(Role.ANNOTATOR, password=PASSWORD)
    attacker = from_ip("10.0.0.1")
    for _ in range(4):
        attempt(attacker, target.username, "nope")
    assert attempt(attacker, target.username, PASSWORD).status_code == 429

    owner = from_ip("10.0.0.3")  # the account's owner, elsewhere, is not locked out
    assert attempt(owner, target.username, PASSWORD).status_code == 302
    other = from_ip("10.0.0.2")
    assert attempt(other, bystander.username, "typo").status_code == 200
    response = attempt(other, bystander.username, PASSWORD)
    assert response.status_code == 302 and logged_in(other)


def test_the_limit_ends_with_the_window(make_user, settings):
    settings.PADDOCK_LOGIN_WINDOW_SECONDS = 1
    user = make_user(Role.ANNOTATOR, password=PASSWORD)
    client = from_ip("10.0.0.1")
    for _ in range(3):
        attempt(client, user.username, "nope")
    blocked = attempt(client, user.username, PASSWORD)
    assert blocked.status_code == 429 and blocked["Retry-After"] == "1"
    time.sleep(1.2)
    response = attempt(client, user.username, PASSWORD)
    assert response.status_code == 302 and logged_in(client)


def test_a_success_resets_the_username_counter(make_user, settings):
    settings.PADDOCK_LOGIN_IP_ATTEMPTS = 100  # only the username's counter is under test
    user = make_user(Role.ANNOTATOR, password=PASSWORD)
    for _ in range(2):
        attempt(from_ip("10.0.0.1"), user.username, "nope")
    assert attempt(from_ip("10.0.0.1"), user.username, PASSWORD).status_code == 302
    # Without the reset, the next failure would be the third and the one after refused.
    for _ in range(2):
        assert attempt(from_ip("10.0.0.1"), user.username, "nope").status_code == 200
    assert attempt(from_ip("10.0.0.1"), user.username, PASSWORD).status_code == 302


def test_a_success_does_not_reset_the_ip_counter(make_user):
    mine = make_user(Role.ANNOTATOR, password=PASSWORD)
    client = from_ip("10.0.0.7")
    attempt(client, "someone-else", "guess-1")
    attempt(client, "someone-else-2", "guess-2")
    assert attempt(client, mine.username, PASSWORD).status_code == 302
    client.post(reverse("logout"))
    attempt(client, "someone-else-3", "guess-3")  # the third failure from this address
    assert attempt(client, "someone-else-4", "guess-4").status_code == 429


def test_the_admin_log_in_form_shares_the_limits(make_user):
    admin = make_user(Role.ADMIN, password=PASSWORD)
    client = from_ip("10.0.0.1")
    url = reverse("admin:login")
    for _ in range(3):
        assert attempt(client, admin.username, "nope", url).status_code == 200
    blocked = attempt(client, admin.username, PASSWORD, url)
    assert blocked.status_code == 429 and blocked.has_header("Retry-After")
    assert not logged_in(client)
    # ... and a block earned on one form holds on the other.
    assert attempt(client, admin.username, PASSWORD).status_code == 429


def test_the_admin_form_counts_a_right_password_without_admin_role_as_a_failure(make_user):
    manager = make_user(Role.DATA_MANAGER, password=PASSWORD)
    client = from_ip("10.0.0.1")
    url = reverse("admin:login")
    for _ in range(3):
        assert attempt(client, manager.username, PASSWORD, url).status_code == 200
    assert attempt(client, manager.username, PASSWORD).status_code == 429


def test_a_logged_in_user_cannot_reset_someone_elses_counter(make_user, settings):
    settings.PADDOCK_LOGIN_IP_ATTEMPTS = 100
    victim = make_user(Role.ADMIN, password=PASSWORD)
    attacker = make_user(Role.ANNOTATOR, password="attacker-pass-1")
    client = from_ip("10.0.0.1")
    for _ in range(2):
        attempt(client, victim.username, "guess")
    client.force_login(attacker)
    # Posting the victim's name while logged in logs nobody in: it is no success.
    attempt(client, victim.username, "guess")
    client.logout()
    assert attempt(client, victim.username, PASSWORD).status_code == 429


def test_get_requests_are_never_limited(make_user):
    client = from_ip("10.0.0.1")
    for _ in range(4):
        attempt(client, "nobody", "nope")
    assert client.get(reverse("login")).status_code == 200


@pytest.mark.parametrize(
    ("trusted", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.1"),  # no proxy: the header is the client's to forge
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # the forged left part is ignored
        (2, "198.51.100.1, 203.0.113.9", "198.51.100.1"),
        (1, "", "10.0.0.1"),
    ],
)
def test_client_ip_trusts_only_our_own_proxies(rf, trusted, forwarded, expected):
    request = rf.post("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request, Proxies(hops=trusted)) == expected


def test_behind_the_proxy_each_client_has_its_own_counter(make_user, settings):
    settings.PADDOCK_PROXY_HOPS = 1
    user = make_user(Role.ANNOTATOR, password=PASSWORD)
    proxy = Client(REMOTE_ADDR="10.0.0.254")
    for n in range(3):
        proxy.post(reverse("login"), {"username": f"guess-{n}", "password": "x"},
                   HTTP_X_FORWARDED_FOR="203.0.113.9")
    blocked = proxy.post(reverse("login"), {"username": "guess-9", "password": "x"},
                         HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert blocked.status_code == 429
    # Another client behind the same proxy is not locked out by the first one.
    ok = proxy.post(reverse("login"), {"username": user.username, "password": PASSWORD},
                    HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert ok.status_code == 302
