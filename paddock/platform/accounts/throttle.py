"""Limits on failed log-ins, in Django's cache: per username from one client, per client,
and per username from everywhere together.

Three counters, each over ``PADDOCK_LOGIN_WINDOW_SECONDS`` (default 300) from the first
failure it counted; while one is at its limit, every further attempt it covers is answered
429 with a Retry-After header until its window ends, whether or not the password is right:

- one username from one client IP: ``PADDOCK_LOGIN_ATTEMPTS`` (default 5);
- one client IP, whatever the usernames: ``PADDOCK_LOGIN_IP_ATTEMPTS`` (default the same);
- one username from every client together: ``PADDOCK_LOGIN_ACCOUNT_ATTEMPTS`` (default four
  times ``PADDOCK_LOGIN_ATTEMPTS``), which bounds guessing spread over many addresses.

So a stranger who fails at one address locks out that address (and that username from that
address), never the account for its owner elsewhere; locking an account out everywhere
takes ``PADDOCK_LOGIN_ACCOUNT_ATTEMPTS`` failures in one window, which the per-IP limit
makes come from several real addresses, and it lasts until that window ends. A successful
log-in clears the username's counters (never the IP's: one valid account must not let its
holder keep guessing others' passwords).

Usernames are counted as Django's log-in form reads them: NFKC-normalised (the form turns
``annB`` spelled with a full-width ``a``, U+FF41, into ``annB`` before checking the
password), then stripped and case-folded, so no spelling of a name gets a fresh counter.

The client IP is REMOTE_ADDR unless the request came through proxies we were told to
trust (``PADDOCK_TRUSTED_PROXIES``: addresses or networks; ``PADDOCK_PROXY_HOPS``: how
many proxies stand in front of the site). Only then is X-Forwarded-For read, from the
right, skipping our own proxies' entries; entries further left are the client's to forge.
By default nobody is trusted: with gunicorn reachable directly, a forged header must not
give each guess a fresh address.

The counters live in the ``default`` cache (``cache.add`` then ``cache.incr``, atomic in
Redis and in the local-memory cache). With the local-memory cache each process counts on
its own, so a server running several processes allows up to that many times the limit.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.template import engines

logger = logging.getLogger("paddock.security")

KEY_PREFIX = "paddock:login-failures"

_BLOCKED_PAGE = """{% extends "base.html" %}
{% block title %}Too many attempts · paddock{% endblock %}
{% block content %}
<section class="card narrow">
  <h1>Too many failed log-in attempts</h1>
  <p class="error">{{ message }}</p>
  <p><a href="{{ request.path }}">Back to the log-in page</a></p>
</section>
{% endblock %}
"""


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Proxies:
    """The proxies in front of the site whose X-Forwarded-For entries are believed."""

    networks: tuple[IPNetwork, ...] = ()  # PADDOCK_TRUSTED_PROXIES
    hops: int = 0  # PADDOCK_PROXY_HOPS

    def trusts(self, address: str) -> bool:
        parsed = parse_address(address)
        return parsed is not None and any(parsed in network for network in self.networks)


@dataclass(frozen=True)
class Limits:
    attempts: int  # one username from one client IP
    ip_attempts: int  # one client IP, any usernames
    account_attempts: int  # one username from every client IP together
    window: int  # seconds, from the first failure counted
    proxies: Proxies


def limits() -> Limits:
    """The limits from settings (paddock.platform.settings reads them from the environment;
    the defaults here are the same, for settings modules that do not)."""
    attempts = max(1, int(getattr(settings, "PADDOCK_LOGIN_ATTEMPTS", 5)))
    networks = tuple(
        ipaddress.ip_network(str(entry), strict=False)
        for entry in getattr(settings, "PADDOCK_TRUSTED_PROXIES", ())
    )
    return Limits(
        attempts=attempts,
        ip_attempts=max(1, int(getattr(settings, "PADDOCK_LOGIN_IP_ATTEMPTS", attempts))),
        account_attempts=max(
            1, int(getattr(settings, "PADDOCK_LOGIN_ACCOUNT_ATTEMPTS", 4 * attempts))),
        window=max(1, int(getattr(settings, "PADDOCK_LOGIN_WINDOW_SECONDS", 300))),
        proxies=Proxies(networks, max(0, int(getattr(settings, "PADDOCK_PROXY_HOPS", 0)))),
    )


def parse_address(text: str) -> IPAddress | None:
    """An address as proxies write it (``1.2.3.4``, ``1.2.3.4:5678``, ``[::1]:80``,
    ``::1``), or None for anything else."""
    text = text.strip()
    candidates = [text]
    if text.startswith("[") and "]" in text:
        candidates.append(text[1:text.index("]")])
    elif text.count(":") == 1:
        candidates.append(text.split(":")[0])
    for candidate in candidates:
        try:
            return ipaddress.ip_address(candidate)
        except ValueError:
            continue
    return None


def _canonical(address: str) -> str:
    parsed = parse_address(address)
    return str(parsed) if parsed is not None else address[:100]


def client_ip(request: HttpRequest, proxies: Proxies | None = None) -> str:
    """The client's address: REMOTE_ADDR, unless our own proxies forwarded the request.

    Then X-Forwarded-For is read from the right: with a hop count, the entry just left of
    our ``hops`` proxies; with trusted networks, the first entry (from the right) that is
    not one of them; with both, the hop count holds and each skipped hop must be trusted.
    A request whose REMOTE_ADDR is not a trusted proxy (when networks are configured)
    reached the site directly: its header is ignored.
    """
    if proxies is None:
        proxies = limits().proxies
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    if not proxies.hops and not proxies.networks:
        return _canonical(remote)
    if proxies.networks and not proxies.trusts(remote):
        return _canonical(remote)
    forwarded = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    chain = [*forwarded, remote]
    for position, address in enumerate(reversed(chain)):
        ours = position < proxies.hops if proxies.hops else True
        if proxies.networks:
            ours = ours and proxies.trusts(address)
        if not ours:
            return _canonical(address)
    return _canonical(chain[0])


def normalise_username(username: str) -> str:
    """The name the counters use: as Django's log-in form reads it (NFKC, like
    ``AbstractBaseUser.normalize_username``), stripped and case-folded."""
    return unicodedata.normalize("NFKC", username).strip().casefold()


def _keys(kind: str, value: str) -> tuple[str, str]:
    digest = hashlib.sha256(value.encode()).hexdigest()[:40]  # any characters, fixed length
    base = f"{KEY_PREFIX}:{kind}:{digest}"
    return f"{base}:count", f"{base}:since"


def _counters(request: HttpRequest, username: str, config: Limits) -> list[tuple[str, str, int]]:
    """(count key, since key, limit) for the username from this client, for the client
    IP, and for the username from everywhere."""
    name, ip = normalise_username(username), client_ip(request, config.proxies)
    return [
        (*_keys("user-ip", f"{ip}\n{name}"), config.attempts),
        (*_keys("ip", ip), config.ip_attempts),
        (*_keys("user", name), config.account_attempts),
    ]


def retry_after(request: HttpRequest, username: str) -> int | None:
    """Seconds until an attempt for ``username`` from this client is allowed again, or
    None when it is allowed now."""
    config = limits()
    now = time.time()
    waits = []
    for count_key, since_key, limit in _counters(request, username, config):
        values = cache.get_many([count_key, since_key])
        if values.get(count_key, 0) >= limit:
            since = values.get(since_key, now)
            waits.append(max(1, math.ceil(since + config.window - now)))
    return max(waits) if waits else None


def _hit(count_key: str, since_key: str, window: int) -> int:
    cache.add(since_key, time.time(), timeout=window)
    cache.add(count_key, 0, timeout=window)
    try:
        return cache.incr(count_key)
    except ValueError:  # the window ended between add and incr: this failure starts one
        cache.set(since_key, time.time(), timeout=window)
        cache.add(count_key, 1, timeout=window)
        return 1


_KINDS = {"user-ip": "username from one client IP", "ip": "client IP",
          "user": "username from every address"}


def record_failure(request: HttpRequest, username: str) -> None:
    config = limits()
    for count_key, since_key, limit in _counters(request, username, config):
        if _hit(count_key, since_key, config.window) == limit:
            kind = _KINDS[count_key.split(":")[-3]]
            logger.warning(
                "Log-in limit reached for a %s (%d failures in %d s): %s from %s",
                kind, limit, config.window, normalise_username(username),
                client_ip(request, config.proxies),
            )


def record_success(request: HttpRequest, username: str) -> None:
    config = limits()
    name, ip = normalise_username(username), client_ip(request, config.proxies)
    cache.delete_many([*_keys("user-ip", f"{ip}\n{name}"), *_keys("user", name)])


def blocked_response(request: HttpRequest, wait: int) -> HttpResponse:
    minutes = math.ceil(wait / 60)
    message = (
        "Too many failed log-in attempts for this account or from this network. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )
    html = engines["django"].from_string(_BLOCKED_PAGE).render(
        {"message": message}, request=request
    )
    response = HttpResponse(html, status=429)
    response["Retry-After"] = str(wait)
    return response


@receiver(user_logged_in, dispatch_uid="paddock-login-throttle")
def _mark_logged_in(sender, request, user, **kwargs) -> None:
    if request is not None:
        request._paddock_logged_in = user


def login_throttled(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap a view that checks a password on POST (the log-in page, the admin's).

    A POST is refused with 429 while the username or the client IP is over its limit;
    otherwise the view runs, and the attempt counts as a success when it logged the user
    in (Django's ``user_logged_in`` signal), as a failure when it did not.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        username = str(request.POST.get(get_user_model().USERNAME_FIELD, ""))
        wait = retry_after(request, username)
        if wait is not None:
            return blocked_response(request, wait)
        response = view(request, *args, **kwargs)
        if getattr(request, "_paddock_logged_in", None) is not None:
            record_success(request, username)
        else:
            record_failure(request, username)
        return response

    return wrapped
