"""Quality-control statistics for pairwise preference annotation.

Annotators judge *comparisons*: two responses to one conversation. A judgement names the better
response and how much better it is, on the four-step scale of the Llama 2 paper (Touvron et al.,
2023, section 3.2.1): ``significantly_better``, ``better``, ``slightly_better`` and
``negligibly_better`` ("negligibly better / unsure"). Some comparisons are judged by several
annotators (the batch's overlap) and some are *gold*, with a known correct choice. This module
turns plain :class:`Rating` records into what a data manager needs to check a batch: percent
agreement, Cohen's and Fleiss' kappa (on the choice, on the strength, and on both), a
quadratic-weighted kappa on the signed strength, gold accuracy per annotator, median time per
judgement and the distribution of strengths. :func:`agreement_report` gathers all of it into one
JSON-serialisable dict.

It is deliberately plain Python (no Django, no ORM, no numpy): the web process builds the records
from the database, and tests and notebooks can use the same code on synthetic data. Every
statistic groups the ratings once with dicts and Counters; the only pairwise loops run over the
raters *within* one comparison (the overlap, 2-5 in practice), never over all ratings, so a
million ratings take a few seconds.

Conventions
-----------
Items and qualifying items
    An *item* is a comparison. Agreement needs at least two ratings of the same item, so every
    agreement statistic ignores items with a single rating. A rater may rate an item at most once;
    a repeated ``(item, rater)`` pair among the qualifying items raises :class:`ValueError`
    (deduplicate first, e.g. keep the latest judgement).

What is compared (``on``)
    ``"choice"`` compares the chosen response, ``"strength"`` the strength alone (whichever response
    it was given to), ``"choice_strength"`` the pair ``(choice, strength)``. The choice is the
    *identity* of the chosen response, never the screen side: sides are randomised per annotator,
    so "left" means a different response to different annotators.

Chance agreement for the choice (``choice_labels``)
    Kappa corrects observed agreement for the agreement expected by chance, which Cohen (1960) and
    Fleiss (1971) estimate from the *marginal* distribution of the categories, pooled over items.
    That presumes the categories mean the same thing on every item. Response identities do not:
    each comparison has its own two responses, so pooled marginals would be spread over thousands
    of response ids, the chance term would vanish and kappa would collapse into percent agreement.

    - ``choice_labels="response"`` (the default; what the platform records): a choice is a response
      id, meaningful only within its comparison. Which of the two responses is "first" is
      arbitrary, so the choice part of the marginal distribution is *symmetrised*: each rating
      counts half for each orientation of its comparison. For ``on="choice"`` the chance agreement
      is then exactly 1/2: two annotators whose choice ignores the content agree half of the time
      (with sides randomised per annotator, even a side bias does not help them agree). Kappa on
      the choice reduces to Bennett, Alpert & Goldstein's (1954) S = 2 p_o - 1. For
      ``on="choice_strength"`` the chance agreement is ``1/2 * sum_s p_s q_s`` (Cohen) or
      ``1/2 * sum_s p_s^2`` (Fleiss) over the strengths s. A comparison with more than two distinct
      chosen responses is a data error and raises :class:`ValueError`.
    - ``choice_labels="category"``: the choice values are categories shared by all items (for
      example the comparison's stored slot ``"a"``/``"b"``, or nominal data from elsewhere), and the
      textbook pooled marginals are used unchanged.

    ``on="strength"`` always uses the textbook marginals: strengths are shared categories.

Which kappa for many raters
    :func:`cohens_kappa` is Cohen's (1960) kappa when the ratings come from exactly two raters,
    and Light's (1971) kappa otherwise: the unweighted mean of the pairwise Cohen's kappas over the
    rater pairs that share at least ``min_shared`` items. :func:`fleiss_kappa` is Fleiss' (1971)
    kappa, generalised to a varying number of ratings per item (see its docstring).

References
----------
- Bennett, E. M., Alpert, R., & Goldstein, A. C. (1954). Communications through limited-response
  questioning. *Public Opinion Quarterly*, 18(3), 303-308.
- Cohen, J. (1960). A coefficient of agreement for nominal scales. *Educational and Psychological
  Measurement*, 20(1), 37-46.
- Cohen, J. (1968). Weighted kappa: Nominal scale agreement with provision for scaled disagreement
  or partial credit. *Psychological Bulletin*, 70(4), 213-220.
- Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. *Psychological
  Bulletin*, 76(5), 378-382.
- Fleiss, J. L., & Cohen, J. (1973). The equivalence of weighted kappa and the intraclass
  correlation coefficient as measures of reliability. *Educational and Psychological
  Measurement*, 33(3), 613-619.
- Light, R. J. (1971). Measures of response agreement for qualitative data: Some generalizations
  and alternatives. *Psychological Bulletin*, 76(5), 365-377.
- Touvron, H., et al. (2023). Llama 2: Open foundation and fine-tuned chat models.
  arXiv:2307.09288, section 3.2.1.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, combinations
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Final, Literal, get_args

from paddock.kernel.vocabulary import (
    BETTER,
    NEGLIGIBLY_BETTER,
    SIGNIFICANTLY_BETTER,
    SLIGHTLY_BETTER,
    STRENGTHS,
)

__all__ = [
    "ATTRIBUTES",
    "DEFAULT_MIN_SHARED",
    "SIGNED_STRENGTH_SCORES",
    "STRENGTHS",
    "Attribute",
    "ChoiceLabels",
    "GoldScore",
    "MedianSeconds",
    "PairwiseKappa",
    "Rating",
    "agreement_report",
    "cohens_kappa",
    "fleiss_kappa",
    "gold_accuracy",
    "median_seconds",
    "pairwise_cohens_kappa",
    "percent_agreement",
    "strength_distribution",
    "weighted_strength_kappa",
]


# STRENGTHS, the scale strongest first, is the kernel's (Llama 2, section 3.2.1).
_STRENGTH_SET: Final = frozenset(STRENGTHS)

SIGNED_STRENGTH_SCORES: Final[Mapping[str, float]] = MappingProxyType(
    {SIGNIFICANTLY_BETTER: 4, BETTER: 3, SLIGHTLY_BETTER: 2, NEGLIGIBLY_BETTER: 1}
)
"""Magnitudes of the signed-strength scale used by :func:`weighted_strength_kappa`.

A judgement becomes +score for one response of the comparison and -score for the other, giving the
eight-point ordinal scale -4..-1, +1..+4. There is no zero: "negligibly better / unsure" still
names a response. Two unsure annotators leaning different ways (+1, -1) are 2 apart, as are
"better" and "negligibly better" for the same response, while "significantly better" against
"better" for the other response (+4, -3) are 7 apart.
"""

Attribute = Literal["choice", "strength", "choice_strength"]
"""What agreement is measured on; see the module docstring."""

ATTRIBUTES: Final[tuple[Attribute, ...]] = get_args(Attribute)

ChoiceLabels = Literal["response", "category"]
"""How to read :attr:`Rating.choice` when estimating chance agreement; see the module docstring."""

DEFAULT_MIN_SHARED: Final = 10
"""Light's kappa leaves out rater pairs sharing fewer items than this: their kappa is noise."""


@dataclass(frozen=True, slots=True)
class Rating:
    """One judgement, reduced to what the statistics need.

    Attributes:
        item: The comparison's id.
        rater: The annotator's id.
        choice: The identity of the chosen *response* (not the screen side, which is randomised per
            annotator). See ``choice_labels`` in the module docstring.
        strength: One of :data:`STRENGTHS`.
        seconds: Time spent on the judgement, if known; must be finite and non-negative.
    """

    item: Hashable
    rater: Hashable
    choice: Hashable
    strength: str
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.strength not in _STRENGTH_SET:
            raise ValueError(f"strength must be one of {STRENGTHS}, got {self.strength!r}")
        if self.seconds is not None and not (0 <= self.seconds < math.inf):
            raise ValueError(f"seconds must be finite and >= 0, got {self.seconds!r}")


@dataclass(frozen=True, slots=True)
class GoldScore:
    """One annotator's record on gold comparisons: ``accuracy = correct / total``."""

    correct: int
    total: int
    accuracy: float


@dataclass(frozen=True, slots=True)
class MedianSeconds:
    """Median time per judgement, over the ratings that carry a time.

    Attributes:
        overall: Median over all timed ratings; ``None`` when no rating is timed.
        per_rater: Median per annotator, in order of first appearance; annotators without a single
            timed rating are left out.
        timed: How many ratings carried a time.
    """

    overall: float | None
    per_rater: dict[Hashable, float]
    timed: int


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
# Grouping: the single pass every statistic starts from.


@dataclass(frozen=True, slots=True)
class _Groups:
    """Ratings grouped by item, built in one pass."""

    overlapped: list[list[Rating]]  # items with >= 2 ratings, first-seen order; sorted by rater
    rater_index: dict[Hashable, int]  # every rater -> order of first appearance
    items: int
    ratings: int


def _group(ratings: Iterable[Rating]) -> _Groups:
    """Group by item in one pass; check that no rater rated an overlapped item twice."""
    by_item: dict[Hashable, list[Rating]] = {}
    rater_index: dict[Hashable, int] = {}
    count = 0
    for rating in ratings:
        count += 1
        group = by_item.get(rating.item)
        if group is None:
            by_item[rating.item] = [rating]
        else:
            group.append(rating)
        if rating.rater not in rater_index:
            rater_index[rating.rater] = len(rater_index)
    overlapped = [group for group in by_item.values() if len(group) > 1]
    by_rater = rater_index.__getitem__
    for group in overlapped:
        group.sort(key=lambda rating: by_rater(rating.rater))
        if len({rating.rater for rating in group}) != len(group):
            repeated = Counter(rating.rater for rating in group).most_common(1)[0][0]
            raise ValueError(
                f"rater {repeated!r} rated item {group[0].item!r} more than once; "
                "keep one rating per (item, rater)"
            )
    return _Groups(overlapped, rater_index, len(by_item), count)


def _too_many_choices(groups: _Groups) -> list[Rating] | None:
    """The first overlapped item with more than two distinct choices, if any."""
    for group in groups.overlapped:
        if len({rating.choice for rating in group}) > 2:
            return group
    return None


def _check_two_responses(groups: _Groups) -> None:
    group = _too_many_choices(groups)
    if group is not None:
        raise ValueError(
            f"item {group[0].item!r} has more than two distinct chosen responses, but a comparison "
            "has two (use choice_labels='category' for nominal data with more categories)"
        )


_CHOICE = attrgetter("choice")
_STRENGTH = attrgetter("strength")
_CHOICE_STRENGTH = attrgetter("choice", "strength")
_VALUE: Final[Mapping[str, Callable[[Rating], Hashable]]] = {
    "choice": _CHOICE,
    "strength": _STRENGTH,
    "choice_strength": _CHOICE_STRENGTH,
}


def _constant(_: Rating) -> Hashable:
    return None


@dataclass(frozen=True, slots=True)
class _Measure:
    """How one (``on``, ``choice_labels``) combination is scored.

    Two ratings agree when ``value`` is equal. Chance agreement is ``factor * sum_k p_k q_k`` over
    the categories ``k = marginal(rating)``: with textbook marginals ``marginal is value`` and
    ``factor == 1``; with symmetrised response labels the choice drops out of the marginal (it is
    split evenly between the comparison's two orientations) and ``factor == 1/2``.
    """

    value: Callable[[Rating], Hashable]
    marginal: Callable[[Rating], Hashable]
    factor: float


def _measure(on: str, choice_labels: str) -> _Measure:
    if on not in _VALUE:
        raise ValueError(f"on must be one of {ATTRIBUTES}, got {on!r}")
    if choice_labels not in get_args(ChoiceLabels):
        raise ValueError(
            f"choice_labels must be one of {get_args(ChoiceLabels)}, got {choice_labels!r}"
        )
    value = _VALUE[on]
    if on == "strength" or choice_labels == "category":
        return _Measure(value, value, 1.0)
    if on == "choice":
        return _Measure(value, _constant, 0.5)
    return _Measure(value, _STRENGTH, 0.5)


def _prepare(ratings: Iterable[Rating], on: str, choice_labels: str) -> tuple[_Groups, _Measure]:
    measure = _measure(on, choice_labels)  # validate the arguments before the long pass
    groups = _group(ratings)
    if choice_labels == "response" and on != "strength":
        _check_two_responses(groups)
    return groups, measure


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
        on: ``"choice"``, ``"strength"`` or ``"choice_strength"`` (see the module docstring).

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

    With ``choice_labels="response"`` the choice part of p_j is symmetrised (module docstring):
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
    counts a_k, b_k (symmetrised for response labels, see the module docstring); kappa is
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


# --------------------------------------------------------------------------------------------
# Ordinal: quadratic-weighted kappa on the signed strength.


def _signed_terms(groups: _Groups, scores: Mapping[str, float]) -> float | None:
    if not groups.overlapped:
        return None
    sum_observed = 0.0
    sum_squares = 0.0
    total = 0
    for group in groups.overlapped:
        reference = group[0].choice
        values = [
            scores[r.strength] if r.choice == reference else -scores[r.strength] for r in group
        ]
        n = len(values)
        s1 = math.fsum(values)
        s2 = math.fsum(v * v for v in values)
        # Mean squared difference over the item's rater pairs:
        # sum_{a<b} (x_a - x_b)^2 = n * sum x^2 - (sum x)^2, over n (n - 1) / 2 pairs.
        sum_observed += 2.0 * (n * s2 - s1 * s1) / (n * (n - 1))
        sum_squares += s2
        total += n
    observed = sum_observed / len(groups.overlapped)
    expected = 2.0 * sum_squares / total
    if expected == 0:
        return None
    return 1.0 - observed / expected


def weighted_strength_kappa(
    ratings: Iterable[Rating], *, scores: Mapping[str, float] = SIGNED_STRENGTH_SCORES
) -> float | None:
    """Quadratic-weighted kappa (Cohen 1968) on the signed strength, Fleiss-style for many raters.

    The nominal kappas treat "better" against "significantly better" for the same response as a
    disagreement just as total as a vote for the other response. This one puts every judgement on
    the ordinal scale +score (one response) .. -score (the other) with ``scores`` from
    :data:`SIGNED_STRENGTH_SCORES` (4, 3, 2, 1), and weighs disagreement by the squared distance:
    ``kappa_w = 1 - D_o / D_e`` where

    - ``D_o`` is, per item, the mean of ``(x_a - x_b)^2`` over its rater pairs, averaged over the
      items rated at least twice (as P_bar in :func:`fleiss_kappa`);
    - ``D_e`` is the mean of ``(x - y)^2`` for two ratings drawn independently from all ratings of
      those items.

    With weights ``w = 1 - (d / d_max)^2`` this is exactly ``(P_bar_w - P_e_w) / (1 - P_e_w)``, the
    weighted form of Fleiss' kappa; quadratic weights make it close to an intraclass correlation
    (Fleiss & Cohen, 1973). Which response is "+" is arbitrary per comparison, so the marginal is
    symmetrised as for ``choice_labels="response"``: it has mean 0 and ``D_e = 2 * mean(x^2)``,
    and the statistic does not depend on the orientation chosen. Choices are compared as response
    identities; more than two distinct choices in an item raise :class:`ValueError`.

    Returns:
        The weighted kappa, or ``None`` when no item was rated twice.
    """
    missing = _STRENGTH_SET.difference(scores)
    if missing:
        raise ValueError(f"scores lacks {sorted(missing)}")
    groups = _group(ratings)
    _check_two_responses(groups)
    return _signed_terms(groups, scores)


# --------------------------------------------------------------------------------------------
# Per-rating summaries.

_NOT_GOLD: Final = object()


def gold_accuracy(
    ratings: Iterable[Rating], gold: Mapping[Hashable, Hashable]
) -> dict[Hashable, GoldScore]:
    """Each annotator's accuracy on gold comparisons.

    Args:
        ratings: The judgements.
        gold: ``{item: correct choice}``, the choice in the same identity as :attr:`Rating.choice`.

    Returns:
        ``{rater: GoldScore(correct, total, accuracy)}`` for every rater with at least one rating of
        a gold item, in order of first appearance. Raters without one are absent (not 0%).
    """
    tallies: dict[Hashable, list[int]] = {}
    for rating in ratings:
        expected = gold.get(rating.item, _NOT_GOLD)
        if expected is _NOT_GOLD:
            continue
        tally = tallies.get(rating.rater)
        if tally is None:
            tally = tallies[rating.rater] = [0, 0]
        tally[0] += rating.choice == expected
        tally[1] += 1
    return {
        rater: GoldScore(correct, total, correct / total)
        for rater, (correct, total) in tallies.items()
    }


def median_seconds(ratings: Iterable[Rating]) -> MedianSeconds:
    """Median time per judgement, overall and per annotator; untimed ratings are ignored.

    The median, not the mean: judgement times are heavily right-skewed (an annotator leaves the tab
    open over lunch), and a data manager wants the typical time, e.g. to spot someone clicking
    through in two seconds.
    """
    per_rater: dict[Hashable, list[float]] = {}
    for rating in ratings:
        if rating.seconds is None:
            continue
        times = per_rater.get(rating.rater)
        if times is None:
            per_rater[rating.rater] = [rating.seconds]
        else:
            times.append(rating.seconds)
    everything = [seconds for times in per_rater.values() for seconds in times]
    return MedianSeconds(
        overall=float(statistics.median(everything)) if everything else None,
        per_rater={rater: float(statistics.median(times)) for rater, times in per_rater.items()},
        timed=len(everything),
    )


def strength_distribution(ratings: Iterable[Rating]) -> dict[str, float]:
    """Share of each strength, in :data:`STRENGTHS` order.

    All four keys are always present; the shares sum to 1, or are all 0 when there are no ratings.
    A batch where "negligibly better / unsure" dominates signals responses too close to tell apart,
    or annotators not reading them; one where "significantly better" dominates, responses that are
    too easy to tell apart to teach a reward model much.
    """
    counts = Counter(map(_STRENGTH, ratings))
    total = sum(counts.values())
    return {strength: counts[strength] / total if total else 0.0 for strength in STRENGTHS}


# --------------------------------------------------------------------------------------------
# Everything at once.


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
        ``choice_labels``, ``min_shared``: the conventions used (module docstring).
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
