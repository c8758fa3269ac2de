"""Browser sessions read from Redis, stored in the database (Django's ``cached_db``).

A logged-in request then reads its session with one Redis GET instead of a SQL query
(measured in benchmarks/annotation_cost.py). Django's ``cached_db`` already falls back to
the database when the cache cannot be read, but then writes the row it read back into the
cache without guarding that write, so with Redis unreachable every logged-in request
would fail; here that write is skipped (and logged, once a minute at most) instead, and
sessions keep working from the database as they did before the cache. Saving and deleting
sessions are Django's: the row is written or deleted first, then the cache.
"""

from __future__ import annotations

import logging
import time

from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore

logger = logging.getLogger("django.contrib.sessions")


class SessionStore(CachedDBStore):
    def load(self):
        try:
            data = self._cache.get(self.cache_key)
        except Exception:  # as Django's: any cache failure means "not cached"
            data = None
        if data is not None:
            return data
        row = self._get_session_from_db()
        if not row:
            return {}
        data = self.decode(row.session_data)
        try:
            self._cache.set(self.cache_key, data, self.get_expiry_age(expiry=row.expire_date))
        except Exception as error:  # the session still works, from the database
            _warn(error)
        return data


_last_warning = float("-inf")


def _warn(error: Exception) -> None:
    """Once a minute at most: an unreachable Redis fails every logged-in request's write."""
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= 60:
        _last_warning = now
        logger.warning("Could not cache a session read from the database: %s. Sessions are "
                       "read from the database until the cache answers.", error)
