"""Round trip of a task through Redis and a real Celery worker, and /healthz latency.

What a manager's click costs before any real work starts: enqueue, broker, worker, result
back. Sequential round trips give latency; a burst gives throughput of one prefork worker
with two processes (the machine has two cores).

    python -m benchmarks.task_roundtrip [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import isolate_environment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few tasks, to check it runs")
    args = parser.parse_args()
    sequential, burst = (20, 50) if args.quick else (500, 2000)

    isolate_environment()
    import django

    django.setup()
    from django.test import Client

    from benchmarks.common import clear_redis_keys, percentile, write_results
    from paddock.platform.celery import app
    from paddock.workers.tasks.diagnostics import probe_default
    from tests.support.celery_worker import WorkerProcess, worker_environment

    env = worker_environment(settings_module="paddock.platform.settings")
    worker = WorkerProcess(queues=["default"], env=env, log_dir=Path(tempfile.mkdtemp()))
    worker.concurrency = 2
    worker.start(app)
    try:
        probe_default.delay().get(timeout=30)  # warm the pool
        latencies = []
        for _ in range(sequential):
            start = time.perf_counter()
            probe_default.delay().get(timeout=30)
            latencies.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        results = [probe_default.delay() for _ in range(burst)]
        for result in results:
            result.get(timeout=120)
        burst_seconds = time.perf_counter() - start

        client = Client(SERVER_NAME="127.0.0.1")
        health = []
        for _ in range(10 if args.quick else 50):
            start = time.perf_counter()
            response = client.get("/healthz")
            health.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.content
    finally:
        worker.stop()
        clear_redis_keys()

    write_results(
        "task_roundtrip",
        {
            "sequential_tasks": sequential,
            "roundtrip_p50_ms": round(percentile(latencies, 0.50), 2),
            "roundtrip_p99_ms": round(percentile(latencies, 0.99), 2),
            "burst_tasks": burst,
            "burst_tasks_per_second": round(burst / burst_seconds, 1),
            "healthz_p50_ms": round(percentile(health, 0.50), 1),
            "healthz_p99_ms": round(percentile(health, 0.99), 1),
        },
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
