"""Export of a batch with 1,000,000 judgements: wall time and peak memory of the export.

The batch is written straight into PostgreSQL with set-based SQL (seconds, not the ORM's
minutes); the export then runs in a fresh process, as a worker would, and that process's
peak resident memory is read from the kernel.

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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FILL = """
INSERT INTO annotation_conversation (batch_id, axis, risk_category, origin, external_id,
                                     metadata, created_at)
SELECT %(batch)s, CASE WHEN g %% 4 = 0 THEN 'safety' ELSE 'helpfulness' END,
       CASE WHEN g %% 4 = 0 THEN 'unqualified_advice' ELSE '' END, 'imported', g::text, '{}',
       now()
FROM generate_series(1, %(comparisons)s) AS g;

INSERT INTO annotation_turn (conversation_id, index, role, content)
SELECT id, 0, 'user', 'Question ' || external_id || ': how do tides work, and why twice a day?'
FROM annotation_conversation WHERE batch_id = %(batch)s;

INSERT INTO annotation_response (conversation_id, text, model_version, created_at)
SELECT c.id, 'Answer ' || side || ' to ' || c.external_id || ': ' || repeat('tides ', 80),
       'policy-' || side, now()
FROM annotation_conversation c, (VALUES ('a'), ('b')) AS sides(side)
WHERE c.batch_id = %(batch)s;

INSERT INTO annotation_comparison (batch_id, conversation_id, response_a_id, response_b_id,
                                   axis, is_gold, judgement_count, chose_a_count,
                                   chose_b_count, created_at)
SELECT %(batch)s, c.id, ra.id, rb.id, c.axis, false, 3, 0, 0, now()
FROM annotation_conversation c
JOIN annotation_response ra ON ra.conversation_id = c.id AND ra.model_version = 'policy-a'
JOIN annotation_response rb ON rb.conversation_id = c.id AND rb.model_version = 'policy-b'
WHERE c.batch_id = %(batch)s;

INSERT INTO annotation_assignment (comparison_id, annotator_id, state, leased_at, expires_at,
                                   a_on_left)
SELECT cmp.id, u.id, 'submitted', now(), now() + interval '30 minutes', (cmp.id + k) %% 2 = 0
FROM annotation_comparison cmp
CROSS JOIN generate_series(0, 2) AS k
JOIN accounts_user u ON u.username = 'export-' || ((cmp.id * 3 + k) %% %(annotators)s)
WHERE cmp.batch_id = %(batch)s;

INSERT INTO annotation_judgement (assignment_id, comparison_id, batch_id, axis, gold,
    annotator_id, left_response_id,
    chosen_id, rejected_id, strength, chosen_safe, rejected_safe, skipped, skip_reason,
    flagged_harmful, comment, seconds, created_at)
SELECT a.id, a.comparison_id, cmp.batch_id, cmp.axis, '', a.annotator_id,
       CASE WHEN a.a_on_left THEN cmp.response_a_id ELSE cmp.response_b_id END,
       CASE WHEN a.id %% 2 = 0 THEN cmp.response_a_id ELSE cmp.response_b_id END,
       CASE WHEN a.id %% 2 = 0 THEN cmp.response_b_id ELSE cmp.response_a_id END,
       (ARRAY['significantly_better', 'better', 'slightly_better',
              'negligibly_better'])[1 + a.id %% 4],
       CASE WHEN cmp.axis = 'safety' THEN a.id %% 3 <> 0 END,
       CASE WHEN cmp.axis = 'safety' THEN a.id %% 5 <> 0 END,
       false, '', false, '', 10 + a.id %% 50, now()
FROM annotation_assignment a JOIN annotation_comparison cmp ON cmp.id = a.comparison_id
WHERE cmp.batch_id = %(batch)s;

ANALYZE;
"""

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
    from django.db import connection, connections

    from paddock.annotation.models import Batch, BatchStatus
    from paddock.annotation.services.export import export_path
    from paddock.platform.accounts.models import Role, User

    try:
        call_command("migrate", verbosity=0)
        batch = Batch.objects.create(name="export", status=BatchStatus.CLOSED, overlap=3)
        User.objects.bulk_create(
            User(username=f"export-{i}", role=Role.ANNOTATOR) for i in range(100)
        )
        start = time.perf_counter()
        with connection.cursor() as cursor:
            for statement in filter(str.strip, FILL.split(";\n")):
                cursor.execute(statement, {"batch": batch.pk, "comparisons": comparisons,
                                           "annotators": 100})
        fill_seconds = time.perf_counter() - start
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
