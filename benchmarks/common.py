"""Shared by every benchmark: where results go and what is recorded with them.

Each benchmark prints its figures and writes them, with the commit, date, CPU model and
whether it was a ``--quick`` run, to ``benchmarks/results/<name>.json``. Quick runs (the
ones tests make, so no benchmark rots) write ``<name>.quick.json`` and never overwrite
the figures of a full run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def isolate_environment() -> None:
    """Production settings on a throwaway SQLite file and Redis key prefix.

    A benchmark must not depend on (or write to) whatever database the shell points at,
    nor see another session's queues; call this before Django is set up.
    """
    scratch = tempfile.mkdtemp(prefix="paddock-bench-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "paddock.platform.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/bench.sqlite3"
    os.environ["PADDOCK_ARTIFACTS_DIR"] = f"{scratch}/artifacts"
    os.environ["PADDOCK_REDIS_KEY_PREFIX"] = f"paddock-bench-{uuid.uuid4().hex[:8]}:"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=RESULTS_DIR.parent, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(fraction * 100) - 1]


def write_results(name: str, figures: dict[str, Any], *, quick: bool) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": name,
        "quick": quick,
        "commit": commit(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "figures": figures,
    }
    path = RESULTS_DIR / f"{name}{'.quick' if quick else ''}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)
    for key, value in figures.items():
        print(f"{key:<32} {value}")
    print(f"written to {path.relative_to(RESULTS_DIR.parent.parent)}")
    return path


POSTGRES_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def create_postgres_database(prefix: str) -> tuple[str, str]:
    """A fresh PostgreSQL database on the local server: (DATABASE_URL, name)."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as exc:
        raise SystemExit(f"this benchmark needs PostgreSQL at 127.0.0.1:5432 ({exc})") from None
    return f"postgres://postgres@127.0.0.1:5432/{name}", name


def drop_postgres_database(name: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def wait_for_server(base: str, *, who: str, timeout: float = 30.0) -> None:
    """Block until the server under test answers its login page, or exit naming ``who``
    (a benchmark that times a server that never came up would time nothing)."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/accounts/login/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{who}: the server at {base} did not start within {timeout:.0f} s")


def clear_redis_keys() -> None:
    """Delete what this run left in Redis: every key under its own key prefix (queues,
    results, cache). Needs Django set up, with a non-empty PADDOCK_REDIS_KEY_PREFIX."""
    import redis
    from django.conf import settings

    if not settings.REDIS_KEY_PREFIX:
        return  # never wipe keys a real installation shares this Redis with
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}*", count=1000))
    if keys:
        client.delete(*keys)


def shared_data(benchmark: str, needs: str = "hh-rlhf") -> Path:
    """``../shared/data`` (or ``$PADDOCK_SHARED_DATA``), or exit naming what is missing."""
    root = Path(__file__).resolve().parents[1]
    path = Path(os.environ.get("PADDOCK_SHARED_DATA", root.parent / "shared" / "data"))
    if not (path / needs).exists():
        sys.exit(f"benchmarks.{benchmark}: {path / needs} is missing: the real data lives in "
                 "../shared/data (set PADDOCK_SHARED_DATA to point elsewhere)")
    return path
