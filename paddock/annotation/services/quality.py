"""A batch's quality figures: agreement on overlapped comparisons, gold accuracy, speed.

Reads judgements as plain ratings and hands them to :mod:`paddock.annotation.quality`;
annotators appear under their export pseudonym, so the figures can be shared as they are.
"""

from __future__ import annotations

from typing import Any

from paddock.annotation.models import Batch, Judgement
from paddock.annotation.quality import Rating, agreement_report
from paddock.annotation.services.export import pseudonym


def batch_ratings(batch: Batch) -> list[Rating]:
    rows = (
        Judgement.objects.filter(comparison__batch=batch, skipped=False)
        .values_list("comparison_id", "annotator_id", "chosen_id", "strength", "seconds")
        .iterator(chunk_size=10_000)
    )
    return [
        Rating(item=comparison, rater=pseudonym(annotator), choice=chosen, strength=strength,
               seconds=seconds)
        for comparison, annotator, chosen, strength, seconds in rows
    ]


def batch_quality(batch: Batch) -> dict[str, Any]:
    gold = dict(
        batch.comparisons.filter(is_gold=True).values_list("id", "gold_choice_id")
    )
    return agreement_report(batch_ratings(batch), gold=gold or None)
