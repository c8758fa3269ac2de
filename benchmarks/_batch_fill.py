"""A big judged batch written with set-based SQL, for the benchmarks that need one (the
judgement browser, the export): seconds, not the ORM's minutes, and no signals.

One fill for all of them, so that each benchmark times the same kind of batch: a fifth of
the comparisons safety, 2 % gold, each comparison judged by several annotators (the
browser needs single, unanimous and split comparisons), 1 in 40 judgements skipped, 1 in
200 flagged, and a few hundred marks. Portable SQL (PostgreSQL and SQLite): a recursive
series, CASE for choices, CAST for text.
"""

from __future__ import annotations

import time

MAX_JUDGES = 4  # the fill's series of judges per comparison is 0..3
STRIDE = 13  # the k-th judge of a comparison is annotator (7 * id + 13 * k) mod annotators

FILL = """
INSERT INTO annotation_conversation (batch_id, axis, risk_category, origin, external_id,
                                     metadata, created_at)
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < %(comparisons)s)
SELECT %(batch)s, CASE WHEN n %% 5 = 0 THEN 'safety' ELSE 'helpfulness' END,
       CASE WHEN n %% 5 = 0 THEN 'unqualified_advice' ELSE '' END, 'imported',
       CAST(n AS TEXT), '{}', %(now)s
FROM g;

INSERT INTO annotation_turn (conversation_id, "index", role, content)
SELECT id, 0, 'user', 'Question ' || external_id || ': how do tides work?'
FROM annotation_conversation WHERE batch_id = %(batch)s;

INSERT INTO annotation_response (conversation_id, text, model_version, created_at)
SELECT c.id, 'Answer ' || s.side || ' to ' || c.external_id || %(padding)s, 'policy-' || s.side,
       %(now)s
FROM annotation_conversation c, (SELECT 'a' AS side UNION ALL SELECT 'b') AS s
WHERE c.batch_id = %(batch)s;

INSERT INTO annotation_comparison (batch_id, conversation_id, response_a_id, response_b_id,
                                   axis, is_gold, gold_choice_id, judgement_count,
                                   chose_a_count, chose_b_count, created_at)
SELECT %(batch)s, c.id, ra.id, rb.id, c.axis, CAST(c.external_id AS INTEGER) %% 50 = 0,
       CASE WHEN CAST(c.external_id AS INTEGER) %% 50 = 0 THEN ra.id END, 0, 0, 0, %(now)s
FROM annotation_conversation c
JOIN annotation_response ra ON ra.conversation_id = c.id AND ra.model_version = 'policy-a'
JOIN annotation_response rb ON rb.conversation_id = c.id AND rb.model_version = 'policy-b'
WHERE c.batch_id = %(batch)s;

INSERT INTO annotation_assignment (comparison_id, annotator_id, state, leased_at, expires_at,
                                   a_on_left)
SELECT cmp.id, u.id, 'submitted', %(now)s, %(later)s, (cmp.id + k.k) %% 2 = 0
FROM annotation_comparison cmp
CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) AS k
JOIN accounts_user u
  ON u.username = 'bench-' || CAST((cmp.id * 7 + k.k * 13) %% %(annotators)s AS TEXT)
WHERE cmp.batch_id = %(batch)s AND k.k < %(judges_min)s + cmp.id %% %(judges_spread)s;

INSERT INTO annotation_judgement (assignment_id, comparison_id, batch_id, axis, gold,
    annotator_id, left_response_id,
    chosen_id, rejected_id, strength, chosen_safe, rejected_safe, skipped, skip_reason,
    flagged_harmful, comment, seconds, created_at)
SELECT a.id, a.comparison_id, cmp.batch_id, '', '', a.annotator_id,
       CASE WHEN a.a_on_left THEN cmp.response_a_id ELSE cmp.response_b_id END,
       CASE WHEN a.id %% 40 = 0 THEN NULL
            WHEN (cmp.id %% 3 <> 0) <> (a.id %% 5 = 0) THEN cmp.response_a_id
            ELSE cmp.response_b_id END,
       CASE WHEN a.id %% 40 = 0 THEN NULL
            WHEN (cmp.id %% 3 <> 0) <> (a.id %% 5 = 0) THEN cmp.response_b_id
            ELSE cmp.response_a_id END,
       CASE WHEN a.id %% 40 = 0 THEN ''
            ELSE CASE a.id %% 4 WHEN 0 THEN 'significantly_better' WHEN 1 THEN 'better'
                                WHEN 2 THEN 'slightly_better' ELSE 'negligibly_better' END
       END,
       CASE WHEN cmp.axis = 'safety' AND a.id %% 40 <> 0 THEN a.id %% 3 <> 0 END,
       CASE WHEN cmp.axis = 'safety' AND a.id %% 40 <> 0 THEN a.id %% 7 <> 0 END,
       a.id %% 40 = 0, CASE WHEN a.id %% 40 = 0 THEN 'cut off' ELSE '' END,
       a.id %% 200 = 0, '', 3 + (a.id * 37) %% 180, %(now)s
FROM annotation_assignment a JOIN annotation_comparison cmp ON cmp.id = a.comparison_id
WHERE cmp.batch_id = %(batch)s;

UPDATE annotation_comparison SET judgement_count = (
    SELECT COUNT(*) FROM annotation_judgement j
    WHERE j.comparison_id = annotation_comparison.id AND NOT j.skipped)
WHERE batch_id = %(batch)s;

INSERT INTO annotation_judgementmark (judgement_id, state, reason, by_id, current, created_at)
SELECT j.id, CASE WHEN j.id %% 7000 = 0 THEN 'excluded' ELSE 'review' END, 'benchmark',
       NULL, TRUE, %(now)s
FROM annotation_judgement j JOIN annotation_comparison c ON c.id = j.comparison_id
WHERE c.batch_id = %(batch)s AND (j.id %% 5000 = 0 OR j.id %% 7000 = 0)
"""


def fill_batch(batch, *, comparisons: int, annotators: int, judges: tuple[int, int] = (1, 4),
               answer_padding: str = "") -> float:
    """Fill ``batch`` with ``comparisons`` comparisons, each judged by ``judges[0]`` to
    ``judges[1]`` of ``annotators`` new annotators (``bench-0`` ...; the share of each
    count is even), every response text followed by ``answer_padding``. The counts of
    choices, and the axis and gold result each judgement keeps, follow the rules of
    migration 0008 (the submit service's own). Returns the seconds the SQL took."""
    import importlib
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from paddock.platform.accounts.models import Role, User

    fewest, most = judges
    if not 1 <= fewest <= most <= MAX_JUDGES:
        raise ValueError(f"judges per comparison must be 1 <= fewest <= most <= {MAX_JUDGES}, "
                         f"not {judges}")
    if annotators <= STRIDE * (most - 1):
        raise ValueError(f"{most} judges per comparison need more than {STRIDE * (most - 1)} "
                         f"annotators (no one judges a comparison twice), not {annotators}")
    User.objects.bulk_create(
        User(username=f"bench-{i}", role=Role.ANNOTATOR) for i in range(annotators))
    now = timezone.now()
    params = {"batch": batch.pk, "comparisons": comparisons, "annotators": annotators,
              "judges_min": fewest, "judges_spread": most - fewest + 1,
              "padding": answer_padding, "now": now, "later": now + timedelta(minutes=30)}
    migration = importlib.import_module("paddock.annotation.migrations.0008_judgement_browser")
    start = time.perf_counter()
    with connection.cursor() as cursor:
        for statement in filter(str.strip, FILL.split(";\n\n")):
            cursor.execute(statement, params)
        # The migration's own rules for the counts of choices, and for the axis and gold
        # result each judgement keeps (the submit service sets them as it stores one).
        cursor.execute(migration.BACKFILL)
        cursor.execute(migration.BACKFILL_COPIES)
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
    return time.perf_counter() - start
