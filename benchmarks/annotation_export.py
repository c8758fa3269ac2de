"""Export of a batch with 1,000,000 judgements: wall time and peak memory of the export.

The batch is written straight into PostgreSQL by :mod:`benchmarks._batch_fill` (set-based
SQL, the judgement browser benchmark's batch with three judgements per comparison and
answers of ~500 characters); the export then runs in a fresh process, as a worker would,
and that process's peak resident memory is read from the kernel.

    python -m benchmarks.annotation_export [--quick]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

EXPORT = """
import django, json, sys, time
django.setup()
from paddock.annotation.models import Batch
from paddock.annotation.services.export import export_batch
start = time.perf_counter()
manifest = export_batch(Batch.objects.get(pk=int(sys.argv[1])), "preferences")
print(json.dumps({"seconds": time.perf_counter() - start, "records": manifest["records"],
                  "counts": manifest["counts"]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    judgements = 6_000 if args.quick else 1_000_000
    comparisons = judgements // 3

    from benchmarks._batch_fill import fill_batch
    from benchmarks.common import (
        create_postgres_database,
        drop_postgres_database,
        isolate_environment,
        write_results,
    )

    isolate_environment()
    database_url, name = create_postgres_database("paddock_export")
    os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from paddock.annotation.models import Batch, BatchStatus
    from paddock.annotation.services.export import export_path

    try:
        call_command("migrate", verbosity=0)
        batch = Batch.objects.create(name="export", status=BatchStatus.CLOSED, overlap=3)
        fill_seconds = fill_batch(batch, comparisons=comparisons, annotators=100, judges=(3, 3),
                                  answer_padding=": " + "tides " * 80)
        connections.close_all()
        print(f"{judgements:,} judgements written in {fill_seconds:.1f} s; exporting ...",
              flush=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        result = subprocess.run(
            [sys.executable, "-c", EXPORT, str(batch.pk)], cwd=ROOT, env=dict(os.environ),
            capture_output=True, text=True, check=True,
        )
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        outcome = json.loads(result.stdout.strip().splitlines()[-1])
        path = export_path(batch, "preferences")
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            lines = sum(1 for _ in handle)
        figures = {
            "judgements": judgements,
            "records_exported": outcome["records"],
            "records_in_file": lines,
            "excluded_preferred_unsafe": outcome["counts"]["excluded_preferred_unsafe"],
            "export_seconds": round(outcome["seconds"], 1),
            "export_peak_rss_mb": round(max(peak_kb, before) / 1024, 1),
            "file_megabytes": round(path.stat().st_size / 1e6, 1),
            "database": "postgresql",
        }
    finally:
        connections.close_all()
        drop_postgres_database(name)
    write_results("annotation_export", figures, quick=args.quick)


if __name__ == "__main__":
    main()
