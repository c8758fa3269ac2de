"""Simulated annotators against the real stack: gunicorn + PostgreSQL + the REST API.

Each simulated annotator loops next -> think -> submit over a batch with overlap 3, with
its own API token. Afterwards the database is checked: no comparison got more judgements
than its overlap, and every judgement the API acknowledged is stored (none lost). A second
phase without think time measures the saturation throughput.

    python -m benchmarks.annotation_load [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(comparisons: int, annotators: int, overlap: int) -> tuple[int, list[str]]:
    """Batch, comparisons and annotators with tokens, written in bulk."""
    from rest_framework.authtoken.models import Token

    from paddock.annotation.models import (
        Batch,
        BatchStatus,
        Comparison,
        Conversation,
        Response,
        Turn,
    )
    from paddock.platform.accounts.models import Role, User

    batch = Batch.objects.create(name="load", status=BatchStatus.OPEN, overlap=overlap)
    conversations = Conversation.objects.bulk_create(
        Conversation(batch=batch, axis="safety" if i % 4 == 0 else "helpfulness",
                     risk_category="unqualified_advice" if i % 4 == 0 else "", origin="imported")
        for i in range(comparisons)
    )
    Turn.objects.bulk_create(
        Turn(conversation=c, index=0, role="user", content=f"Question {i}: explain tides.")
        for i, c in enumerate(conversations)
    )
    responses = Response.objects.bulk_create(
        Response(conversation=c, text=f"Answer {side} to {i}: " + "tides " * 60,
                 model_version=f"policy-{side}")
        for i, c in enumerate(conversations) for side in "ab"
    )
    Comparison.objects.bulk_create(
        Comparison(batch=batch, conversation=c, response_a=responses[2 * i],
                   response_b=responses[2 * i + 1], axis=c.axis)
        for i, c in enumerate(conversations)
    )
    users = User.objects.bulk_create(
        User(username=f"load-{i}", role=Role.ANNOTATOR) for i in range(annotators)
    )
    tokens = Token.objects.bulk_create(Token(user=u, key=Token.generate_key()) for u in users)
    from django.db import connection

    with connection.cursor() as cursor:  # planner statistics, as autovacuum would keep them
        cursor.execute("ANALYZE")
    return batch.pk, [t.key for t in tokens]


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = {"next": [], "submit": []}
        self.errors: Counter[str] = Counter()
        self.acknowledged: list[int] = []
        self.requests = 0


async def annotator(client, token: str, stats: Stats, deadline: float, think: float,
                    rng: random.Random) -> None:
    import httpx

    try:
        await _annotate(client, token, stats, deadline, think, rng)
    except httpx.TransportError as exc:  # counted, never hidden
        stats.errors[f"transport {type(exc).__name__}"] += 1


async def _annotate(client, token: str, stats: Stats, deadline: float, think: float,
                    rng: random.Random) -> None:
    headers = {"Authorization": f"Token {token}"}
    while time.monotonic() < deadline:
        start = time.perf_counter()
        response = await client.post("/api/v1/annotation/next", headers=headers)
        stats.latency["next"].append((time.perf_counter() - start) * 1000)
        stats.requests += 1
        if response.status_code == 204:
            return
        if response.status_code != 200:
            stats.errors[f"next {response.status_code}"] += 1
            await asyncio.sleep(1)
            continue
        lease = response.json()
        await asyncio.sleep(think * rng.uniform(0.5, 1.5))
        body = {"chosen": rng.choice(["left", "right"]),
                "strength": rng.choice(["significantly_better", "better", "slightly_better",
                                        "negligibly_better"])}
        if lease["axis"] == "safety":
            body |= {"left_safe": rng.random() < 0.7, "right_safe": rng.random() < 0.5}
        start = time.perf_counter()
        response = await client.post(
            f"/api/v1/annotation/assignments/{lease['assignment_id']}/submit",
            json=body, headers=headers,
        )
        stats.latency["submit"].append((time.perf_counter() - start) * 1000)
        stats.requests += 1
        if response.status_code in (200, 201):
            stats.acknowledged.append(response.json()["id"])
        else:
            stats.errors[f"submit {response.status_code}"] += 1


async def load(base_url: str, tokens: list[str], seconds: float, think: float,
               seed_value: int) -> Stats:
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # a log line per request costs CPU
    stats = Stats()
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(
            annotator(client, token, stats, deadline, think, random.Random(seed_value + i))  # noqa: S311
            for i, token in enumerate(tokens)
        ))
    return stats


def summary(stats: Stats, seconds: float, prefix: str) -> dict:
    from benchmarks.common import percentile

    figures = {f"{prefix}requests_per_second": round(stats.requests / seconds, 1),
               f"{prefix}errors": sum(stats.errors.values())}
    for kind, values in stats.latency.items():
        if values:
            figures[f"{prefix}{kind}_p50_ms"] = round(percentile(values, 0.5), 1)
            figures[f"{prefix}{kind}_p99_ms"] = round(percentile(values, 0.99), 1)
    if stats.errors:
        figures[f"{prefix}error_kinds"] = dict(stats.errors)
    return figures


def integrity(batch_id: int, acknowledged: list[int]) -> dict:
    from django.db.models import Count, F

    from paddock.annotation.models import Batch, Comparison, Judgement

    overlap = Batch.objects.get(pk=batch_id).overlap
    counted = Comparison.objects.annotate(n=Count("judgements")).filter(n__gt=overlap).count()
    drifted = Comparison.objects.annotate(n=Count("judgements")).exclude(
        n=F("judgement_count")).count()
    stored = set(Judgement.objects.values_list("id", flat=True))
    return {
        "judgements_acknowledged": len(set(acknowledged)),
        "judgements_stored": len(stored),
        "lost_judgements": len(set(acknowledged) - stored),
        "over_assignments": counted,
        "counter_drift": drifted,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    comparisons, annotators, seconds, think = (
        (300, 20, 6, 0.2) if args.quick else (20_000, 200, 120, 2.0)
    )
    saturation_seconds = 4 if args.quick else 30

    from benchmarks.common import (
        create_postgres_database,
        drop_postgres_database,
        isolate_environment,
    )

    isolate_environment()
    database_url, name = create_postgres_database("paddock_bench")
    os.environ["DATABASE_URL"] = database_url
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    from django.core.management import call_command

    from benchmarks.common import write_results

    server = None
    try:
        call_command("migrate", verbosity=0)
        batch_id, tokens = seed(comparisons, annotators, overlap=3)
        port = free_port()
        logs = open(Path(tempfile.mkdtemp()) / "gunicorn.log", "w")
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "paddock.platform.wsgi",
             "--bind", f"127.0.0.1:{port}", "--workers", "3", "--threads", "8",
             "--worker-class", "gthread", "--keep-alive", "75", "--log-level", "warning"],
            cwd=ROOT, env=dict(os.environ), stdout=logs, stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        _wait_for(base)
        print(f"{annotators} annotators, think {think} s, for {seconds} s ...", flush=True)
        paced = asyncio.run(load(base, tokens, seconds, think, 1))
        print("saturation (no think time) ...", flush=True)
        saturated = asyncio.run(load(base, tokens, saturation_seconds, 0.0, 2))
        figures = {
            "comparisons": comparisons, "overlap": 3, "annotators": annotators,
            "seconds": seconds, "think_seconds": think,
            "server": "gunicorn gthread 3 workers x 8 threads, keep-alive 75 s",
            "database": "postgresql",
            **summary(paced, seconds, ""),
            **summary(saturated, saturation_seconds, "saturation_"),
            **integrity(batch_id, paced.acknowledged + saturated.acknowledged),
        }
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        drop_postgres_database(name)
    write_results("annotation_load", figures, quick=args.quick)


def _wait_for(base: str, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/accounts/login/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit("benchmarks.annotation_load: gunicorn did not start")


if __name__ == "__main__":
    main()
