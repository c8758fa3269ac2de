"""Who is calling, kept in this process for a short while: API tokens' users and session
users, so an annotation request needs no SQL to authenticate.

Measured before this cache (benchmarks/annotation_cost.py): token authentication was ~13%
of the web process's CPU per request plus a PostgreSQL round trip, and the browser path
(session row, then user row) two queries and ~24%. Now each request makes one Redis GET,
the authentication epoch (``auth_epoch``), and uses an entry only when:

- it was filled under that same epoch: every revocation (a token deleted or saved, a user
  saved or deleted, a log-out: ``revocation``) increments the epoch, so every process
  drops its entries on its next request;
- it is younger than ``PADDOCK_AUTH_CACHE_SECONDS`` (default 60; 0: no cache), which
  bounds what a revocation that could not reach Redis leaves behind;
- Redis answered: without a fresh epoch nothing is served from here, and the database is
  asked as if there were no cache.

What is cached is the row (column values), never a model instance: each request builds
its own user, so nothing one request sets on ``request.user`` reaches another. Lookups
that find nothing (an unknown token) are not cached. At most ``MAX_ENTRIES`` entries are
kept per process, the least recently used going first.

The epoch must be read before the database: an entry filled from rows older than a bump
then remembers the older epoch and is never used. (Revocation bumps once more after its
transaction commits, for rows read between the first bump and the commit.)
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from paddock.platform.accounts import auth_epoch

MAX_ENTRIES = 10_000


class BoundedCache:
    """Entries keyed by principal: (epoch, monotonic deadline, row); least recently used
    first out. Thread-safe (gunicorn's gthread workers share one per process)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[int, float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, epoch: int) -> Any | None:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            filled_under, deadline, row = entry
            if filled_under != epoch or now >= deadline:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return row

    def put(self, key: Hashable, epoch: int, row: Any, seconds: float) -> None:
        with self._lock:
            self._entries[key] = (epoch, time.monotonic() + seconds, row)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_cache = BoundedCache()


def lookup(key: Hashable, load: Callable[[], Any | None]) -> Any | None:
    """The row for ``key`` from this process's cache when the epoch allows it, else from
    ``load()`` (the database; None for nothing found, which is not cached)."""
    seconds = settings.PADDOCK_AUTH_CACHE_SECONDS
    if seconds <= 0:
        return load()
    epoch = auth_epoch.current()  # before the database: see the module's docstring
    if epoch is None:
        _cache.clear()  # revocations meanwhile could not reach us
        return load()
    row = _cache.get(key, epoch)
    if row is None:
        row = load()
        if row is not None:
            _cache.put(key, epoch, row, seconds)
    return row


def forget_all() -> None:
    """Drop this process's entries (other processes learn of it from the epoch)."""
    _cache.clear()


@receiver(setting_changed, dispatch_uid="paddock-principal-cache-settings")
def _settings_changed(setting: str, **kwargs) -> None:
    if setting in ("PADDOCK_AUTH_CACHE_SECONDS", "REDIS_URL", "REDIS_KEY_PREFIX",
                   "DATABASES"):
        forget_all()
