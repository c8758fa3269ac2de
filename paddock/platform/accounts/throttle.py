"""Limits on failed log-ins: per username and per client IP, in Django's cache.

After ``PADDOCK_LOGIN_ATTEMPTS`` failed attempts (default 5) for one username, or from one
client IP (``PADDOCK_LOGIN_IP_ATTEMPTS``, default the same number), within
``PADDOCK_LOGIN_WINDOW_SECONDS`` (default 300) of the first of them, every further attempt
is answered 429 with a Retry-After header until the window ends, whether or not its
password is right. A successful log-in clears the username's count (never the IP's: one
valid account must not let its holder keep guessing others' passwords).

The counters live in the ``default`` cache (``cache.add`` then ``cache.incr``, atomic in
Redis and in the local-memory cache). With the local-memory cache each process counts on
its own, so a server running several processes allows up to that many times the limit.

Behind a TLS-terminating proxy every request comes from the proxy's address, so the
client IP is read from X-Forwarded-For: the entry ``PADDOCK_LOGIN_TRUSTED_PROXIES`` places
from the right (default 1 when ``SECURE_PROXY_SSL_HEADER`` is set, as in production, else
0: REMOTE_ADDR). Entries further left are written by the client and never trusted.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
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


@dataclass(frozen=True)
class Limits:
    attempts: int  # per username
    ip_attempts: int  # per client IP
    window: int  # seconds, from the first failure counted
    trusted_proxies: int  # X-Forwarded-For entries appended by our own proxies


def limits() -> Limits:
    attempts = int(getattr(settings, "PADDOCK_LOGIN_ATTEMPTS", 5))
    behind_proxy = bool(getattr(settings, "SECURE_PROXY_SSL_HEADER", None))
    return Limits(
        attempts=attempts,
        ip_attempts=int(getattr(settings, "PADDOCK_LOGIN_IP_ATTEMPTS", attempts)),
        window=max(1, int(getattr(settings, "PADDOCK_LOGIN_WINDOW_SECONDS", 300))),
        trusted_proxies=int(
            getattr(settings, "PADDOCK_LOGIN_TRUSTED_PROXIES", 1 if behind_proxy else 0)
        ),
    )


def client_ip(request: HttpRequest, trusted_proxies: int | None = None) -> str:
    """The client's address: REMOTE_ADDR, or the entry our own proxies wrote in
    X-Forwarded-For (counted from the right; the left part is the client's to forge)."""
    if trusted_proxies is None:
        trusted_proxies = limits().trusted_proxies
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    if trusted_proxies <= 0:
        return remote
    forwarded = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    if len(forwarded) >= trusted_proxies:
        return forwarded[-trusted_proxies]
    return remote


def _normalise(username: str) -> str:
    return username.strip().casefold()


def _keys(kind: str, value: str) -> tuple[str, str]:
    digest = hashlib.sha256(value.encode()).hexdigest()[:40]  # any characters, fixed length
    base = f"{KEY_PREFIX}:{kind}:{digest}"
    return f"{base}:count", f"{base}:since"


def _counters(request: HttpRequest, username: str, config: Limits) -> list[tuple[str, str, int]]:
    """(count key, since key, limit) for the username and for the client IP."""
    return [
        (*_keys("user", _normalise(username)), config.attempts),
        (*_keys("ip", client_ip(request, config.trusted_proxies)), config.ip_attempts),
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


def record_failure(request: HttpRequest, username: str) -> None:
    config = limits()
    for count_key, since_key, limit in _counters(request, username, config):
        if _hit(count_key, since_key, config.window) == limit:
            kind = "username" if ":user:" in count_key else "client IP"
            logger.warning(
                "Log-in limit reached for a %s (%d failures in %d s): %s",
                kind, limit, config.window,
                _normalise(username) if kind == "username" else client_ip(request),
            )


def record_success(username: str) -> None:
    cache.delete_many(_keys("user", _normalise(username)))


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
            record_success(username)
        else:
            record_failure(request, username)
        return response

    return wrapped
