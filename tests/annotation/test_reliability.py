"""The one-coin Dawid-Skene reliability estimate on simulated teams (fixed seeds)."""

from __future__ import annotations

import random

import pytest

from paddock.annotation.quality.ratings import Rating
from paddock.annotation.quality.reliability import estimate_reliability


def simulate(accuracy: dict[str, float], *, items: int, overlap: int, gold_share: float,
             seed: int) -> tuple[list[Rating], dict[int, str], dict[int, str]]:
    """Each item's better response is "good-i"; each rater picks it with their accuracy.
    Returns ratings, the gold answers and every item's truth."""
    rng = random.Random(seed)
    raters = sorted(accuracy)
    ratings, gold, truth = [], {}, {}
    for item in range(items):
        truth[item] = f"good-{item}"
        if rng.random() < gold_share:
            gold[item] = truth[item]
        for rater in rng.sample(raters, overlap):
            right = rng.random() < accuracy[rater]
            ratings.append(Rating(item, rater, f"good-{item}" if right else f"bad-{item}",
                                  "better"))
    return ratings, gold, truth


TEAM = {**{f"reliable-{i}": 0.9 for i in range(8)}, "random-0": 0.5, "random-1": 0.5,
        "adversary": 0.1, "careless": 0.7}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_estimate_recovers_each_annotators_accuracy(seed):
    ratings, gold, _ = simulate(TEAM, items=600, overlap=3, gold_share=0.1, seed=seed)
    found = estimate_reliability(ratings, gold)
    for rater, accuracy in TEAM.items():
        assert found[rater].reliability == pytest.approx(accuracy, abs=0.08), rater
    assert found["adversary"].weight == 0.0
    assert all(found[f"random-{i}"].weight < 0.2 for i in range(2))
    assert all(found[f"reliable-{i}"].weight > 0.65 for i in range(8))
    assert found["careless"].weight < min(found[f"reliable-{i}"].weight for i in range(8))


def test_it_beats_majority_vote_when_a_fifth_of_the_team_is_adversarial():
    """The posterior's better response is right more often than the plain majority's."""
    team = {**{f"good-{i}": 0.8 for i in range(8)}, "bad-0": 0.05, "bad-1": 0.05}
    ratings, gold, truth = simulate(team, items=800, overlap=3, gold_share=0.05, seed=7)
    found = estimate_reliability(ratings, gold)
    by_item: dict[int, list[Rating]] = {}
    for rating in ratings:
        by_item.setdefault(rating.item, []).append(rating)
    majority = weighted = 0
    for item, votes in by_item.items():
        tally: dict[str, float] = {}
        score: dict[str, float] = {}
        for vote in votes:
            tally[vote.choice] = tally.get(vote.choice, 0) + 1
            score[vote.choice] = score.get(vote.choice, 0) + found[vote.rater].weight
        majority += max(tally, key=tally.get) == truth[item]
        weighted += max(score, key=score.get) == truth[item]
    assert weighted > majority + 20, (weighted, majority)


def test_gold_alone_is_smoothed_gold_accuracy():
    ratings = [Rating(i, "solo", "a" if i < 6 else "b", "better") for i in range(8)]
    found = estimate_reliability(ratings, {i: "a" for i in range(8)}, prior=(3, 1))
    assert found["solo"].reliability == pytest.approx((6 + 3) / (8 + 4))
    assert (found["solo"].gold_correct, found["solo"].gold_total) == (6, 8)
    assert found["solo"].informative == 8


def test_single_judgements_without_gold_leave_the_prior():
    ratings = [Rating(i, "alone", "x", "better") for i in range(50)]
    found = estimate_reliability(ratings)
    assert found["alone"].reliability == pytest.approx(0.75)
    assert found["alone"].informative == 0


def test_the_order_of_the_judgements_does_not_matter():
    ratings, gold, _ = simulate(TEAM, items=200, overlap=3, gold_share=0.1, seed=5)
    shuffled = ratings[:]
    random.Random(0).shuffle(shuffled)
    first, second = estimate_reliability(ratings, gold), estimate_reliability(shuffled, gold)
    for rater in TEAM:
        assert first[rater].reliability == pytest.approx(second[rater].reliability, abs=1e-5)


def test_bad_input_is_refused_with_the_item_named():
    with pytest.raises(ValueError, match="item 4: 3 different responses"):
        estimate_reliability([Rating(4, "a", "x", "better"), Rating(4, "b", "y", "better"),
                              Rating(4, "c", "z", "better")])
    with pytest.raises(ValueError, match="item 1: rater 'a' judged it twice"):
        estimate_reliability([Rating(1, "a", "x", "better"), Rating(1, "a", "y", "better")])
    with pytest.raises(ValueError, match="pseudo-counts must be positive"):
        estimate_reliability([], prior=(0, 1))
