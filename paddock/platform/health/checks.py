"""Is the platform able to work? Database, Redis and Celery workers, each checked quickly.

Each check returns a :class:`CheckResult` rather than raising, so /healthz can report all
three at once; a check never waits longer than a couple of seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import redis
from celery import Celery
from django.db import connection

from paddock.platform.config import mask_url
from paddock.workers.queues import Queue


@dataclass
class CheckResult:
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.detail}


def _elapsed_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def check_database() -> CheckResult:
    start = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return CheckResult(False, {"vendor": connection.vendor, "error": _first_line(exc)})
    return CheckResult(True, {"vendor": connection.vendor, "latency_ms": _elapsed_ms(start)})


def check_redis(url: str) -> CheckResult:
    start = time.perf_counter()
    client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
    try:
        client.ping()
    except Exception as exc:
        return CheckResult(False, {"url": mask_url(url), "error": _first_line(exc)})
    finally:
        client.close()
    return CheckResult(True, {"url": mask_url(url), "latency_ms": _elapsed_ms(start)})


# Per broker: workers seen by the last full sweep in this process (monotonic time, names).
_known_workers: dict[str, tuple[float, frozenset[str]]] = {}
FULL_SWEEP_SECONDS = 60.0


def check_workers(app: Celery, timeout: float) -> CheckResult:
    """Broadcast a ping that also asks each worker which queues it consumes.

    Healthy means at least one worker answered. Queues nobody consumes are listed (a GPU
    machine may be down on purpose) without failing the check: the web keeps serving
    annotators whether or not a training worker is up.

    A broadcast waits its whole timeout for stragglers unless told how many replies to
    expect; so once a full sweep has seen N workers, later checks (within a minute) stop
    at N replies and answer in milliseconds, a load balancer probing every few seconds.
    """
    start = time.perf_counter()
    broker = f"{app.conf.broker_url}|{app.conf.broker_transport_options.get('global_keyprefix')}"
    swept_at, known = _known_workers.get(broker, (0.0, frozenset()))
    expected = len(known) if known and time.monotonic() - swept_at < FULL_SWEEP_SECONDS else None
    try:
        replies = app.control.inspect(timeout=timeout, limit=expected).active_queues() or {}
    except Exception as exc:
        return CheckResult(False, {"error": _first_line(exc)})
    if expected is None or set(replies) != known:
        _known_workers[broker] = (time.monotonic(), frozenset(replies))
    consumers: dict[str, list[str]] = {queue.value: [] for queue in Queue}
    for worker, queues in sorted(replies.items()):
        for queue in queues or []:
            consumers.setdefault(queue["name"], []).append(worker)
    return CheckResult(
        bool(replies),
        {
            "workers": sorted(replies),
            "queues": consumers,
            "queues_without_workers": [name for name, hosts in consumers.items() if not hosts],
            "latency_ms": _elapsed_ms(start),
            **({} if replies else {"error": f"no worker answered within {timeout:g} s"}),
        },
    )


def platform_health(*, app: Celery, redis_url: str, worker_timeout: float) -> dict[str, Any]:
    database = check_database()
    redis_check = check_redis(redis_url)
    if redis_check.ok:
        workers = check_workers(app, worker_timeout)
    else:
        workers = CheckResult(False, {"error": "not checked: Redis is unreachable"})
    checks = {"database": database, "redis": redis_check, "workers": workers}
    return {
        "status": "ok" if all(check.ok for check in checks.values()) else "unavailable",
        "checks": {name: check.as_dict() for name, check in checks.items()},
    }


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


def preflight_problems(redis_url: str) -> list[str]:
    """Sentences naming what is unreachable and what to do; empty when all is well."""
    problems = []
    database = check_database()
    if not database.ok:
        problems.append(
            f"cannot use the {database.detail['vendor']} database "
            f"({database.detail['error']}): start it or fix DATABASE_URL."
        )
    redis_check = check_redis(redis_url)
    if not redis_check.ok:
        problems.append(
            f"cannot reach Redis at {redis_check.detail['url']} "
            f"({redis_check.detail['error']}): start redis-server or fix REDIS_URL."
        )
    return problems
