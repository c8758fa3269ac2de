"""Every statistic of :mod:`paddock.annotation.quality` for one batch, in one
JSON-serialisable dict, from a single grouping of the ratings."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

from paddock.annotation.quality.agreement import (
    DEFAULT_MIN_SHARED,
    _check_min_shared,
    _fleiss_terms,
    _light,
    _pair_counts,
    _pair_table,
)
from paddock.annotation.quality.ordinal import SIGNED_STRENGTH_SCORES, _signed_terms
from paddock.annotation.quality.ratings import (
    ATTRIBUTES,
    ChoiceLabels,
    Rating,
    _check_two_responses,
    _group,
    _measure,
    _too_many_choices,
)
from paddock.annotation.quality.summaries import (
    gold_accuracy,
    median_seconds,
    strength_distribution,
)


def _json_keys(values: Mapping[Hashable, Any]) -> dict[str, Any]:
    out = {str(key): value for key, value in values.items()}
    if len(out) != len(values):
        raise ValueError("two rater ids have the same str(); use distinct string or integer ids")
    return out


def agreement_report(
    ratings: Iterable[Rating],
    gold: Mapping[Hashable, Hashable] | None = None,
    *,
    choice_labels: ChoiceLabels = "response",
    min_shared: int = DEFAULT_MIN_SHARED,
) -> dict[str, Any]:
    """All the statistics of this module for one batch, as a JSON-serialisable dict.

    The ratings are grouped once and every statistic reuses the grouping. Rater ids become strings
    (``str(rater)``), as JSON object keys must be. Statistics that are undefined are ``None``.

    Keys:
        ``ratings``, ``items``, ``raters``: counts of ratings, distinct items, distinct raters.
        ``overlapped_items``, ``overlapped_ratings``: the items rated at least twice (the only
        ones agreement is measured on) and their ratings.
        ``choice_labels``, ``min_shared``: the conventions used (package docstring).
        ``agreement``: for each of ``"choice"``, ``"strength"``, ``"choice_strength"`` a dict with
        ``percent_agreement`` (:func:`percent_agreement`), ``cohens_kappa`` (:func:`cohens_kappa`:
        Cohen's with two raters, Light's with more), ``cohens_kappa_pairs`` (how many rater pairs
        that averaged) and ``fleiss_kappa`` (:func:`fleiss_kappa`).
        ``weighted_strength_kappa``: :func:`weighted_strength_kappa` with the default scores;
        ``None`` when undefined, or when (with ``choice_labels="category"``) some item has more
        than two distinct choices, so that the signed scale does not apply.
        ``gold``: ``None`` without ``gold``; else ``ratings`` (ratings of gold items), ``correct``,
        ``accuracy`` (overall, ``None`` if no gold item was rated) and ``per_rater``:
        ``{rater: {"correct", "total", "accuracy"}}`` (:func:`gold_accuracy`).
        ``seconds``: ``median`` (overall), ``timed`` (ratings with a time) and ``per_rater``:
        ``{rater: median}`` (:func:`median_seconds`).
        ``strength_distribution``: :func:`strength_distribution`.

    Gold items count in the agreement statistics like any other item when they were rated more
    than once; pass only non-gold ratings to keep them out.
    """
    _measure("choice", choice_labels)  # validate the arguments before the long passes
    _check_min_shared(min_shared)
    if not isinstance(ratings, Sequence):
        ratings = list(ratings)  # several passes below
    groups = _group(ratings)
    if choice_labels == "response":
        _check_two_responses(groups)

    pair_counts = _pair_counts(_pair_table(groups, choice_labels), choice_labels)
    agreement: dict[str, dict[str, Any]] = {}
    for on in ATTRIBUTES:
        measure = _measure(on, choice_labels)
        terms = _fleiss_terms(groups, measure)
        kappa, pairs = _light(pair_counts[on], measure.factor, len(groups.rater_index), min_shared)
        agreement[on] = {
            "percent_agreement": None if terms is None else terms[0],
            "cohens_kappa": kappa,
            "cohens_kappa_pairs": pairs,
            "fleiss_kappa": None if terms is None or math.isnan(terms[1]) else terms[1],
        }

    gold_section: dict[str, Any] | None = None
    if gold is not None:
        scores = gold_accuracy(ratings, gold)
        correct = sum(score.correct for score in scores.values())
        total = sum(score.total for score in scores.values())
        gold_section = {
            "ratings": total,
            "correct": correct,
            "accuracy": correct / total if total else None,
            "per_rater": _json_keys(
                {
                    rater: {"correct": s.correct, "total": s.total, "accuracy": s.accuracy}
                    for rater, s in scores.items()
                }
            ),
        }

    times = median_seconds(ratings)
    return {
        "ratings": groups.ratings,
        "items": groups.items,
        "raters": len(groups.rater_index),
        "overlapped_items": len(groups.overlapped),
        "overlapped_ratings": sum(len(group) for group in groups.overlapped),
        "choice_labels": choice_labels,
        "min_shared": min_shared,
        "agreement": agreement,
        "weighted_strength_kappa": (
            None
            if _too_many_choices(groups) is not None
            else _signed_terms(groups, SIGNED_STRENGTH_SCORES)
        ),
        "gold": gold_section,
        "seconds": {
            "median": times.overall,
            "timed": times.timed,
            "per_rater": _json_keys(times.per_rater),
        },
        "strength_distribution": strength_distribution(ratings),
    }
