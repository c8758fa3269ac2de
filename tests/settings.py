"""Settings for the test suite: paddock's own, isolated per test session.

The suite uses its own Redis database (15, not the 0 that ``make run`` and a user's own
data use) and a key prefix unique to the session, so it stays apart from a developer's
running ``make run`` and from another test session on the same Redis. Both are put into
os.environ, so a real Celery worker started by the tests inherits them and uses the same
queues. PADDOCK_TEST_REDIS_URL names another Redis (or database) for the tests outright.
"""

import os
import tempfile
import uuid

from tests.support.isolation import redis_test_environment
from tests.support.timing import scaled

os.environ.update(redis_test_environment())
os.environ.setdefault("PADDOCK_REDIS_KEY_PREFIX", f"paddock-test-{uuid.uuid4().hex[:10]}:")
# Run ids restart at 1 in every test database: each session gets its own artifacts folder.
os.environ.setdefault("PADDOCK_ARTIFACTS_DIR", tempfile.mkdtemp(prefix="paddock-test-artifacts-"))

from paddock.platform.settings import *  # noqa: F403
from paddock.platform.settings import DATABASES

# The stand-in is an explicit test double here (the default is the registered policy), and
# the fast tests' tiny random models may answer. Set here, not in os.environ, so the
# production-settings subprocesses some tests start do not inherit them.
PADDOCK_RESPONSE_GENERATOR = os.environ.get("PADDOCK_RESPONSE_GENERATOR",
                                            "paddock.annotation.generation.StandInGenerator")
PADDOCK_ALLOW_TINY_MODELS = True

# Fast hashing: the suite creates many users; production keeps Django's default.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A worker process started by the tests is pointed at the test database by name.
if os.environ.get("PADDOCK_TEST_DATABASE_NAME"):
    DATABASES["default"]["NAME"] = os.environ["PADDOCK_TEST_DATABASE_NAME"]

# On SQLite the worker tests have several writers at once (a step's heartbeat thread, the
# worker, the test process); WAL and immediate transactions come from production settings,
# and on a busy machine a writer may wait far longer than production's 20 s for the lock.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {**DATABASES["default"].get("OPTIONS", {}),
                                       "timeout": scaled(60)}

# Each test process counts login attempts on its own: clearing a shared Redis cache between
# tests would flush the whole Redis database (Django's RedisCache.clear is FLUSHDB).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
