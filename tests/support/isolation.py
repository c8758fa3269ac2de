"""The Redis a test session uses: its own database, never the 0 of ``make run``."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from paddock.platform.config import DEFAULT_REDIS_URL

TEST_REDIS_DATABASE = 15
CHOSEN = "PADDOCK_TEST_REDIS_CHOSEN"


def redis_test_environment() -> dict[str, str]:
    """REDIS_URL for the suite: PADDOCK_TEST_REDIS_URL as given, else REDIS_URL's server
    (or the local default) with database 15.

    Chosen once, in the pytest process; a worker it starts inherits the marker and keeps the
    REDIS_URL it was given, because a test may point one at a Redis server of its own.
    """
    if os.environ.get(CHOSEN):
        return {}
    url = os.environ.get("PADDOCK_TEST_REDIS_URL", "").strip()
    if not url:
        base = urlsplit(os.environ.get("REDIS_URL", "").strip() or DEFAULT_REDIS_URL)
        url = base._replace(path=f"/{TEST_REDIS_DATABASE}").geturl()
    return {"REDIS_URL": url, CHOSEN: "1"}
