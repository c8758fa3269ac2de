"""Issue 18, H2: the log-in throttle's bypasses, each reproduced from outside over HTTP.

Every hostile input is generated here: full-width spellings of a username, case variants,
forged X-Forwarded-For chains. Each test failed on the throttle before issue 18 (counters
keyed on the raw case-folded name, X-Forwarded-For believed whenever the production proxy
header was set, the PADDOCK_LOGIN_* settings never read from the environment, one
username lock shared by every address).
"""

from __future__ import annotations

import random
import re
import runpy
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from paddock.platform.accounts.models import Role
from paddock.platform.config import ConfigurationError

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-7"
SECURITY_MD = Path(__file__).resolve().parents[2] / "SECURITY.md"


@pytest.fixture(autouse=True)
def production_like(settings):
    """The defaults, behind the production proxy header (which used to switch on trust in
    X-Forwarded-For), with nobody configured as a trusted proxy."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.PADDOCK_LOGIN_ATTEMPTS = settings.PADDOCK_LOGIN_IP_ATTEMPTS = 5
    settings.PADDOCK_LOGIN_ACCOUNT_ATTEMPTS = 20
    settings.PADDOCK_LOGIN_WINDOW_SECONDS = 300
    settings.PADDOCK_TRUSTED_PROXIES = []
    settings.PADDOCK_PROXY_HOPS = 0
    cache.clear()
    yield
    cache.clear()


def load_settings() -> dict:
    """paddock's settings module run afresh, reading the environment as at start-up."""
    import paddock.platform.settings as module

    return runpy.run_path(module.__file__)


def full_width(text: str) -> str:
    """The same name in full-width forms (``a`` -> U+FF41), which NFKC folds back."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def random_addresses(seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    while True:
        yield ".".join(str(rng.randrange(1, 255)) for _ in range(4))


def attempt(client: Client, username: str, password: str, **headers):
    return client.post(reverse("login"), {"username": username, "password": password},
                       **headers)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_a_full_width_spelling_shares_the_locked_names_counter(make_user, settings):
    settings.PADDOCK_LOGIN_IP_ATTEMPTS = 1000  # only the username's counters under test
    user = make_user(Role.ANNOTATOR, password=PASSWORD)
    # Django's form folds the full-width name to the real one: it is a real way in.
    probe = Client(REMOTE_ADDR="192.0.2.1")
    assert attempt(probe, full_width(user.username), PASSWORD).status_code == 302
    cache.clear()

    client = Client(REMOTE_ADDR="192.0.2.10")
    for _ in range(5):
        assert attempt(client, user.username, "wrong").status_code == 200
    blocked = attempt(client, full_width(user.username), PASSWORD)
    assert blocked.status_code == 429 and not logged_in(client)


def test_case_and_width_variants_all_count_against_one_name(make_user, settings):
    settings.PADDOCK_LOGIN_IP_ATTEMPTS = 1000
    user = make_user(Role.ANNOTATOR, password=PASSWORD)
    name = user.username
    variants = [name.upper(), full_width(name.upper()), f"  {name.title()} ",
                full_width(name), name.swapcase()]
    client = Client(REMOTE_ADDR="192.0.2.11")
    for variant in variants:
        assert attempt(client, variant, "wrong").status_code == 200
    assert attempt(client, name, PASSWORD).status_code == 429


def test_a_forged_x_forwarded_for_does_not_give_each_guess_a_fresh_address(make_user):
    make_user(Role.ANNOTATOR, password=PASSWORD)
    client = Client(REMOTE_ADDR="198.51.100.20")  # gunicorn reached directly
    forged = random_addresses(18)
    statuses = [
        attempt(client, f"guess-{n}", "wrong", HTTP_X_FORWARDED_FOR=next(forged)).status_code
        for n in range(30)
    ]
    assert statuses[:5] == [200] * 5
    assert set(statuses[5:]) == {429}


def test_every_documented_login_setting_is_read_from_the_environment(monkeypatch):
    values = {
        "PADDOCK_LOGIN_ATTEMPTS": "7", "PADDOCK_LOGIN_IP_ATTEMPTS": "40",
        "PADDOCK_LOGIN_ACCOUNT_ATTEMPTS": "50", "PADDOCK_LOGIN_WINDOW_SECONDS": "120",
        "PADDOCK_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1", "PADDOCK_PROXY_HOPS": "2",
        "PADDOCK_TOKEN_TTL": "3600",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    loaded = load_settings()
    assert loaded["PADDOCK_LOGIN_ATTEMPTS"] == 7
    assert loaded["PADDOCK_LOGIN_IP_ATTEMPTS"] == 40
    assert loaded["PADDOCK_LOGIN_ACCOUNT_ATTEMPTS"] == 50
    assert loaded["PADDOCK_LOGIN_WINDOW_SECONDS"] == 120
    assert loaded["PADDOCK_TRUSTED_PROXIES"] == ["10.0.0.0/8", "192.0.2.1/32"]
    assert loaded["PADDOCK_PROXY_HOPS"] == 2
    assert loaded["PADDOCK_TOKEN_TTL"] == 3600
    # Every such setting SECURITY.md names is one the settings read.
    documented = set(re.findall(r"`(PADDOCK_(?:LOGIN_\w+|TRUSTED_PROXIES|PROXY_HOPS|TOKEN_TTL))`",
                                SECURITY_MD.read_text()))
    assert documented >= set(values), documented
    assert documented <= set(loaded), documented - set(loaded)


@pytest.mark.parametrize(("name", "value"), [
    ("PADDOCK_TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal"),
    ("PADDOCK_LOGIN_ATTEMPTS", "0"),
    ("PADDOCK_PROXY_HOPS", "-1"),
])
def test_a_malformed_setting_stops_start_up_naming_it(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=name):
        load_settings()


@pytest.mark.parametrize("trust", ["hops", "networks", "both"])
def test_behind_two_proxies_each_client_has_its_own_counter(make_user, settings, trust):
    if trust in ("hops", "both"):
        settings.PADDOCK_PROXY_HOPS = 2
    if trust in ("networks", "both"):
        settings.PADDOCK_TRUSTED_PROXIES = ["10.1.0.0/16"]
    user = make_user(Role.ANNOTATOR, password=PASSWORD)
    inner = Client(REMOTE_ADDR="10.1.0.2")  # the second proxy; the first is 10.1.0.1

    def via_proxies(client_address: str, username: str, password: str, forged: str = ""):
        chain = f"{forged}{client_address}, 10.1.0.1"
        return attempt(inner, username, password, HTTP_X_FORWARDED_FOR=chain)

    for n in range(5):
        assert via_proxies("203.0.113.5", f"guess-{n}", "wrong").status_code == 200
    assert via_proxies("203.0.113.5", "guess-9", "wrong").status_code == 429
    # Forging entries to the left does not escape: the first proxy wrote the real one.
    assert via_proxies("203.0.113.5", "guess-9", "wrong", forged="192.0.2.77, ").status_code == 429
    # Another client behind the same proxies is not locked out by the first one.
    response = via_proxies("198.51.100.7", user.username, PASSWORD)
    assert response.status_code == 302


def test_an_untrusted_peer_cannot_claim_to_be_behind_the_trusted_proxies(settings):
    settings.PADDOCK_TRUSTED_PROXIES = ["10.1.0.0/16"]
    direct = Client(REMOTE_ADDR="198.51.100.20")
    forged = random_addresses(7)
    statuses = [attempt(direct, f"guess-{n}", "wrong",
                        HTTP_X_FORWARDED_FOR=f"{next(forged)}, 10.1.0.1").status_code
                for n in range(8)]
    assert statuses == [200] * 5 + [429] * 3


def test_a_stranger_cannot_lock_the_owner_out_from_one_address(make_user):
    victim = make_user(Role.ADMIN, password=PASSWORD)
    stranger = Client(REMOTE_ADDR="203.0.113.66")
    for _ in range(5):
        attempt(stranger, victim.username, "wrong")
    assert attempt(stranger, victim.username, PASSWORD).status_code == 429
    owner = Client(REMOTE_ADDR="192.0.2.50")
    assert attempt(owner, victim.username, PASSWORD).status_code == 302 and logged_in(owner)


def test_locking_an_account_everywhere_takes_many_addresses_and_ends_with_the_window(
        make_user, settings):
    settings.PADDOCK_LOGIN_WINDOW_SECONDS = 2
    victim = make_user(Role.ANNOTATOR, password=PASSWORD)
    addresses = random_addresses(3)
    for _ in range(4):  # 4 addresses x 5 failures = the account's 20
        stranger = Client(REMOTE_ADDR=next(addresses))
        for _ in range(5):
            assert attempt(stranger, victim.username, "wrong").status_code == 200
    owner = Client(REMOTE_ADDR="192.0.2.50")
    blocked = attempt(owner, victim.username, PASSWORD)
    assert blocked.status_code == 429 and 1 <= int(blocked["Retry-After"]) <= 2
    time.sleep(2.2)
    assert attempt(owner, victim.username, PASSWORD).status_code == 302
