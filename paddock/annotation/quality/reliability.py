"""How far each annotator's choices can be trusted: a one-coin Dawid-Skene estimate.

Gold accuracy alone says nothing about an annotator who met few gold comparisons, and
agreement alone cannot tell a careful minority from a careless one. The Dawid-Skene model
(Dawid and Skene, 1979) uses both: each comparison has an unknown better response, each
annotator picks it with their own probability ``p`` (their *reliability*), and EM
alternates between the posterior of every comparison's better response (a vote weighted
by the log-odds of each annotator's ``p``) and each annotator's expected share of correct
picks. Gold comparisons enter with their answer known, so gold accuracy and agreement
with the others feed one estimate.

The "one-coin" form (one ``p`` per annotator, not a confusion matrix) fits pairwise
choices, where the response identities are shuffled per comparison and a per-side bias
means nothing. Choices here are response identities, as in :class:`Rating`.

Two choices made for small data:

- Each ``p`` is smoothed by a Beta prior (default ``Beta(3, 1)``: mean 0.75, worth four
  judgements), so an annotator seen on a handful of comparisons is not declared perfect or
  useless on their evidence.
- A comparison judged once and not gold says nothing about reliability (its posterior
  follows its one judgement): it is left out of the estimate, and its judgement simply
  takes its annotator's weight.

A judgement's training weight is ``max(0, 2p - 1)``: 1 for a perfect annotator, 0 for one
no better than a coin, and 0 (not negative) for one who picks the worse response more
often than not, whose choices are excluded rather than flipped.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

from paddock.annotation.quality.ratings import Rating

DEFAULT_PRIOR = (3.0, 1.0)
_OTHER = object()  # the response nobody chose, in a comparison where everyone agreed
_CLAMP = 1e-6


@dataclass(frozen=True, slots=True)
class Reliability:
    """One annotator's estimate.

    Attributes:
        rater: The annotator's id.
        reliability: Estimated probability of picking the better response.
        weight: ``max(0, 2 * reliability - 1)``, the weight of each of their judgements.
        informative: Comparisons that informed the estimate (overlapped or gold).
        gold_correct, gold_total: Their gold tally, for display beside the estimate.
    """

    rater: Hashable
    reliability: float
    weight: float
    informative: int
    gold_correct: int
    gold_total: int


def estimate_reliability(
    ratings: Iterable[Rating], gold: Mapping[Hashable, Hashable] | None = None, *,
    prior: tuple[float, float] = DEFAULT_PRIOR, max_iterations: int = 200,
    tolerance: float = 1e-7,
) -> dict[Hashable, Reliability]:
    """Every rater's reliability, by EM over the informative comparisons.

    Args:
        ratings: Judgements, at most one per (item, rater); choices are response ids.
        gold: ``{item: correct choice}`` for gold comparisons.
        prior: Beta(a, b) pseudo-counts of correct and wrong picks added to every rater.

    Raises:
        ValueError: an item with more than two distinct choices (naming it), a rater
            judging one item twice, or a prior that is not positive.
    """
    a, b = prior
    if not (a > 0 and b > 0):
        raise ValueError(f"prior {prior!r}: both pseudo-counts must be positive")
    gold = gold or {}
    by_item: dict[Hashable, dict[Hashable, Hashable]] = defaultdict(dict)
    raters: dict[Hashable, None] = {}
    for rating in ratings:
        votes = by_item[rating.item]
        if rating.rater in votes:
            raise ValueError(f"item {rating.item!r}: rater {rating.rater!r} judged it twice; "
                             "keep one judgement per rater")
        votes[rating.rater] = rating.choice
        raters.setdefault(rating.rater)
    items = []  # (votes, options, known answer or None)
    for item, votes in by_item.items():
        options = list(dict.fromkeys(votes.values()))
        answer = gold.get(item)
        if answer is not None and answer not in options:
            options.append(answer)
        if len(options) > 2:
            raise ValueError(f"item {item!r}: {len(options)} different responses chosen; a "
                             "comparison has two")
        if answer is None and len(votes) < 2:
            continue  # one judgement, no gold: nothing to learn about anyone from it
        while len(options) < 2:
            options.append(_OTHER)
        items.append((votes, options, answer))

    mean = a / (a + b)
    reliability = dict.fromkeys(raters, mean)
    for _ in range(max_iterations):
        correct: dict[Hashable, float] = defaultdict(float)
        seen: dict[Hashable, int] = defaultdict(int)
        for votes, options, answer in items:
            first = _posterior_first(votes, options, answer, reliability)
            for rater, choice in votes.items():
                correct[rater] += first if choice == options[0] else 1.0 - first
                seen[rater] += 1
        updated = {rater: (correct[rater] + a) / (seen[rater] + a + b) for rater in raters}
        change = max((abs(updated[r] - reliability[r]) for r in raters), default=0.0)
        reliability = updated
        if change < tolerance:
            break

    informative: dict[Hashable, int] = defaultdict(int)
    for votes, _, _ in items:
        for rater in votes:
            informative[rater] += 1
    tallies: dict[Hashable, list[int]] = defaultdict(lambda: [0, 0])
    for item, votes in by_item.items():
        if item in gold:
            for rater, choice in votes.items():
                tallies[rater][0] += choice == gold[item]
                tallies[rater][1] += 1
    return {
        rater: Reliability(rater, round(p, 6), round(max(0.0, 2 * p - 1), 6),
                           informative[rater], *tallies[rater])
        for rater, p in reliability.items()
    }


def _posterior_first(votes: Mapping[Hashable, Hashable], options: list, answer,
                     reliability: Mapping[Hashable, float]) -> float:
    """P(options[0] is the better response | the votes), with a flat prior over the two;
    1 or 0 for a gold comparison."""
    if answer is not None:
        return 1.0 if answer == options[0] else 0.0
    log_odds = 0.0
    for rater, choice in votes.items():
        p = min(max(reliability[rater], _CLAMP), 1 - _CLAMP)
        vote = math.log(p / (1 - p))
        log_odds += vote if choice == options[0] else -vote
    if log_odds >= 0:
        return 1.0 / (1.0 + math.exp(-log_odds))
    odds = math.exp(log_odds)
    return odds / (1.0 + odds)
