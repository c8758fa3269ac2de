"""Per-rating summaries that need no overlap: gold accuracy per annotator, median time per
judgement, and the distribution of strengths."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from paddock.annotation.quality.ratings import _STRENGTH, Rating
from paddock.kernel.vocabulary import STRENGTHS


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
