"""Simulated annotators against the real stack: gunicorn + PostgreSQL + the REST API.

Two ways of judging, each on its own batch (overlap 3) in the same run:

- ``two_requests``: next -> think -> submit -> next ... (scripts; the workspace before
  issue 20). The next comparison is there when both requests have answered.
- ``one_round_trip``: the workspace now. The client holds the next comparison ahead,
  shows it at the key press, and the submit carries ``next=true`` and brings the one
  after, while the annotator reads. ``submit_to_next`` is 0 when the comparison to show
  was held at the key press, else how long the client waited for it (the previous
  answer's reply came after the annotator had read the comparison on screen).

Each simulated annotator has its own API token and keep-alive connection; they start
spread over one think time. A second phase per way, without think time and everyone at
once, measures saturation. ``--reference REF`` adds the two-request way served by the code
of commit REF (a temporary git worktree) against the same database, so a change is
compared with the code before it on the same machine in the same run.

Afterwards the database is checked: no comparison got more judgements than its overlap,
nobody judged a comparison twice, the counters match the rows, and every judgement the
API acknowledged is stored. CPU time per request and per judgement is reported for the
server (gunicorn and its workers), the PostgreSQL backends of this database, and the load
client, which share the machine's cores.

    python -m benchmarks.annotation_load [--quick] [--reference REF]
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


def seed(comparisons: int, annotators: int, overlap: int, tag: str = "load",
         texts: tuple[str, str, str] | None = None, history: int = 0) -> tuple[int, list[str]]:
    """Batch, comparisons and annotators with tokens, written in bulk (the annotators and
    tokens only once: a later call makes a batch for the same people). ``texts``: the
    prompt and the two answers to use instead of short generated ones; ``history``: that
    many past judgements first (see ``past_history``)."""
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

    batch = Batch.objects.create(name=tag, status=BatchStatus.OPEN, overlap=overlap)
    conversations = Conversation.objects.bulk_create(
        Conversation(batch=batch, axis="safety" if i % 4 == 0 else "helpfulness",
                     risk_category="unqualified_advice" if i % 4 == 0 else "", origin="imported")
        for i in range(comparisons)
    )
    prompt, answer_a, answer_b = texts or ("Question {i}: explain tides.",
                                           "Answer a to {i}: " + "tides " * 60,
                                           "Answer b to {i}: " + "tides " * 60)
    Turn.objects.bulk_create(
        Turn(conversation=c, index=0, role="user", content=prompt.replace("{i}", str(i)))
        for i, c in enumerate(conversations)
    )
    responses = Response.objects.bulk_create(
        Response(conversation=c, text=text.replace("{i}", str(i)),
                 model_version=f"policy-{side}")
        for i, c in enumerate(conversations)
        for side, text in (("a", answer_a), ("b", answer_b))
    )
    Comparison.objects.bulk_create(
        Comparison(batch=batch, conversation=c, response_a=responses[2 * i],
                   response_b=responses[2 * i + 1], axis=c.axis)
        for i, c in enumerate(conversations)
    )
    if User.objects.filter(username__startswith="load-").exists():
        tokens = list(Token.objects.filter(user__username__startswith="load-")
                      .order_by("user_id"))
    else:
        users = User.objects.bulk_create(
            User(username=f"load-{i}", role=Role.ANNOTATOR) for i in range(annotators)
        )
        tokens = Token.objects.bulk_create(Token(user=u, key=Token.generate_key())
                                           for u in users)
    if history:
        past_history(batch, tokens, history)
    from django.db import connection

    with connection.cursor() as cursor:  # planner statistics, as autovacuum would keep them
        cursor.execute("ANALYZE")
    return batch.pk, [t.key for t in tokens]


def past_history(like, tokens, count: int) -> None:
    """A closed batch of ``count`` comparisons the same annotators judged before, written
    in bulk: leases and judgements tables of a platform that has been running, not empty
    ones whose planner statistics (and the plans made from them, prepared statements'
    included) say "a few rows" while the run fills them."""
    from datetime import timedelta

    from django.utils import timezone

    from paddock.annotation.models import (
        Assignment,
        Batch,
        BatchStatus,
        Comparison,
        Judgement,
    )

    past = Batch.objects.create(name=f"{like.name} (past)", status=BatchStatus.CLOSED,
                                overlap=1)
    source = list(Comparison.objects.filter(batch=like).order_by("id")[:count])
    comparisons = Comparison.objects.bulk_create(
        Comparison(batch=past, conversation_id=c.conversation_id, response_a_id=c.response_a_id,
                   response_b_id=c.response_b_id, axis=c.axis, judgement_count=1,
                   chose_a_count=1)
        for c in source
    )
    then = timezone.now() - timedelta(days=8)
    people = [t.user_id for t in tokens]
    leases = Assignment.objects.bulk_create(
        Assignment(comparison=c, annotator_id=people[i % len(people)], state="submitted",
                   leased_at=then, expires_at=then + timedelta(minutes=30), a_on_left=True)
        for i, c in enumerate(comparisons)
    )
    Judgement.objects.bulk_create(
        Judgement(assignment=lease, comparison=c, batch=past, axis=c.axis, gold="",
                  annotator_id=lease.annotator_id, left_response_id=c.response_a_id,
                  chosen_id=c.response_a_id, rejected_id=c.response_b_id, strength="better",
                  chosen_safe=True if c.axis == "safety" else None,
                  rejected_safe=False if c.axis == "safety" else None, seconds=20.0,
                  created_at=then)
        for lease, c in zip(leases, comparisons, strict=True)
    )


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = {"next": [], "submit": []}
        # From the moment an annotator submits to the next comparison in their client.
        self.submit_to_next: list[float] = []
        self.errors: Counter[str] = Counter()
        self.acknowledged: list[int] = []
        self.requests = 0


def verdict(lease: dict, rng: random.Random) -> dict:
    body = {"chosen": rng.choice(["left", "right"]),
            "strength": rng.choice(["significantly_better", "better", "slightly_better",
                                    "negligibly_better"])}
    if lease["axis"] == "safety":
        body |= {"left_safe": rng.random() < 0.7, "right_safe": rng.random() < 0.5}
    return body


async def annotator(base: tuple[str, int], token: str, stats: Stats, deadline: float,
                    think: float, rng: random.Random, path: str) -> None:
    from benchmarks._http_client import Connection

    connection = Connection(*base, headers={"Authorization": f"Token {token}"})
    # A team does not click at the same millisecond: the paced phase starts people spread
    # over one think time. The saturation phase (think 0) starts everyone at once.
    await asyncio.sleep(think * rng.random())
    work = _two_requests if path == "two_requests" else _one_round_trip
    try:
        await work(connection, stats, deadline, think, rng)
    except (OSError, asyncio.IncompleteReadError) as exc:  # counted, never hidden
        stats.errors[f"transport {type(exc).__name__}"] += 1
    finally:
        await connection.close()


async def _timed(connection, stats: Stats, kind: str, path: str, body=None):
    start = time.perf_counter()
    response = await connection.request("POST", path, body)
    elapsed = (time.perf_counter() - start) * 1000
    stats.latency[kind].append(elapsed)
    stats.requests += 1
    return response, elapsed


SUBMIT = "/api/v1/annotation/assignments/{}/submit"
NEXT = "/api/v1/annotation/next"


async def _two_requests(connection, stats: Stats, deadline: float, think: float,
                        rng: random.Random) -> None:
    """Today's scripts and the old workspace: next, think, submit, next, ... The next
    comparison is there once both the submit and the next request have answered."""
    waited = None  # the submit's time, added to the next request's
    while time.monotonic() < deadline:
        response, elapsed = await _timed(connection, stats, "next", NEXT)
        if waited is not None:
            stats.submit_to_next.append(waited + elapsed)
        if response.status == 204:
            return
        if response.status != 200:
            stats.errors[f"next {response.status}"] += 1
            await asyncio.sleep(1)
            waited = None
            continue
        lease = response.json()
        await asyncio.sleep(think * rng.uniform(0.5, 1.5))
        response, waited = await _timed(connection, stats, "submit",
                                        SUBMIT.format(lease["assignment_id"]),
                                        verdict(lease, rng))
        if response.status in (200, 201):
            stats.acknowledged.append(response.json()["id"])
        else:
            stats.errors[f"submit {response.status}"] += 1


async def _one_round_trip(connection, stats: Stats, deadline: float, think: float,
                          rng: random.Random) -> None:
    """The workspace: it holds the next comparison ahead, shows it at the key press, and
    the submit (with next=true) brings the one after. The annotator reads the comparison
    shown while the submit is under way: reading time runs from the key press."""
    response, _ = await _timed(connection, stats, "next", NEXT)
    if response.status != 200:
        return
    shown = response.json()
    response, _ = await _timed(connection, stats, "next", NEXT,
                               {"holding": [shown["assignment_id"]]})
    held = response.json() if response.status == 200 else None
    await asyncio.sleep(think * rng.uniform(0.5, 1.5))  # reading the first one
    waited = 0.0  # at this key press, for the answer that brings the comparison to hold
    while time.monotonic() < deadline and shown is not None:
        body = verdict(shown, rng) | {"next": True,
                                      "holding": [held["assignment_id"]] if held else []}
        reading = None
        if held is not None:
            # Painted from memory, once the comparison to hold had come: if the previous
            # answer's reply was still on its way at this key press, the client waited.
            stats.submit_to_next.append(waited)
            read = think * rng.uniform(0.5, 1.5)
            reading = asyncio.ensure_future(asyncio.sleep(read))
            pressed = time.perf_counter()
        response, elapsed = await _timed(connection, stats, "submit",
                                         SUBMIT.format(shown["assignment_id"]), body)
        if held is None:
            stats.submit_to_next.append(elapsed)  # nothing held: the client waited
        if response.status in (200, 201):
            answer = response.json()
            stats.acknowledged.append(answer["judgement"]["id"])
            after = answer["next"]
        else:
            stats.errors[f"submit {response.status}"] += 1
            after = None
        shown, held = (held, after) if held is not None else (after, None)
        if reading is not None:
            # The next key press comes when the reading is done; the reply may come later.
            waited = max(0.0, (time.perf_counter() - pressed - read) * 1000)
            await reading
        else:
            waited = 0.0
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))


async def load(base: tuple[str, int], tokens: list[str], seconds: float, think: float,
               seed_value: int, path: str = "two_requests") -> Stats:
    stats = Stats()
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(
        annotator(base, token, stats, deadline, think,
                  random.Random(seed_value + i), path)  # noqa: S311
        for i, token in enumerate(tokens)
    ))
    return stats


def summary(stats: Stats, seconds: float, prefix: str) -> dict:
    from benchmarks.common import percentile

    judgements = len(stats.acknowledged)
    figures = {f"{prefix}requests_per_second": round(stats.requests / seconds, 1),
               f"{prefix}judgements_per_second": round(judgements / seconds, 1),
               f"{prefix}errors": sum(stats.errors.values())}
    for kind, values in stats.latency.items():
        if values:
            figures[f"{prefix}{kind}_p50_ms"] = round(percentile(values, 0.5), 1)
            figures[f"{prefix}{kind}_p99_ms"] = round(percentile(values, 0.99), 1)
    if stats.submit_to_next:
        figures[f"{prefix}submit_to_next_p50_ms"] = round(
            percentile(stats.submit_to_next, 0.5), 1)
        figures[f"{prefix}submit_to_next_p99_ms"] = round(
            percentile(stats.submit_to_next, 0.99), 1)
    if stats.errors:
        figures[f"{prefix}error_kinds"] = dict(stats.errors)
    return figures


def cpu_per(before: dict[str, float], after: dict[str, float], count: int,
            unit: str) -> dict[str, float]:
    return {f"cpu_ms_per_{unit}_{part}": round((after[part] - before[part]) * 1000
                                               / max(count, 1), 2)
            for part in before}


def cpu_per_request(before: dict[str, float], after: dict[str, float],
                    requests: int) -> dict[str, float]:
    return cpu_per(before, after, requests, "request")


def integrity(batch_ids: list[int] | int, acknowledged: list[int]) -> dict:
    from django.db.models import Count, F

    from paddock.annotation.models import Comparison, Judgement

    if isinstance(batch_ids, int):
        batch_ids = [batch_ids]
    comparisons = Comparison.objects.filter(batch_id__in=batch_ids).annotate(
        n=Count("judgements"))
    stored = set(Judgement.objects.filter(batch_id__in=batch_ids).values_list("id", flat=True))
    return {
        "judgements_acknowledged": len(set(acknowledged)),
        "judgements_stored": len(stored),
        "lost_judgements": len(set(acknowledged) - stored),
        "over_assignments": comparisons.filter(n__gt=F("batch__overlap")).count(),
        "counter_drift": comparisons.exclude(n=F("judgement_count")).count(),
        "judged_twice_by_one_annotator": (
            Judgement.objects.filter(batch_id__in=batch_ids)
            .values("comparison_id", "annotator_id")
            .annotate(n=Count("id")).filter(n__gt=1).count()),
    }


def start_server(port: int, workers: int, threads: int, cwd: Path, logs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(cwd))
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "paddock.platform.wsgi",
         "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
         "--worker-class", "gthread", "--keep-alive", "75", "--log-level", "warning"],
        cwd=cwd, env=env, stdout=logs, stderr=subprocess.STDOUT,
    )


def reference_checkout(ref: str) -> Path:
    """A detached worktree of ``ref`` (e.g. the commit before a change), to serve the same
    load from the old code in the same run, against the same database."""
    place = Path(tempfile.mkdtemp(prefix="paddock-reference-")) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", str(place), ref], cwd=ROOT,
                   check=True, capture_output=True)
    return place


def open_only(batch_id: int) -> None:
    """Each phase has its batch: the others are closed (their leases are released)."""
    from paddock.annotation.models import Batch, BatchStatus

    Batch.objects.exclude(pk=batch_id).update(status=BatchStatus.CLOSED)
    Batch.objects.filter(pk=batch_id).update(status=BatchStatus.OPEN)


def run_path(label: str, path: str, server_pid: int, base, tokens, batch_id: int,
             seconds: float, think: float, saturation_seconds: float, sampler) -> dict:
    """A paced phase and a saturation phase over a fresh batch; figures under ``label``."""
    open_only(batch_id)
    print(f"{label}: {len(tokens)} annotators, think {think} s, for {seconds} s ...",
          flush=True)
    before = cpu_seconds(server_pid=server_pid) | {"database": sampler.seconds()}
    paced = asyncio.run(load(base, tokens, seconds, think, 1, path))
    after = cpu_seconds(server_pid=server_pid) | {"database": sampler.seconds()}
    judged = len(paced.acknowledged)
    figures = {**summary(paced, seconds, ""),
               **cpu_per(before, after, paced.requests, "request"),
               **cpu_per(before, after, judged, "judgement")}
    figures["cpu_ms_per_judgement"] = round(
        figures["cpu_ms_per_judgement_server"] + figures["cpu_ms_per_judgement_database"], 2)
    print({k: v for k, v in figures.items() if not isinstance(v, dict)}, flush=True)
    print(f"{label}: saturation (no think time) ...", flush=True)
    saturated = asyncio.run(load(base, tokens, saturation_seconds, 0.0, 2, path))
    figures |= summary(saturated, saturation_seconds, "saturation_")
    return {"figures": figures,
            "acknowledged": paced.acknowledged + saturated.acknowledged}


class DatabaseCpu:
    """CPU time of the PostgreSQL backends serving one database, sampled every 0.5 s (a
    backend ends when Django reconnects, CONN_MAX_AGE; its last sample is kept), so other
    databases on the machine do not count."""

    def __init__(self, database: str) -> None:
        import threading

        self.database = database
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                words = cmdline.read_bytes().decode(errors="replace")
                if not words.startswith("postgres: ") or f" {self.database} " not in words:
                    continue
                stat = (cmdline.parent / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            self.seen[int(cmdline.parent.name)] = (int(fields[11]) + int(fields[12])) / tick

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def seconds(self) -> float:
        self._sample()
        return sum(self.seen.values())

    def stop(self) -> None:
        self._stop.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, help="length of the paced phases")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--reference", metavar="REF",
                        help="also serve the two-request path from this commit (the code "
                             "before a change), in the same run against the same database")
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

    paths = [("two_requests", "two_requests", ROOT), ("one_round_trip", "one_round_trip", ROOT)]
    reference = None
    if args.reference:
        reference = reference_checkout(args.reference)
        paths.insert(0, ("reference_two_requests", "two_requests", reference))
    sampler = DatabaseCpu(name)
    servers: list[subprocess.Popen] = []
    results: dict[str, dict] = {}
    batch_ids: list[int] = []
    try:
        call_command("migrate", verbosity=0)
        tokens: list[str] = []
        for label, path, tree in paths:
            batch_id, made = seed(comparisons, annotators, overlap=3, tag=label,
                                  history=0 if tokens else comparisons)
            tokens = tokens or made
            batch_ids.append(batch_id)
            port = free_port()
            logs = open(Path(tempfile.mkdtemp()) / "gunicorn.log", "w")
            server = start_server(port, args.workers, args.threads, tree, logs)
            servers.append(server)
            wait_for_server(f"http://127.0.0.1:{port}", who="benchmarks.annotation_load")
            results[label] = run_path(label, path, server.pid, ("127.0.0.1", port), tokens,
                                      batch_id, seconds, think, saturation_seconds, sampler)
            server.terminate()
            server.wait(timeout=30)
        figures = {
            "comparisons_per_path": comparisons, "overlap": 3, "annotators": annotators,
            "seconds": seconds, "think_seconds": think, "server": server_kind,
            "database": "postgresql",
            "reference": args.reference,
            **{label: result["figures"] for label, result in results.items()},
            **integrity(batch_ids, [i for r in results.values() for i in r["acknowledged"]]),
        }
        two = results["two_requests"]["figures"]
        one = results["one_round_trip"]["figures"]
        figures |= {
            "cpu_ms_per_judgement_two_requests": two["cpu_ms_per_judgement"],
            "cpu_ms_per_judgement_one_round_trip": one["cpu_ms_per_judgement"],
            "cpu_ratio_one_round_trip_vs_two_requests": round(
                one["cpu_ms_per_judgement"] / two["cpu_ms_per_judgement"], 3),
            "submit_to_next_p50_ms": one["submit_to_next_p50_ms"],
            "submit_to_next_p99_ms": one["submit_to_next_p99_ms"],
            "submit_request_p99_ms": one["submit_p99_ms"],
            "judgements_per_second": one["judgements_per_second"],
            "saturation_judgements_per_second": one["saturation_judgements_per_second"],
        }
        if reference is not None:
            old = results["reference_two_requests"]["figures"]
            figures |= {
                "cpu_ms_per_judgement_reference_two_requests": old["cpu_ms_per_judgement"],
                "cpu_ratio_one_round_trip_vs_reference": round(
                    one["cpu_ms_per_judgement"] / old["cpu_ms_per_judgement"], 3),
            }
    finally:
        sampler.stop()
        for server in servers:
            if server.poll() is None:
                server.terminate()
                server.wait(timeout=30)
        if reference is not None:
            subprocess.run(["git", "worktree", "remove", "--force", str(reference)], cwd=ROOT,
                           capture_output=True)
        from django.db import connections

        connections.close_all()
        drop_postgres_database(name)
    write_results("annotation_load", figures, quick=args.quick)


if __name__ == "__main__":
    main()
