"""Nominal agreement: percent agreement, Fleiss' kappa, Cohen's kappa per rater pair and
Light's mean of it (conventions in :mod:`paddock.annotation.quality`)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, combinations
from typing import Any, Final

from paddock.annotation.quality.ratings import (
    ATTRIBUTES,
    Attribute,
    ChoiceLabels,
    Rating,
    _Groups,
    _Measure,
    _prepare,
)

DEFAULT_MIN_SHARED: Final = 10
"""Light's kappa leaves out rater pairs sharing fewer items than this: their kappa is noise."""


@dataclass(frozen=True, slots=True)
class PairwiseKappa:
    """Cohen's kappa between two raters over the items both rated.

    Attributes:
        shared: Number of items both raters rated.
        observed: Observed agreement p_o (share of shared items on which they agree).
        expected: Chance agreement p_e from the two raters' marginals (see ``choice_labels``).
        kappa: ``(p_o - p_e) / (1 - p_e)``; ``None`` when ``p_e == 1`` (both raters used one and
            the same category throughout, so agreement beyond chance is undefined).
    """

    shared: int
    observed: float
    expected: float
    kappa: float | None


# --------------------------------------------------------------------------------------------
# Percent agreement and Fleiss' kappa share their per-item terms.


def _fleiss_terms(groups: _Groups, measure: _Measure) -> tuple[float, float] | None:
    """Return ``(P_bar, kappa or nan)`` or ``None`` when no item has two ratings."""
    if not groups.overlapped:
        return None
    value = measure.value
    sum_p = 0.0
    for group in groups.overlapped:
        values = list(map(value, group))
        n = len(values)
        distinct = len(set(values))
        if distinct == 1:
            sum_p += 1.0
        elif distinct < n:  # some, not all, agree: count the agreeing pairs
            counts: dict[Hashable, int] = {}
            for v in values:
                counts[v] = counts.get(v, 0) + 1
            sum_p += sum(c * (c - 1) for c in counts.values()) / (n * (n - 1))
    marginals = Counter(map(measure.marginal, chain.from_iterable(groups.overlapped)))
    total = marginals.total()
    p_bar = sum_p / len(groups.overlapped)
    # 1 - P_e = (T^2 - factor * sum_j c_j^2) / T^2, in integers where possible so that the
    # undefined case (a single category, P_e == 1) is detected exactly.
    sum_sq = sum(c * c for c in marginals.values())
    slack = total * total - measure.factor * sum_sq
    if slack <= 0:
        return p_bar, math.nan
    p_e = measure.factor * sum_sq / (total * total)
    return p_bar, (p_bar - p_e) / (1.0 - p_e)


def percent_agreement(ratings: Iterable[Rating], *, on: Attribute = "choice") -> float | None:
    """Mean observed agreement over the items rated at least twice.

    For an item with n_i ratings, the agreement is the share of its n_i (n_i - 1) / 2 rater pairs
    that agree, ``P_i = sum_j n_ij (n_ij - 1) / (n_i (n_i - 1))`` where n_ij counts the ratings of
    value j; the result is the unweighted mean of P_i over the items. This is Fleiss' (1971) P-bar:
    with two raters per item it is the plain share of items on which they agree. With response
    labels, the expected value for annotators who pick the truly better response with probability
    p is p^2 + (1 - p)^2.

    Args:
        ratings: The judgements.
        on: ``"choice"``, ``"strength"`` or ``"choice_strength"`` (see the package docstring).

    Returns:
        The agreement in [0, 1], or ``None`` when no item was rated twice.
    """
    terms = _fleiss_terms(*_prepare(ratings, on, "category"))
    return None if terms is None else terms[0]


def fleiss_kappa(
    ratings: Iterable[Rating],
    *,
    on: Attribute = "choice",
    choice_labels: ChoiceLabels = "response",
) -> float | None:
    """Fleiss' (1971) kappa over the items rated at least twice.

    ``kappa = (P_bar - P_e) / (1 - P_e)`` where, following Fleiss (1971):

    - ``P_i = sum_j n_ij (n_ij - 1) / (n_i (n_i - 1))`` is the share of agreeing rater pairs on item
      i (n_i ratings, n_ij of them in category j) and ``P_bar`` their unweighted mean over items
      (:func:`percent_agreement`);
    - ``p_j = sum_i n_ij / sum_i n_i`` is the share of category j among all ratings of those items
      and ``P_e = sum_j p_j^2`` the agreement of two ratings drawn independently from it.

    Fleiss defined the statistic for a constant number of raters n per item. Annotation overlap
    varies (skips, expired assignments, gold items judged by everybody), so this uses the common
    generalisation above: each item's P_i is normalised by its own n_i (n_i - 1) and weighs the same
    in P_bar, and p_j is pooled over all ratings. With a constant n_i it is exactly Fleiss' formula.
    Raters need not be the same across items: Fleiss' kappa does not track rater identity.

    With ``choice_labels="response"`` the choice part of p_j is symmetrised (package docstring):
    ``P_e = 1/2`` for ``on="choice"``, ``1/2 * sum_s p_s^2`` over strengths for
    ``on="choice_strength"``.

    Returns:
        Kappa (1 for perfect agreement, about 0 at chance level, negative below it), or ``None``
        when no item was rated twice or ``P_e == 1`` (every rating in one category).
    """
    terms = _fleiss_terms(*_prepare(ratings, on, choice_labels))
    if terms is None or math.isnan(terms[1]):
        return None
    return terms[1]


# --------------------------------------------------------------------------------------------
# Cohen's kappa, pairwise, and Light's mean of it.


_PairCell = tuple[int, int, Hashable, Hashable, str, str, bool]


def _pair_table(groups: _Groups, choice_labels: str) -> Counter[_PairCell]:
    """The joint table of all pairwise comparisons between raters, for every ``on`` at once.

    A cell is ``(a, b, choice_a, choice_b, strength_a, strength_b, same_choice)`` with ``a < b``
    the raters' first-appearance indices, counted over the items both rated. With response labels
    the choices themselves are dropped (``None``; only ``same_choice`` matters), which keeps the
    table small: at most 32 cells per rater pair. Loops only over the rater pairs within each item,
    so the cost is sum_i n_i (n_i - 1) / 2; the counting itself is Counter's C loop.
    """
    index = groups.rater_index
    keep_choice = choice_labels == "category"

    def cells() -> Iterator[_PairCell]:
        for group in groups.overlapped:  # sorted by rater index, so a < b below
            rows = [(index[r.rater], r.choice, r.strength) for r in group]
            for (a, choice_a, strength_a), (b, choice_b, strength_b) in combinations(rows, 2):
                same = choice_a == choice_b
                if keep_choice:
                    yield a, b, choice_a, choice_b, strength_a, strength_b, same
                else:
                    yield a, b, None, None, strength_a, strength_b, same

    return Counter(cells())


def _pair_counts(
    table: Counter[_PairCell], choice_labels: str
) -> dict[str, dict[tuple[int, int], list[Any]]]:
    """Fold the joint table into per-pair counts, for every ``on`` in one pass over the table.

    Returns ``{on: {(a, b): [shared, agreeing, marginals_a, marginals_b]}}``. The marginal
    categories follow :func:`_measure`: with response labels the choice is left out of them (and
    the caller applies the factor 1/2).
    """
    category = choice_labels == "category"
    folded: dict[str, dict[tuple[int, int], list[Any]]] = {on: {} for on in ATTRIBUTES}
    by_choice, by_strength, by_both = (folded[on] for on in ATTRIBUTES)
    for (a, b, choice_a, choice_b, strength_a, strength_b, same), count in table.items():
        same_strength = strength_a == strength_b
        if category:
            both_a, both_b = (choice_a, strength_a), (choice_b, strength_b)
        else:
            both_a, both_b = strength_a, strength_b
        for pairs, agree, marginal_a, marginal_b in (
            (by_choice, same, choice_a, choice_b),
            (by_strength, same_strength, strength_a, strength_b),
            (by_both, same and same_strength, both_a, both_b),
        ):
            counts = pairs.get((a, b))
            if counts is None:
                counts = pairs[a, b] = [0, 0, Counter(), Counter()]
            counts[0] += count
            if agree:
                counts[1] += count
            counts[2][marginal_a] += count
            counts[3][marginal_b] += count
    return folded


def _pair_kappa(counts: list[Any], factor: float) -> PairwiseKappa:
    shared, agreeing, marginals_a, marginals_b = counts
    if len(marginals_b) < len(marginals_a):
        marginals_a, marginals_b = marginals_b, marginals_a
    cross = factor * sum(c * marginals_b[k] for k, c in marginals_a.items())
    square = shared * shared
    kappa = None if square == cross else (agreeing * shared - cross) / (square - cross)
    return PairwiseKappa(shared, agreeing / shared, cross / square, kappa)


def pairwise_cohens_kappa(
    ratings: Iterable[Rating],
    *,
    on: Attribute = "choice",
    choice_labels: ChoiceLabels = "response",
) -> dict[tuple[Hashable, Hashable], PairwiseKappa]:
    """Cohen's (1960) kappa for every pair of raters that rated at least one item in common.

    For raters A and B over the n items both rated: ``p_o`` is the share of those items on which
    they agree and ``p_e = sum_k a_k b_k / n^2`` the chance agreement from their own marginal
    counts a_k, b_k (symmetrised for response labels, see the package docstring); kappa is
    ``(p_o - p_e) / (1 - p_e)``.

    Returns:
        ``{(rater_a, rater_b): PairwiseKappa}``, with rater_a the one that appears first in
        ``ratings``; pairs with no item in common are absent. Useful to find the annotator who
        disagrees with everybody.
    """
    groups, measure = _prepare(ratings, on, choice_labels)
    pairs = _pair_counts(_pair_table(groups, choice_labels), choice_labels)[on]
    raters = list(groups.rater_index)
    return {
        (raters[a], raters[b]): _pair_kappa(counts, measure.factor)
        for (a, b), counts in pairs.items()
    }


def _check_min_shared(min_shared: int) -> None:
    if isinstance(min_shared, bool) or not isinstance(min_shared, int) or min_shared < 1:
        raise ValueError(f"min_shared must be a positive integer, got {min_shared!r}")


def _light(
    pairs: dict[tuple[int, int], list[Any]], factor: float, raters: int, min_shared: int
) -> tuple[float | None, int]:
    """Return (Light's kappa or None, number of rater pairs averaged)."""
    if raters == 2:
        min_shared = 1  # exactly two raters: classic Cohen's kappa on whatever they share
    kappas = [
        kappa
        for counts in pairs.values()
        if counts[0] >= min_shared and (kappa := _pair_kappa(counts, factor).kappa) is not None
    ]
    if not kappas:
        return None, 0
    return math.fsum(kappas) / len(kappas), len(kappas)


def cohens_kappa(
    ratings: Iterable[Rating],
    *,
    on: Attribute = "choice",
    choice_labels: ChoiceLabels = "response",
    min_shared: int = DEFAULT_MIN_SHARED,
) -> float | None:
    """Cohen's (1960) kappa for two raters; Light's (1971) kappa for more.

    - Exactly two raters in ``ratings``: Cohen's kappa ``(p_o - p_e) / (1 - p_e)`` over the items
      both rated (see :func:`pairwise_cohens_kappa`). ``min_shared`` does not apply: the caller
      asked about these two.
    - More raters: Light's kappa, the unweighted mean of the pairwise Cohen's kappas. Light (1971)
      assumed every rater rated every item; with partial overlap only the pairs that share at
      least ``min_shared`` items are averaged, so that a pair that met on three items does not
      weigh as much as one that met on three hundred. Pairs whose kappa is undefined (p_e = 1) are
      left out too.

    Unlike Fleiss' kappa, this keeps rater identity: each pair's chance term comes from the two
    raters' own marginals, so a rater's personal bias (say, always "better") is not counted as
    agreement.

    Returns:
        The kappa, or ``None`` when no pair qualifies.
    """
    _check_min_shared(min_shared)
    groups, measure = _prepare(ratings, on, choice_labels)
    pairs = _pair_counts(_pair_table(groups, choice_labels), choice_labels)[on]
    return _light(pairs, measure.factor, len(groups.rater_index), min_shared)[0]
