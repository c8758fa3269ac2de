"""The authentication epoch: one integer in Redis that every revocation increments.

Each process keeps authenticated principals for a short while (``principal_cache``); an
entry is used only while the epoch it was filled under is still the current one. So a
deleted token, a deactivated user or a changed password, which bump the epoch, is noticed
by every gunicorn worker and Celery process on its next request, at the cost of one Redis
GET per request (cheaper, for the web process and for PostgreSQL, than a SQL query).

Fail safe: when Redis cannot be answered, :func:`current` returns None and callers ask the
database, as without a cache; a warning is logged at most once a minute. A process that
saw Redis fail forgets what it cached (``principal_cache``: a revocation may have
happened meanwhile that it could not hear of), and leaves Redis alone for a second before
trying again, so a Redis host that no longer answers costs each request nothing more than
the database query.

A missing key (a Redis restart without persistence, a flushed database) is created with
the current time in microseconds rather than 1, and a bump of a missing key does the same:
the epoch then never comes back to a value that entries cached before the loss remember.
(Microseconds, not nanoseconds: Lua numbers are doubles, exact to 2**53, about 9e15.)
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger("paddock.security")

KEY = "auth:epoch"  # under settings.REDIS_KEY_PREFIX
TIMEOUT_SECONDS = 0.5  # connecting and answering; a healthy local Redis takes ~0.1 ms
PAUSE_AFTER_FAILURE_SECONDS = 1.0
WARN_EVERY_SECONDS = 60.0

# Set the key to ARGV[1] when it is missing; return it either way.
_GET_OR_START = """
local value = redis.call('GET', KEYS[1])
if value then return value end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
"""
# INCR, but a missing key starts at ARGV[1] instead of 1.
_BUMP = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCR', KEYS[1]) end
redis.call('SET', KEYS[1], ARGV[1])
return tonumber(ARGV[1])
"""


class _State:
    """This process's client (one connection pool, rebuilt after a fork by redis-py
    itself) and what it last saw of Redis's health."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.client: redis.Redis | None = None
        self.key = ""
        self.paused_until = 0.0
        self.last_warning = float("-inf")
        self.failures_since_warning = 0


_state = _State()


def _client() -> tuple[redis.Redis, str]:
    state = _state
    if state.client is None:
        with state.lock:
            if state.client is None:
                state.key = f"{settings.REDIS_KEY_PREFIX}{KEY}"
                state.client = redis.Redis.from_url(
                    settings.REDIS_URL,
                    socket_connect_timeout=TIMEOUT_SECONDS,
                    socket_timeout=TIMEOUT_SECONDS,
                    # One immediate retry covers a pooled connection Redis closed (a
                    # restart); redis-py's default would retry 3 times with back-off.
                    retry=Retry(NoBackoff(), 1),
                )
    return state.client, state.key


def current() -> int | None:
    """The epoch now, or None when Redis did not answer (then use no cached entry)."""
    if time.monotonic() < _state.paused_until:
        return None
    client, key = _client()
    try:
        value = client.get(key)
        if value is None:
            value = client.eval(_GET_OR_START, 1, key, _clock())
        return int(value)
    except (redis.RedisError, OSError, ValueError) as error:
        _failed("read", error)
        return None


def bump() -> int | None:
    """Increment the epoch, so every process drops what it cached; None when Redis did not
    answer (the change is in the database; processes that can still reach Redis keep
    their entries until ``PADDOCK_AUTH_CACHE_SECONDS`` runs out)."""
    client, key = _client()
    try:
        return int(client.eval(_BUMP, 1, key, _clock()))
    except (redis.RedisError, OSError, ValueError) as error:
        _failed("increment", error)
        return None


def _clock() -> int:
    """Where a missing epoch starts: microseconds since 1970, above any epoch reached from
    an earlier start unless that one was bumped more times than microseconds passed."""
    return time.time_ns() // 1000


def _failed(action: str, error: Exception) -> None:
    state = _state
    now = time.monotonic()
    state.paused_until = now + PAUSE_AFTER_FAILURE_SECONDS
    state.failures_since_warning += 1
    if now - state.last_warning >= WARN_EVERY_SECONDS:
        logger.warning(
            "Could not %s the authentication epoch in Redis at %s (key %s%s): %s. Requests "
            "are authenticated from the database until it answers (%d failure(s) since "
            "the last warning).", action, _redacted(settings.REDIS_URL),
            settings.REDIS_KEY_PREFIX, KEY, error, state.failures_since_warning)
        state.last_warning = now
        state.failures_since_warning = 0


def _redacted(url: str) -> str:
    """The Redis URL without its password, for the log."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


def reset() -> None:
    """Forget the client and the failure state (settings changed, or tests)."""
    with _state.lock:
        client, _state.client = _state.client, None
        _state.paused_until = 0.0
        _state.last_warning = float("-inf")
        _state.failures_since_warning = 0
    if client is not None:
        client.close()


@receiver(setting_changed, dispatch_uid="paddock-auth-epoch-settings")
def _settings_changed(setting: str, **kwargs) -> None:
    if setting in ("REDIS_URL", "REDIS_KEY_PREFIX"):
        reset()
