from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator

import pytest
import redis
from django.conf import settings
from django.db import connection

from paddock.platform.accounts.models import Role, User
from tests.support.celery_worker import WorkerProcess, worker_environment
from tests.support.redis_queues import queues_clean
from tests.support.timing import timeout_scale

_usernames = itertools.count()


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    def make(role: Role = Role.ANNOTATOR, *, password: str = "secret-pass-123") -> User:
        user = User(username=f"{role.value}-{next(_usernames)}", role=role)
        user.set_password(password)
        user.save()
        return user

    return make


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Throttles count in the cache (log-ins, prompts sent for sampling), keyed by user id,
    and ids repeat between tests on a rolled-back database: each test starts with none.
    (The test cache is this process's own memory, so clearing it touches nobody else.)
    Authenticated principals cached by user id and token go too, for the same reason."""
    from django.core.cache import cache

    from paddock.platform.accounts import principal_cache

    cache.clear()
    principal_cache.forget_all()


@pytest.fixture(scope="session")
def celery_app():
    from paddock.platform.celery import app

    return app


@pytest.fixture(scope="session")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    # Everything this session wrote to Redis carries its prefix; leave nothing behind.
    prefix = settings.REDIS_KEY_PREFIX
    assert prefix.startswith("paddock-test-"), prefix
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def session_queues() -> list[str]:
    return [queue.name for queue in settings.CELERY_TASK_QUEUES]


@pytest.fixture(autouse=True)
def _clean_worker_queues(request) -> Iterator[None]:
    """Empty the session's queues before and after each worker test, so a failed test
    leaves no message for the next one to take or count."""
    if request.node.get_closest_marker("worker") is None:
        yield
        return
    client = request.getfixturevalue("redis_client")
    queues_clean(client, prefix=settings.REDIS_KEY_PREFIX, queues=session_queues())
    yield
    queues_clean(client, prefix=settings.REDIS_KEY_PREFIX, queues=session_queues())


@pytest.fixture(scope="session")
def start_worker(
    django_db_setup, django_db_blocker, celery_app, redis_client, tmp_path_factory
) -> Iterator[Callable[[list[str]], WorkerProcess]]:
    """Start real worker processes on the test database and Redis; stop them at the end."""
    with django_db_blocker.unblock():
        database_name = str(connection.settings_dict["NAME"])
    env = worker_environment(database_name=database_name)
    log_dir = tmp_path_factory.mktemp("worker-logs")
    started: list[WorkerProcess] = []

    def start(queues: list[str], extra_env: dict[str, str] | None = None) -> WorkerProcess:
        worker = WorkerProcess(queues=queues, env={**env, **(extra_env or {})}, log_dir=log_dir)
        started.append(worker)
        return worker.start(celery_app)

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="session")
def default_worker(start_worker) -> WorkerProcess:
    """One worker listening to the ``default`` queue only, shared by the whole session."""
    return start_worker(["default"])


@pytest.fixture(scope="session")
def generation_worker(start_worker) -> WorkerProcess:
    """One worker on the ``generation`` queue, sampling written prompts with a stand-in
    that takes a while (as a GPU worker would), so pages must show that they wait."""
    return start_worker(
        ["generation"],
        {"PADDOCK_RESPONSE_GENERATOR": "tests.support.generators.SlowStandInGenerator"},
    )


def pytest_report_header(config) -> list[str]:
    return [
        f"paddock: database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, "
        f"redis {settings.REDIS_URL}, key prefix {settings.REDIS_KEY_PREFIX}, "
        f"strict skips {os.environ.get('PADDOCK_STRICT_SKIPS', '0')}, "
        f"timeout scale {timeout_scale():g}"
    ]
