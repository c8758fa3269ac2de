"""Tests for paddock.annotation.quality: agreement statistics of pairwise preference annotation.

Exact values come from published worked examples or hand arithmetic; statistical checks use fixed
seeds and tolerances derived from the standard error of the quantity under test.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter
from collections.abc import Hashable, Sequence

import numpy as np
import pytest

from paddock.annotation.quality import (
    ATTRIBUTES,
    SIGNED_STRENGTH_SCORES,
    STRENGTHS,
    GoldScore,
    PairwiseKappa,
    Rating,
    agreement_report,
    cohens_kappa,
    fleiss_kappa,
    gold_accuracy,
    median_seconds,
    pairwise_cohens_kappa,
    percent_agreement,
    strength_distribution,
    weighted_strength_kappa,
)

# ----------------------------------------------------------------------------------------------
# Helpers


def from_count_table(table: Sequence[Sequence[int]], strength: str = "better") -> list[Rating]:
    """Ratings from a subjects x categories count table; raters numbered within each subject."""
    ratings = []
    for item, row in enumerate(table):
        rater = 0
        for category, count in enumerate(row):
            for _ in range(count):
                ratings.append(Rating(item, rater, category, strength))
                rater += 1
    return ratings


def from_pairs(
    pairs: Sequence[tuple[Hashable, Hashable]], strength: str = "better"
) -> list[Rating]:
    """Two raters, "A" and "B", one item per (label_a, label_b) pair."""
    ratings = []
    for item, (label_a, label_b) in enumerate(pairs):
        ratings.append(Rating(item, "A", label_a, strength))
        ratings.append(Rating(item, "B", label_b, strength))
    return ratings


def reference_fleiss(counts: np.ndarray) -> float:
    """Fleiss' kappa straight from the formula, items x categories, varying row sums allowed."""
    counts = counts[counts.sum(axis=1) >= 2]
    n = counts.sum(axis=1)
    p_i = (counts * (counts - 1)).sum(axis=1) / (n * (n - 1))
    p_j = counts.sum(axis=0) / counts.sum()
    p_e = float((p_j**2).sum())
    return (float(p_i.mean()) - p_e) / (1 - p_e)


def reference_cohen(labels_a: Sequence[Hashable], labels_b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa from the confusion matrix; None when p_e = 1."""
    categories = sorted(set(labels_a) | set(labels_b), key=repr)
    position = {c: i for i, c in enumerate(categories)}
    confusion = np.zeros((len(categories), len(categories)))
    for a, b in zip(labels_a, labels_b, strict=True):
        confusion[position[a], position[b]] += 1
    confusion /= confusion.sum()
    p_o = float(np.trace(confusion))
    p_e = float(confusion.sum(axis=1) @ confusion.sum(axis=0))
    return None if p_e == 1 else (p_o - p_e) / (1 - p_e)


def simulate(
    rng: random.Random,
    *,
    items: int,
    raters: Sequence[Hashable],
    accuracy: dict[Hashable, float] | float,
    overlap: int | Sequence[int] = 3,
    prevalence: float = 0.5,
) -> tuple[list[Rating], dict[int, tuple[int, str]]]:
    """Annotators who pick the truly better response with a known probability.

    Each comparison ``i`` has responses ``(i, "a")`` and ``(i, "b")``; the better one is ``"a"``
    with probability ``prevalence``. Returns the ratings and the truth ``{item: response}``.
    """
    ratings = []
    truth = {}
    for item in range(items):
        better = (item, "a") if rng.random() < prevalence else (item, "b")
        worse = (item, "b") if better[1] == "a" else (item, "a")
        truth[item] = better
        n = overlap if isinstance(overlap, int) else rng.choice(overlap)
        for rater in rng.sample(list(raters), n):
            p = accuracy if isinstance(accuracy, float) else accuracy[rater]
            choice = better if rng.random() < p else worse
            seconds = rng.lognormvariate(3.0, 0.5)
            ratings.append(Rating(item, rater, choice, rng.choice(STRENGTHS), seconds))
    return ratings, truth


def slot_labels(ratings: Sequence[Rating]) -> list[Rating]:
    """The same ratings with the choice as the comparison's stored slot "a"/"b" (shared labels)."""
    return [Rating(r.item, r.rater, r.choice[1], r.strength, r.seconds) for r in ratings]


# ----------------------------------------------------------------------------------------------
# Fleiss' kappa


# Fleiss (1971) / Wikipedia "Fleiss' kappa": 10 subjects, 14 raters each, 5 categories.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_worked_example():
    ratings = from_count_table(FLEISS_TABLE)
    # P_bar = 0.378, P_e = 0.213 (p_j = 0.143, 0.200, 0.279, 0.150, 0.229), kappa = 0.210.
    assert percent_agreement(ratings) == pytest.approx(0.378, abs=5e-4)
    kappa = fleiss_kappa(ratings, choice_labels="category")
    assert kappa is not None
    assert round(kappa, 3) == 0.210
    assert kappa == pytest.approx(reference_fleiss(np.array(FLEISS_TABLE)), abs=1e-12)


def test_fleiss_kappa_with_varying_raters_per_item_matches_the_formula():
    rng = np.random.default_rng(7)
    table = np.zeros((400, 4), dtype=int)
    for row in table:
        n = rng.integers(1, 7)  # 1..6 ratings; the single-rating rows must be ignored
        weights = rng.dirichlet(np.ones(4) * 0.7)
        for category in rng.choice(4, size=n, p=weights):
            row[category] += 1
    assert (table.sum(axis=1) == 1).any() and (table.sum(axis=1) == 6).any()
    ratings = from_count_table(table.tolist())
    kappa = fleiss_kappa(ratings, choice_labels="category")
    assert kappa == pytest.approx(reference_fleiss(table), abs=1e-12)


def test_items_with_a_single_rating_are_ignored():
    rng = random.Random(3)
    ratings, _ = simulate(rng, items=300, raters=range(6), accuracy=0.8, overlap=[2, 3, 4])
    singles = [
        Rating(("single", i), rng.randrange(6), ("single", i, "a"), rng.choice(STRENGTHS))
        for i in range(200)
    ]
    mixed = ratings + singles
    rng.shuffle(mixed)
    for on in ATTRIBUTES:
        assert percent_agreement(mixed, on=on) == pytest.approx(percent_agreement(ratings, on=on))
        assert fleiss_kappa(mixed, on=on) == pytest.approx(fleiss_kappa(ratings, on=on))
        assert cohens_kappa(mixed, on=on, min_shared=1) == pytest.approx(
            cohens_kappa(ratings, on=on, min_shared=1)
        )
    assert weighted_strength_kappa(mixed) == pytest.approx(weighted_strength_kappa(ratings))
    assert agreement_report(mixed)["overlapped_items"] == 300


def test_fleiss_kappa_perfect_agreement_and_undefined_cases():
    agree = from_count_table([[3, 0], [0, 4], [2, 0]])
    assert fleiss_kappa(agree, choice_labels="category") == 1.0
    assert percent_agreement(agree) == 1.0
    # One category only: P_e = 1, kappa is undefined, not 1 and not a ZeroDivisionError.
    assert fleiss_kappa(from_count_table([[3], [2]]), choice_labels="category") is None
    # With response labels the chance agreement on the choice is 1/2, so unanimity is kappa 1.
    same_response = [Rating(i, r, (i, "a"), "better") for i in range(5) for r in range(3)]
    assert fleiss_kappa(same_response) == 1.0
    # ... but the strength was always the same: undefined on the strength.
    assert fleiss_kappa(same_response, on="strength") is None
    assert fleiss_kappa([Rating(1, 1, "x", "better")]) is None  # no item rated twice


# ----------------------------------------------------------------------------------------------
# Cohen's kappa


# 100 items, two raters, labels "yes"/"no":
#                 B yes   B no
#        A yes      45      15     (A: 60 yes)
#        A no       25      15     (A: 40 no)
#                 (70)    (30)
HAND_PAIRS = (
    [("yes", "yes")] * 45 + [("yes", "no")] * 15 + [("no", "yes")] * 25 + [("no", "no")] * 15
)


def test_cohens_kappa_hand_computed_2x2():
    ratings = from_pairs(HAND_PAIRS)
    # p_o = (45 + 15) / 100 = 0.60
    # p_e = P(A yes) P(B yes) + P(A no) P(B no) = 0.60 * 0.70 + 0.40 * 0.30 = 0.42 + 0.12 = 0.54
    # kappa = (0.60 - 0.54) / (1 - 0.54) = 0.06 / 0.46 = 0.130434...
    kappa = cohens_kappa(ratings, choice_labels="category")
    assert kappa == pytest.approx(0.06 / 0.46, abs=1e-12)
    assert kappa == pytest.approx(reference_cohen(*zip(*HAND_PAIRS, strict=True)), abs=1e-12)
    pair = pairwise_cohens_kappa(ratings, choice_labels="category")
    assert pair == {("A", "B"): PairwiseKappa(100, 0.60, pytest.approx(0.54), pytest.approx(kappa))}
    # Read as response identities instead, "yes"/"no" carry no meaning across items: the chance
    # agreement is 1/2 and kappa = 2 p_o - 1 = 2 * 0.60 - 1 = 0.20 (Bennett et al.'s S).
    assert cohens_kappa(ratings) == pytest.approx(0.20, abs=1e-12)
    assert percent_agreement(ratings) == pytest.approx(0.60)


def test_cohens_kappa_perfect_agreement():
    rng = random.Random(11)
    labels = [rng.choice("xyz") for _ in range(50)]
    assert (
        cohens_kappa(from_pairs(list(zip(labels, labels, strict=True))), choice_labels="category")
        == 1.0
    )
    strengths = [
        Rating(i, rater, (i, "a"), STRENGTHS[i % 4]) for i in range(40) for rater in ("A", "B")
    ]
    for on in ATTRIBUTES:
        assert cohens_kappa(strengths, on=on) == 1.0


def test_cohens_kappa_near_zero_at_chance_level():
    rng = random.Random(2024)
    n = 20_000
    # Response identities, each annotator choosing at random.
    ratings = [
        Rating(i, rater, (i, rng.choice("ab")), rng.choice(STRENGTHS))
        for i in range(n)
        for rater in ("A", "B")
    ]
    for on in ATTRIBUTES:
        kappa = cohens_kappa(ratings, on=on)
        assert kappa is not None and abs(kappa) < 0.03, (on, kappa)
    # Shared labels with very different marginals: independence is still kappa ~ 0.
    skewed = from_pairs(
        [("a" if rng.random() < 0.8 else "b", "a" if rng.random() < 0.3 else "b") for _ in range(n)]
    )
    kappa = cohens_kappa(skewed, choice_labels="category")
    assert kappa is not None and abs(kappa) < 0.03


def test_cohens_kappa_systematic_disagreement_is_negative():
    # B always picks the response A did not pick: kappa on the choice is -1.
    ratings = []
    for i in range(30):
        ratings.append(Rating(i, "A", (i, "a" if i % 3 else "b"), "better"))
        ratings.append(Rating(i, "B", (i, "b" if i % 3 else "a"), "better"))
    assert cohens_kappa(ratings) == -1.0
    assert fleiss_kappa(ratings) == -1.0
    assert percent_agreement(ratings) == 0.0
    # Shared labels, mostly opposite.
    opposite = from_pairs([("yes", "no")] * 40 + [("no", "yes")] * 50 + [("yes", "yes")] * 10)
    kappa = cohens_kappa(opposite, choice_labels="category")
    assert kappa is not None and kappa < -0.5
    labels_a = [r.choice for r in opposite if r.rater == "A"]
    labels_b = [r.choice for r in opposite if r.rater == "B"]
    assert kappa == pytest.approx(reference_cohen(labels_a, labels_b), abs=1e-12)


def test_cohens_kappa_undefined_when_both_raters_use_one_category():
    ratings = from_pairs([("yes", "yes")] * 20)
    assert cohens_kappa(ratings, choice_labels="category") is None
    assert pairwise_cohens_kappa(ratings, choice_labels="category")[("A", "B")].kappa is None
    assert cohens_kappa([]) is None
    assert cohens_kappa([Rating(1, "A", "x", "better"), Rating(2, "B", "x", "better")]) is None


def test_two_raters_ignore_min_shared_and_light_kappa_averages_qualifying_pairs():
    rng = random.Random(5)
    two = from_pairs([(rng.choice("ab"), rng.choice("ab")) for _ in range(4)])
    assert cohens_kappa(two, choice_labels="category", min_shared=10) is not None

    raters = ["r0", "r1", "r2", "r3"]
    accuracy = {"r0": 0.95, "r1": 0.85, "r2": 0.7, "r3": 0.6}
    ratings, _ = simulate(rng, items=600, raters=raters, accuracy=accuracy, overlap=[2, 3])
    # A fifth rater who joined late and shares at most 5 items with anybody: left out.
    ratings += [Rating(i, "late", (i, "a"), "better") for i in range(5)]
    for labels in ("response", "category"):
        data = ratings if labels == "response" else slot_labels(ratings)
        pairs = pairwise_cohens_kappa(data, choice_labels=labels)
        # Brute force: every pair's kappa from the items both rated.
        by_rater: dict[Hashable, dict[Hashable, Hashable]] = {}
        for r in data:
            by_rater.setdefault(r.rater, {})[r.item] = r.choice
        qualifying = []
        for (a, b), stats in pairs.items():
            shared = sorted(set(by_rater[a]) & set(by_rater[b]))
            assert stats.shared == len(shared)
            labels_a = [by_rater[a][i] for i in shared]
            labels_b = [by_rater[b][i] for i in shared]
            p_o = float(np.mean([x == y for x, y in zip(labels_a, labels_b, strict=True)]))
            expected = reference_cohen(labels_a, labels_b) if labels == "category" else 2 * p_o - 1
            if expected is None:  # both used one category on their few shared items
                assert stats.kappa is None and stats.shared <= 5
                continue
            assert stats.kappa == pytest.approx(expected, abs=1e-12)
            if stats.shared >= 10:
                qualifying.append(expected)
        late = [stats for pair, stats in pairs.items() if "late" in pair]
        assert late and all(stats.shared <= 5 for stats in late)
        assert len(qualifying) == 6  # the four regular raters' pairs only
        assert cohens_kappa(data, choice_labels=labels) == pytest.approx(np.mean(qualifying))


def test_pairwise_keys_follow_first_appearance():
    ratings = [
        Rating(1, "zed", "x", "better"),
        Rating(1, "amy", "x", "better"),
        Rating(2, "amy", "y", "better"),
        Rating(2, "zed", "x", "better"),
    ]
    assert list(pairwise_cohens_kappa(ratings, choice_labels="category")) == [("zed", "amy")]


# ----------------------------------------------------------------------------------------------
# Simulated annotators with a known accuracy


@pytest.mark.parametrize("p", [0.65, 0.8, 0.9])
def test_simulated_annotators_agree_as_theory_predicts(p):
    rng = random.Random(int(p * 1000))
    items = 8000
    ratings, truth = simulate(rng, items=items, raters=range(8), accuracy=p, overlap=3)

    # Two independent annotators agree when both are right or both wrong.
    p_agree = p**2 + (1 - p) ** 2
    # Per item (3 raters, 3 pairs) P_i is 1 when all three agree, else 1/3; "all three agree" is
    # a Bernoulli trial with probability u = p^3 + (1 - p)^3, so Var(P_i) = (2/3)^2 u (1 - u).
    u = p**3 + (1 - p) ** 3
    se = (2 / 3) * math.sqrt(u * (1 - u) / items)
    observed = percent_agreement(ratings)
    assert observed == pytest.approx(p_agree, abs=4 * se)

    # Response labels: P_e = 1/2 exactly, so kappa = 2 P_bar - 1, whose expectation is
    # 2 (p^2 + (1 - p)^2) - 1 = (2p - 1)^2 and whose standard error is 2 se.
    fleiss = fleiss_kappa(ratings)
    assert fleiss == pytest.approx(2 * observed - 1, abs=1e-12)
    assert fleiss == pytest.approx((2 * p - 1) ** 2, abs=4 * (2 * se))
    # Light's kappa: each of the 28 rater pairs shares about items * 3 / 28 items, and its kappa
    # 2 p_o - 1 has the same expectation (2p - 1)^2 and a standard error of
    # 2 sqrt(p_agree (1 - p_agree) / shared). Each item feeds 3 of the 28 pairs, so the mean over
    # pairs has about 28 / 3 independent pairs' worth of information.
    shared = items * 3 / 28
    se_light = 2 * math.sqrt(p_agree * (1 - p_agree) / shared) / math.sqrt(28 / 3)
    light = cohens_kappa(ratings)
    assert light == pytest.approx((2 * p - 1) ** 2, abs=4 * se_light)

    # Gold accuracy: every annotator's record on the truth is close to p.
    scores = gold_accuracy(ratings, truth)
    assert set(scores) == set(range(8))
    for score in scores.values():
        assert score.accuracy == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / score.total))


def test_simulated_fleiss_with_shared_labels_and_unbalanced_truth():
    # Shared labels ("a"/"b" slots) and the better response in slot "a" 70% of the time: the
    # marginal share of "a" is pi = q p + (1 - q)(1 - p), P_e = pi^2 + (1 - pi)^2, and Fleiss'
    # kappa is (P_bar - P_e) / (1 - P_e) with P_bar = p^2 + (1 - p)^2.
    rng = random.Random(99)
    p, q, items = 0.8, 0.7, 10_000
    ratings, _ = simulate(rng, items=items, raters=range(10), accuracy=p, prevalence=q)
    pi = q * p + (1 - q) * (1 - p)
    p_e = pi**2 + (1 - pi) ** 2
    p_bar = p**2 + (1 - p) ** 2
    expected = (p_bar - p_e) / (1 - p_e)
    u = p**3 + (1 - p) ** 3
    se_p_bar = (2 / 3) * math.sqrt(u * (1 - u) / items)
    # P_e is estimated too: d kappa / d P_e = (P_bar - 1) / (1 - P_e)^2, d P_e / d pi = 4 pi - 2,
    # and pi is a mean over items (bounded by the per-item share's variance).
    se_pi = math.sqrt(pi * (1 - pi) / items)
    se = se_p_bar / (1 - p_e) + abs((p_bar - 1) / (1 - p_e) ** 2 * (4 * pi - 2)) * se_pi
    kappa = fleiss_kappa(slot_labels(ratings), choice_labels="category")
    assert kappa == pytest.approx(expected, abs=4 * se)
    # The same data read as response identities: chance is 1/2 whatever the prevalence.
    assert fleiss_kappa(ratings) == pytest.approx((2 * p - 1) ** 2, abs=8 * se_p_bar)


def test_gold_accuracy_per_annotator():
    rng = random.Random(17)
    accuracy = {"ann": 0.6, "bob": 0.75, "cyd": 0.9, "dee": 0.97}
    ratings, truth = simulate(rng, items=6000, raters=list(accuracy), accuracy=accuracy, overlap=2)
    gold = {item: choice for item, choice in truth.items() if item % 3 == 0}  # a third is gold
    scores = gold_accuracy(ratings, gold)
    for rater, p in accuracy.items():
        score = scores[rater]
        assert isinstance(score, GoldScore)
        assert score.accuracy == score.correct / score.total
        assert score.accuracy == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / score.total))
    assert sum(s.total for s in scores.values()) == sum(1 for r in ratings if r.item in gold)


def test_gold_accuracy_leaves_out_raters_without_gold():
    ratings = [
        Rating(1, "a", "r1", "better"),
        Rating(1, "b", "r2", "better"),
        Rating(2, "c", "r3", "better"),
    ]
    assert gold_accuracy(ratings, {1: "r1"}) == {
        "a": GoldScore(1, 1, 1.0),
        "b": GoldScore(0, 1, 0.0),
    }
    assert gold_accuracy([], {1: "r1"}) == {}


# ----------------------------------------------------------------------------------------------
# Choice by response identity


def test_choice_is_compared_by_response_identity_not_by_side():
    # Both annotators always click the left side. Sides are randomised per annotator, so the
    # response on the left differs between them half of the time: as response identities, their
    # choices agree at chance level and kappa is ~0, although "left" == "left" on every item.
    rng = random.Random(8)
    ratings = []
    for item in range(20_000):
        for rater in ("A", "B"):
            left, _right = rng.sample([(item, "a"), (item, "b")], 2)
            ratings.append(Rating(item, rater, left, "better"))
    agreement = percent_agreement(ratings)
    assert agreement == pytest.approx(0.5, abs=4 * math.sqrt(0.25 / 20_000))
    kappa = cohens_kappa(ratings)
    assert kappa is not None and abs(kappa) < 0.03


def test_response_labels_do_not_collapse_kappa_into_agreement():
    # Response ids are unique per comparison. Pooled textbook marginals over them make the chance
    # term vanish (kappa ~ percent agreement); the symmetrised chance term keeps kappa honest.
    rng = random.Random(4)
    ratings, _ = simulate(rng, items=2000, raters=range(5), accuracy=0.75)
    agreement = percent_agreement(ratings)
    naive = fleiss_kappa(ratings, choice_labels="category")
    assert naive == pytest.approx(agreement, abs=0.01)
    assert fleiss_kappa(ratings) == pytest.approx(2 * agreement - 1)


def test_more_than_two_responses_in_a_comparison_is_an_error_with_response_labels():
    ratings = from_count_table([[1, 1, 1]])
    with pytest.raises(ValueError, match="more than two distinct"):
        fleiss_kappa(ratings)
    with pytest.raises(ValueError, match="more than two distinct"):
        cohens_kappa(ratings)
    with pytest.raises(ValueError, match="more than two distinct"):
        weighted_strength_kappa(ratings)
    with pytest.raises(ValueError, match="more than two distinct"):
        agreement_report(ratings)
    # Nominal data is fine with shared category labels, and agreement needs no such rule.
    assert fleiss_kappa(ratings, choice_labels="category") is not None
    assert percent_agreement(ratings) == 0.0
    assert agreement_report(ratings, choice_labels="category")["weighted_strength_kappa"] is None
    # The strength alone never looks at the choice.
    assert fleiss_kappa(ratings, on="strength") is None


def test_choice_strength_chance_term():
    # Response labels: P_e = 1/2 * sum_s p_s^2 (Fleiss) over the strengths.
    rng = random.Random(21)
    ratings, _ = simulate(rng, items=500, raters=range(4), accuracy=0.8, overlap=[2, 3, 4])
    shares = Counter(r.strength for r in ratings)  # every item here has >= 2 ratings
    total = sum(shares.values())
    p_e = 0.5 * sum((c / total) ** 2 for c in shares.values())
    p_bar = percent_agreement(ratings, on="choice_strength")
    assert fleiss_kappa(ratings, on="choice_strength") == pytest.approx(
        (p_bar - p_e) / (1 - p_e), abs=1e-12
    )
    # Category labels: textbook Fleiss on the (slot, strength) pairs.
    slots = slot_labels(ratings)
    cells = sorted({(r.choice, r.strength) for r in slots})
    table = np.zeros((500, len(cells)), dtype=int)
    for r in slots:
        table[r.item, cells.index((r.choice, r.strength))] += 1
    assert fleiss_kappa(slots, on="choice_strength", choice_labels="category") == pytest.approx(
        reference_fleiss(table), abs=1e-12
    )


# ----------------------------------------------------------------------------------------------
# Weighted kappa on the signed strength


def reference_weighted(ratings: Sequence[Rating]) -> float:
    """Quadratic-weighted Fleiss-style kappa by brute force over all pairs."""
    by_item: dict[Hashable, list[Rating]] = {}
    for r in ratings:
        by_item.setdefault(r.item, []).append(r)
    observed, values = [], []
    for group in by_item.values():
        if len(group) < 2:
            continue
        ref = group[-1].choice  # a different orientation from the module's on purpose
        xs = [SIGNED_STRENGTH_SCORES[r.strength] * (1 if r.choice == ref else -1) for r in group]
        diffs = [(x - y) ** 2 for i, x in enumerate(xs) for y in xs[i + 1 :]]
        observed.append(np.mean(diffs))
        values += xs
    symmetric = np.array(values + [-v for v in values], dtype=float)
    expected = np.mean((symmetric[:, None] - symmetric[None, :]) ** 2)
    return 1 - float(np.mean(observed)) / float(expected)


def test_weighted_strength_kappa():
    rng = random.Random(13)
    ratings, _ = simulate(rng, items=300, raters=range(5), accuracy=0.8, overlap=[2, 3, 4])
    assert weighted_strength_kappa(ratings) == pytest.approx(reference_weighted(ratings), abs=1e-9)
    # Invariant to the order of the ratings (which response the module takes as "+").
    shuffled = ratings[:]
    rng.shuffle(shuffled)
    assert weighted_strength_kappa(shuffled) == pytest.approx(weighted_strength_kappa(ratings))

    perfect = [
        Rating(i, r, (i, "ab"[i % 2]), STRENGTHS[i % 4]) for i in range(40) for r in range(3)
    ]
    assert weighted_strength_kappa(perfect) == pytest.approx(1.0)

    # Near misses cost less than opposite votes.
    near = [Rating(1, "A", "x", "significantly_better"), Rating(1, "B", "x", "better")]
    far = [Rating(1, "A", "x", "significantly_better"), Rating(1, "B", "y", "better")]
    filler = [Rating(i, r, "x", "slightly_better") for i in range(2, 6) for r in ("A", "B")]
    assert weighted_strength_kappa(near + filler) > weighted_strength_kappa(far + filler)

    noise = [
        Rating(i, r, (i, rng.choice("ab")), rng.choice(STRENGTHS))
        for i in range(20_000)
        for r in ("A", "B")
    ]
    kappa = weighted_strength_kappa(noise)
    assert kappa is not None and abs(kappa) < 0.03
    assert weighted_strength_kappa([]) is None
    with pytest.raises(ValueError, match="scores lacks"):
        weighted_strength_kappa(ratings, scores={"better": 1})


# ----------------------------------------------------------------------------------------------
# Per-rating summaries


def test_strength_distribution():
    rng = random.Random(1)
    ratings = [Rating(i, 0, "x", rng.choice(STRENGTHS[:3])) for i in range(1000)]
    shares = strength_distribution(ratings)
    assert list(shares) == list(STRENGTHS)
    assert math.fsum(shares.values()) == pytest.approx(1.0)
    assert shares["negligibly_better"] == 0.0
    assert shares["better"] == sum(r.strength == "better" for r in ratings) / 1000
    assert strength_distribution([]) == dict.fromkeys(STRENGTHS, 0.0)


def test_median_seconds_ignores_missing_times():
    ratings = [
        Rating(1, "a", "x", "better", 10.0),
        Rating(2, "a", "x", "better", None),
        Rating(3, "a", "x", "better", 30.0),
        Rating(4, "a", "x", "better", 1000.0),
        Rating(1, "b", "x", "better", 4),
        Rating(2, "b", "x", "better", 6.0),
        Rating(3, "c", "x", "better", None),
    ]
    times = median_seconds(ratings)
    assert times.per_rater == {"a": 30.0, "b": 5.0}
    assert times.overall == 10.0  # median of 4, 6, 10, 30, 1000
    assert times.timed == 5
    empty = median_seconds([Rating(1, "c", "x", "better")])
    assert empty.overall is None and empty.per_rater == {} and empty.timed == 0


# ----------------------------------------------------------------------------------------------
# Validation and empty input


def test_rating_validation():
    with pytest.raises(ValueError, match="strength"):
        Rating(1, 1, "x", "much_better")
    with pytest.raises(ValueError, match="seconds"):
        Rating(1, 1, "x", "better", -1.0)
    with pytest.raises(ValueError, match="seconds"):
        Rating(1, 1, "x", "better", math.nan)
    with pytest.raises(ValueError, match="seconds"):
        Rating(1, 1, "x", "better", math.inf)


def test_a_rater_rating_an_item_twice_is_an_error():
    ratings = [
        Rating(1, "a", "x", "better"),
        Rating(1, "b", "x", "better"),
        Rating(1, "a", "y", "better"),
    ]
    for function in (percent_agreement, fleiss_kappa, cohens_kappa, agreement_report):
        with pytest.raises(ValueError, match="rater 'a' rated item 1 more than once"):
            function(ratings)


def test_bad_arguments():
    ratings = from_pairs([("x", "x")] * 3)
    with pytest.raises(ValueError, match="on must be"):
        percent_agreement(ratings, on="side")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="choice_labels"):
        fleiss_kappa(ratings, choice_labels="sides")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_shared"):
        cohens_kappa(ratings, min_shared=0)
    with pytest.raises(ValueError, match="min_shared"):
        agreement_report(ratings, min_shared=True)  # type: ignore[arg-type]


def test_empty_input():
    for on in ATTRIBUTES:
        assert percent_agreement([], on=on) is None
        assert cohens_kappa([], on=on) is None
        assert fleiss_kappa([], on=on) is None
    assert pairwise_cohens_kappa([]) == {}
    assert weighted_strength_kappa([]) is None
    report = agreement_report(iter([]), gold={})
    json.dumps(report, allow_nan=False)
    assert report["ratings"] == report["items"] == report["raters"] == 0
    assert report["agreement"]["choice"] == {
        "percent_agreement": None,
        "cohens_kappa": None,
        "cohens_kappa_pairs": 0,
        "fleiss_kappa": None,
    }
    assert report["gold"] == {"ratings": 0, "correct": 0, "accuracy": None, "per_rater": {}}
    assert report["seconds"] == {"median": None, "timed": 0, "per_rater": {}}
    assert report["strength_distribution"] == dict.fromkeys(STRENGTHS, 0.0)


# ----------------------------------------------------------------------------------------------
# The report


def test_agreement_report_matches_the_functions_and_is_json():
    rng = random.Random(31)
    ratings, truth = simulate(rng, items=1500, raters=range(6), accuracy=0.8, overlap=[1, 2, 3])
    gold = {i: truth[i] for i in range(0, 1500, 5)}
    report = agreement_report(iter(ratings), gold)  # any iterable, not only a list
    assert json.loads(json.dumps(report, allow_nan=False)) == report

    assert report["ratings"] == len(ratings)
    assert report["items"] == 1500
    assert report["raters"] == 6
    overlapped = [i for i, c in Counter(r.item for r in ratings).items() if c > 1]
    assert report["overlapped_items"] == len(overlapped)
    assert report["choice_labels"] == "response" and report["min_shared"] == 10
    for on in ATTRIBUTES:
        section = report["agreement"][on]
        assert section["percent_agreement"] == pytest.approx(percent_agreement(ratings, on=on))
        assert section["fleiss_kappa"] == pytest.approx(fleiss_kappa(ratings, on=on))
        assert section["cohens_kappa"] == pytest.approx(cohens_kappa(ratings, on=on))
        assert section["cohens_kappa_pairs"] == 15
    assert report["weighted_strength_kappa"] == pytest.approx(weighted_strength_kappa(ratings))

    scores = gold_accuracy(ratings, gold)
    assert report["gold"]["per_rater"] == {
        str(rater): {"correct": s.correct, "total": s.total, "accuracy": s.accuracy}
        for rater, s in scores.items()
    }
    assert report["gold"]["ratings"] == sum(s.total for s in scores.values())
    assert report["gold"]["accuracy"] == pytest.approx(0.8, abs=0.05)
    times = median_seconds(ratings)
    assert report["seconds"]["median"] == times.overall
    assert report["seconds"]["per_rater"] == {str(k): v for k, v in times.per_rater.items()}
    assert report["strength_distribution"] == strength_distribution(ratings)
    assert agreement_report(ratings)["gold"] is None

    categorical = agreement_report(slot_labels(ratings), choice_labels="category")
    assert categorical["agreement"]["choice"]["fleiss_kappa"] == pytest.approx(
        fleiss_kappa(slot_labels(ratings), choice_labels="category")
    )


def test_agreement_report_on_300k_ratings_is_fast():
    rng = random.Random(0)
    raters = [f"annotator-{k}" for k in range(60)]
    ratings = []
    gold = {}
    for item in range(100_000):
        better = rng.random() < 0.8
        if item % 20 == 0:
            gold[item] = (item, "a")
        for rater in rng.sample(raters, 3):
            choice = (item, "a") if (rng.random() < 0.8) == better else (item, "b")
            ratings.append(Rating(item, rater, choice, rng.choice(STRENGTHS), rng.random() * 60))
    assert len(ratings) == 300_000
    start = time.perf_counter()
    report = agreement_report(ratings, gold)
    elapsed = time.perf_counter() - start
    assert report["overlapped_items"] == 100_000
    assert elapsed < 10, f"agreement_report took {elapsed:.1f} s on 300,000 ratings"
