"""Ordinal agreement: the quadratic-weighted kappa on the signed strength, which counts
"better" against "significantly better" for the same response as a near miss."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from paddock.annotation.quality.ratings import (
    _STRENGTH_SET,
    Rating,
    _check_two_responses,
    _group,
    _Groups,
)
from paddock.kernel.vocabulary import (
    BETTER,
    NEGLIGIBLY_BETTER,
    SIGNIFICANTLY_BETTER,
    SLIGHTLY_BETTER,
)

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
