"""Sustained load: 500 annotators for 10 minutes while an export and a curation run go on.

Simulated annotators (next -> think 10 s -> submit, each with its own token and keep-alive
connection) against gunicorn + PostgreSQL on the 2-core machine, while a Celery worker on
the same cores exports the batch every minute and runs a curation pipeline over a
synthetic corpus. Afterwards the database is checked: every acknowledged judgement is
stored (lost), no annotator judged a comparison twice (duplicated), no comparison got more
judgements than its overlap. Targets: p99 under 250 ms, zero errors, zero lost, zero
duplicated.

    python -m benchmarks.sustained_load [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from benchmarks.annotation_load import (
    ROOT,
    cpu_per_request,
    cpu_seconds,
    free_port,
    integrity,
    load,
    seed,
    summary,
)

TARGET_P99_MS = 250.0
WORDS = ("tide moon water salt bread river stone cloud field light garden winter market "
         "harbour letter engine window forest story music").split()


def write_corpus(path: Path, documents: int) -> Path:
    """Distinct ~1 KB documents with a share of near copies, as web text has."""
    rng = random.Random(7)  # noqa: S311 - synthetic text, not a secret
    with open(path, "w", encoding="utf-8") as out:
        originals: list[str] = []
        for i in range(documents):
            if originals and rng.random() < 0.2:
                words = rng.choice(originals).split()
                words[rng.randrange(len(words))] = rng.choice(WORDS)
                text = " ".join(words)
            else:
                text = " ".join(rng.choice(WORDS) for _ in range(170)) + f" document {i}."
                originals.append(text)
            out.write(json.dumps({"url": f"https://site{i % 97}.example/{i}", "text": text})
                      + "\n")
    return path


def background_work(batch_id: int, stop: threading.Event, every: float, report: dict) -> None:
    """One curation run (of the corpus ingested before the load) and an export of the
    batch every ``every`` seconds, both on the Celery worker."""
    from django.core.management import call_command
    from django.db import connection

    from paddock.annotation.models import Batch
    from paddock.workers.jobs import job_enqueue
    from paddock.workers.tasks.annotation import export_batch_task

    try:
        call_command("curate", "run", "--name", "during-load", "--source", "load-corpus",
                     "--celery", verbosity=0)
        report["curation_started"] = True
        batch = Batch.objects.get(pk=batch_id)
        while not stop.is_set():
            job = job_enqueue(task=export_batch_task,
                              kwargs={"batch_id": batch.pk, "kind": "preferences"},
                              label="export during load")
            report.setdefault("exports", []).append(str(job.pk))
            stop.wait(every)
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, help="length of the load")
    args = parser.parse_args()
    comparisons, annotators, seconds, think, documents, every = (
        (600, 30, 8, 0.5, 400, 3.0) if args.quick else (20_000, 500, 600, 10.0, 20_000, 60.0)
    )
    seconds = args.seconds or seconds

    from benchmarks.common import (
        create_postgres_database,
        drop_postgres_database,
        isolate_environment,
    )

    isolate_environment()
    database_url, name = create_postgres_database("paddock_bench_sustained")
    os.environ["DATABASE_URL"] = database_url
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections
    from django.db.models import Count

    from benchmarks.common import clear_redis_keys, wait_for_server, write_results
    from paddock.platform.celery import app
    from tests.support.celery_worker import WorkerProcess, worker_environment

    scratch = Path(tempfile.mkdtemp())
    server = worker = None
    stop = threading.Event()
    report: dict = {}
    try:
        call_command("migrate", verbosity=0)
        batch_id, tokens = seed(comparisons, annotators, overlap=3)
        corpus = write_corpus(scratch / "corpus.jsonl", documents)
        call_command("curate", "ingest", str(corpus), "--name", "load-corpus", verbosity=0)
        env = worker_environment(settings_module="paddock.platform.settings")
        worker = WorkerProcess(queues=["default", "curation"], env=env, log_dir=scratch)
        worker.start(app)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "paddock.platform.wsgi",
             "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
             "--worker-class", "gthread", "--keep-alive", "75", "--log-level", "warning"],
            cwd=ROOT, env=dict(os.environ), stdout=open(scratch / "gunicorn.log", "w"),
            stderr=subprocess.STDOUT,
        )
        wait_for_server(f"http://127.0.0.1:{port}", who="benchmarks.sustained_load")
        background = threading.Thread(target=background_work,
                                      args=(batch_id, stop, every, report))
        print(f"{annotators} annotators, think {think} s, for {seconds} s, with exports every "
              f"{every} s and a curation run of {documents} documents ...", flush=True)
        before = cpu_seconds(server_pid=server.pid)
        background.start()
        stats = asyncio.run(load(("127.0.0.1", port), tokens, seconds, think, 1))
        stop.set()
        background.join(timeout=120)
        cpu = cpu_per_request(before, cpu_seconds(server_pid=server.pid), stats.requests)

        from paddock.annotation.models import Judgement
        from paddock.curation.models import CurationRun
        from paddock.workers.models import Job

        duplicated = (Judgement.objects.filter(skipped=False)
                      .values("comparison_id", "annotator_id").annotate(n=Count("id"))
                      .filter(n__gt=1).count())
        exports = Job.objects.filter(pk__in=report.get("exports", []))
        curation = CurationRun.objects.filter(name="during-load").first()
        figures = {
            "annotators": annotators, "think_seconds": think, "seconds": seconds,
            "comparisons": comparisons, "overlap": 3,
            "server": "gunicorn gthread 2 workers x 4 threads, keep-alive 75 s",
            "background": f"1 Celery worker (default, curation), exports every {every} s, "
                          f"a curation run of {documents} documents",
            **summary(stats, seconds, ""),
            **cpu,
            **integrity(batch_id, stats.acknowledged),
            "duplicated_judgements": duplicated,
            "exports_started": exports.count(),
            "exports_finished": exports.filter(state="succeeded").count(),
            "curation_status_at_end": curation.status if curation else "not started",
            "curation_stage_at_end": curation.stage if curation else "",
            "p99_target_ms": TARGET_P99_MS,
        }
        worst = max(figures.get("next_p99_ms", 0.0), figures.get("submit_p99_ms", 0.0))
        figures["p99_target_met"] = worst < TARGET_P99_MS
    finally:
        stop.set()
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if worker is not None:
            worker.stop()
        clear_redis_keys()
        connections.close_all()
        drop_postgres_database(name)
    write_results("sustained_load", figures, quick=args.quick)


if __name__ == "__main__":
    main()
