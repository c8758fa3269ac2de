"""Simulated annotators against the real stack: gunicorn + PostgreSQL + the REST API.

Each simulated annotator loops next -> think -> submit over a batch with overlap 3, with
its own API token and keep-alive connection; they start spread over one think time.
Afterwards the database is checked: no comparison got more judgements than its overlap,
and every judgement the API acknowledged is stored (none lost). A second phase without
think time, everyone starting at once, measures the saturation throughput. CPU time per
request is reported for the server, PostgreSQL and the load client, which share the
machine's cores.

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


def _processes():
    """(pid, parent pid, command, own CPU seconds, reaped children's CPU seconds) of
    every live process, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        command = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        own = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        reaped = (int(fields[13]) + int(fields[14])) / tick  # cutime + cstime
        yield int(stat.parent.name), int(fields[1]), command, own, reaped


def cpu_seconds(*, server_pid: int) -> dict[str, float]:
    """CPU time used so far by the server (gunicorn and its workers), PostgreSQL and us.

    Read before and after a phase, this splits the machine's work into its parts, which
    tells a latency tail caused by the server apart from one caused by the load client
    competing for the same cores. PostgreSQL backends come and go with connections, so
    the postmaster's count of its exited children is included.
    """
    processes = list(_processes())
    commands = {pid: command for pid, _, command, _, _ in processes}
    used = {"server": 0.0, "database": 0.0}
    for pid, parent, command, own, reaped in processes:
        if server_pid in (pid, parent):
            used["server"] += own
        elif command.startswith("postgres"):
            is_postmaster = not commands.get(parent, "").startswith("postgres")
            used["database"] += own + (reaped if is_postmaster else 0.0)
    times = os.times()
    used["client"] = times.user + times.system
    return used


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


async def annotator(base: tuple[str, int], token: str, stats: Stats, deadline: float,
                    think: float, rng: random.Random) -> None:
    from benchmarks._http_client import Connection

    connection = Connection(*base, headers={"Authorization": f"Token {token}"})
    # A team does not click at the same millisecond: the paced phase starts people spread
    # over one think time. The saturation phase (think 0) starts everyone at once.
    await asyncio.sleep(think * rng.random())
    try:
        await _annotate(connection, stats, deadline, think, rng)
    except (OSError, asyncio.IncompleteReadError) as exc:  # counted, never hidden
        stats.errors[f"transport {type(exc).__name__}"] += 1
    finally:
        await connection.close()


async def _annotate(connection, stats: Stats, deadline: float, think: float,
                    rng: random.Random) -> None:
    while time.monotonic() < deadline:
        start = time.perf_counter()
        response = await connection.request("POST", "/api/v1/annotation/next")
        stats.latency["next"].append((time.perf_counter() - start) * 1000)
        stats.requests += 1
        if response.status == 204:
            return
        if response.status != 200:
            stats.errors[f"next {response.status}"] += 1
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
        response = await connection.request(
            "POST", f"/api/v1/annotation/assignments/{lease['assignment_id']}/submit", body
        )
        stats.latency["submit"].append((time.perf_counter() - start) * 1000)
        stats.requests += 1
        if response.status in (200, 201):
            stats.acknowledged.append(response.json()["id"])
        else:
            stats.errors[f"submit {response.status}"] += 1


async def load(base: tuple[str, int], tokens: list[str], seconds: float, think: float,
               seed_value: int) -> Stats:
    stats = Stats()
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(
        annotator(base, token, stats, deadline, think, random.Random(seed_value + i))  # noqa: S311
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


def cpu_per_request(before: dict[str, float], after: dict[str, float],
                    requests: int) -> dict[str, float]:
    return {f"cpu_ms_per_request_{part}": round((after[part] - before[part]) * 1000
                                                / max(requests, 1), 2)
            for part in before}


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
    parser.add_argument("--seconds", type=float, help="length of the paced phase")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    args = parser.parse_args()
    comparisons, annotators, seconds, think = (
        (300, 20, 6, 0.2) if args.quick else (20_000, 200, 120, 2.0)
    )
    seconds = args.seconds or seconds
    saturation_seconds = 4 if args.quick else 30
    server_kind = (f"gunicorn gthread {args.workers} workers x {args.threads} threads,"
                   " keep-alive 75 s")

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

    from benchmarks.common import wait_for_server, write_results

    server = None
    try:
        call_command("migrate", verbosity=0)
        batch_id, tokens = seed(comparisons, annotators, overlap=3)
        port = free_port()
        logs = open(Path(tempfile.mkdtemp()) / "gunicorn.log", "w")
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "paddock.platform.wsgi",
             "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
             "--threads", str(args.threads),
             "--worker-class", "gthread", "--keep-alive", "75", "--log-level", "warning"],
            cwd=ROOT, env=dict(os.environ), stdout=logs, stderr=subprocess.STDOUT,
        )
        wait_for_server(f"http://127.0.0.1:{port}", who="benchmarks.annotation_load")
        base = ("127.0.0.1", port)
        print(f"{annotators} annotators, think {think} s, for {seconds} s ...", flush=True)
        before = cpu_seconds(server_pid=server.pid)
        paced = asyncio.run(load(base, tokens, seconds, think, 1))
        paced_cpu = cpu_per_request(before, cpu_seconds(server_pid=server.pid), paced.requests)
        print(summary(paced, seconds, "") | paced_cpu, flush=True)
        print("saturation (no think time) ...", flush=True)
        saturated = asyncio.run(load(base, tokens, saturation_seconds, 0.0, 2))
        figures = {
            "comparisons": comparisons, "overlap": 3, "annotators": annotators,
            "seconds": seconds, "think_seconds": think,
            "server": server_kind,
            "database": "postgresql",
            **summary(paced, seconds, ""),
            **paced_cpu,
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


if __name__ == "__main__":
    main()
