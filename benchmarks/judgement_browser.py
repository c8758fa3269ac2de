"""The judgement browser on a batch of 1,000,000 judgements: time of one list request
(the page and its capped total) under each filter and a few combinations, first page and
a page deep in the list (a cursor in the middle of the batch's ids).

The batch is written by :mod:`benchmarks._batch_fill` (set-based SQL, no signals):
400,000 comparisons judged 1 to 4 times (so agreement has single, unanimous and split
comparisons) by 50 annotators, a fifth of them safety, 2 % gold, some skips and flags,
and a few hundred marks. Each query runs through :func:`judgement_page`, the code the
console and the API call, ~20 times after a warm-up (so the figures are warm-cache).

    python -m benchmarks.judgement_browser [--quick]

The full run needs PostgreSQL at 127.0.0.1:5432 (a throwaway database is created and
dropped). ``--quick`` (5,000 judgements) runs on PostgreSQL when DATABASE_URL names one,
else on a throwaway SQLite file, in a few seconds.
"""

from __future__ import annotations

import argparse
import os
import time

TARGET_P95_MS = 300.0
REPEATS = 20

# name -> filters; every one is timed on its first page and on a page deep in the list.
CASES = {
    "none": {},
    "annotator": {"annotator": "bench-7"},
    "axis_safety": {"axis": "safety"},
    "strength_better": {"strength": "better"},
    "agreement_unanimous": {"agreement": "unanimous"},
    "agreement_split": {"agreement": "split"},
    "agreement_single": {"agreement": "single"},
    "gold_correct": {"gold": "correct"},
    "gold_wrong": {"gold": "wrong"},
    "gold_not_gold": {"gold": "not_gold"},
    "flagged": {"flagged": "yes"},
    "skipped": {"skipped": "yes"},
    "review_review": {"review": "review"},
    "review_excluded": {"review": "excluded"},
    "review_none": {"review": "none"},
    "seconds_100_120": {"seconds_min": "100", "seconds_max": "120"},
    "safety_split": {"axis": "safety", "agreement": "split"},
    "annotator_strength": {"annotator": "bench-7", "strength": "slightly_better"},
    "flagged_not_reviewed": {"flagged": "yes", "review": "none"},
    "annotator_gold_wrong": {"annotator": "bench-7", "gold": "wrong"},
    "safety_skipped_slow": {"axis": "safety", "skipped": "yes", "seconds_min": "150"},
}


def time_cases(batch, *, repeats: int) -> dict:
    from django.db import connection

    from benchmarks.common import percentile
    from paddock.annotation.models import Judgement
    from paddock.annotation.services import judgement_browser as browser

    ids = Judgement.objects.filter(comparison__batch=batch).order_by("id")
    middle = (ids.first().pk + ids.last().pk) // 2
    per_case, everything = {}, []
    for name, params in CASES.items():
        filters = browser.filters_from(params)
        for where, after in (("first", None), ("deep", middle)):
            browser.judgement_page(batch, filters, after=after)  # warm-up
            took = []
            for _ in range(repeats):
                start = time.perf_counter()
                page = browser.judgement_page(batch, filters, after=after)
                took.append((time.perf_counter() - start) * 1000)
            everything += took
            per_case[f"{name}_{where}"] = {
                "p50_ms": round(percentile(took, 0.5), 2),
                "p95_ms": round(percentile(took, 0.95), 2),
                "rows": len(page.rows),
                "total": f"more than {page.total:,}" if page.total_capped else page.total,
            }
    slowest = max(per_case, key=lambda key: per_case[key]["p95_ms"])
    return {
        "cases": per_case,
        "overall_p95_ms": round(percentile(everything, 0.95), 2),
        "slowest_case": slowest,
        "queries_timed": len(everything),
        "database": connection.vendor,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true",
                        help="keep the PostgreSQL database (its name is printed) to study plans")
    parser.add_argument("--reuse", metavar="NAME",
                        help="time against a database a --keep run left (no fill)")
    args = parser.parse_args()
    judgements = 5_000 if args.quick else 1_000_000

    from benchmarks._batch_fill import fill_batch
    from benchmarks.common import (
        create_postgres_database,
        drop_postgres_database,
        isolate_environment,
        write_results,
    )

    wanted_postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    isolate_environment()
    name = None
    if args.reuse:
        name = args.reuse
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{name}"
    elif not args.quick or wanted_postgres:
        database_url, name = create_postgres_database("paddock_browser_bench")
        os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    from paddock.annotation.models import Batch, BatchStatus, Judgement

    try:
        call_command("migrate", verbosity=0)
        fill_seconds = None
        batch = Batch.objects.filter(name="browse").first()
        if batch is None:
            batch = Batch.objects.create(name="browse", status=BatchStatus.CLOSED, overlap=4)
            # each comparison judged 1 to 4 times, 2.5 on average
            fill_seconds = round(fill_batch(batch, comparisons=round(judgements / 2.5),
                                            annotators=50, judges=(1, 4)), 1)
        elif connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        stored = Judgement.objects.filter(comparison__batch=batch).count()
        print(f"{stored:,} judgements (written in {fill_seconds} s) in database {name}; "
              "timing ...", flush=True)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SHOW server_version")
                version = f"PostgreSQL {cursor.fetchone()[0]}"
            else:
                cursor.execute("SELECT sqlite_version()")
                version = f"SQLite {cursor.fetchone()[0]}"
        timed = time_cases(batch, repeats=5 if args.quick else REPEATS)
        figures = {
            "judgements": stored,
            "fill_seconds": fill_seconds,
            "overall_p95_ms": timed["overall_p95_ms"],
            "target_p95_ms": TARGET_P95_MS,
            "meets_target": timed["overall_p95_ms"] < TARGET_P95_MS,
            "slowest_case": timed["slowest_case"],
            "queries_timed": timed["queries_timed"],
            "database": version,
            "depends_on": "warm cache (one warm-up per query, then repeats); the database "
                          "server on the same machine as the benchmark; cores as 'cpus'",
            "cases": timed["cases"],
        }
    finally:
        connections.close_all()
        if name and not (args.keep or args.reuse):
            drop_postgres_database(name)
    write_results("judgement_browser", figures, quick=args.quick)


if __name__ == "__main__":
    main()
