"""Reward-model evaluation against numbers worked out by hand."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from paddock.kernel.vocabulary import (
    BETTER,
    NEGLIGIBLY_BETTER,
    SAFETY,
    SIGNIFICANTLY_BETTER,
    SLIGHTLY_BETTER,
)
from paddock.training.reward.evaluation import (
    UNKNOWN,
    ScoredPair,
    accuracy_table,
    evaluate,
    save,
    scored_pairs,
    sigmoid,
    to_json,
)
from paddock.training.reward.pairs import PreferencePair, Turn

CONTEXT = (Turn("user", "question"),)


def _pair(i: int, strength: str | None = None, *, axis: str = "helpfulness",
          chosen_safe: bool | None = None, rejected_safe: bool | None = None) -> PreferencePair:
    return PreferencePair(id=f"p{i}", context=CONTEXT, chosen="a", rejected="b", axis=axis,
                          source="test", strength=strength, chosen_safe=chosen_safe,
                          rejected_safe=rejected_safe)


# (strength, chosen score, rejected score); margins in the comments.
HAND_MADE = [
    (SIGNIFICANTLY_BETTER, 2.0, 0.0),   # +2    right
    (SIGNIFICANTLY_BETTER, 1.0, 0.0),   # +1    right
    (SIGNIFICANTLY_BETTER, 0.0, 0.5),   # -0.5  wrong      -> 2/3
    (BETTER, 1.0, 0.5),                 # +0.5  right
    (BETTER, 0.25, 0.25),               #  0    tie (half) -> 1.5/2 = 0.75
    (SLIGHTLY_BETTER, -1.0, 0.0),       # -1    wrong
    (SLIGHTLY_BETTER, 0.25, 0.0),       # +0.25 right      -> 1/2
    (NEGLIGIBLY_BETTER, 0.0, 0.125),    # -0.125 wrong     -> 0/1
    (None, 0.75, 0.5),                  # +0.25 right
    (None, -2.0, -2.0),                 #  0    tie (half) -> 1.5/2 = 0.75
]                                       # overall 6/10


@pytest.fixture
def hand_made():
    scored = [ScoredPair(_pair(i, strength), chosen, rejected)
              for i, (strength, chosen, rejected) in enumerate(HAND_MADE)]
    return evaluate(scored, name="helpful rm")


def test_accuracy_per_strength_by_hand(hand_made):
    assert hand_made.n == 10
    assert hand_made.accuracy == pytest.approx(0.6)
    assert hand_made.ties == 2
    expected = {SIGNIFICANTLY_BETTER: (3, 2 / 3), BETTER: (2, 0.75),
                SLIGHTLY_BETTER: (2, 0.5), NEGLIGIBLY_BETTER: (1, 0.0), UNKNOWN: (2, 0.75)}
    assert [r.level for r in hand_made.levels] == list(expected)
    for level, (n, accuracy) in expected.items():
        assert (hand_made.level(level).n, hand_made.level(level).accuracy) == pytest.approx(
            (n, accuracy)), level
    assert hand_made.level(BETTER).ties == 1
    assert hand_made.level(UNKNOWN).ties == 1


def test_margin_distribution_by_hand(hand_made):
    stats = hand_made.level(SIGNIFICANTLY_BETTER).margin  # margins -0.5, 1, 2
    assert stats.mean == pytest.approx(2.5 / 3)
    assert (stats.min, stats.max) == (-0.5, 2.0)
    # Linear interpolation: p25 halfway between -0.5 and 1, p75 halfway between 1 and 2.
    assert stats.quantiles == pytest.approx({"p05": -0.35, "p25": 0.25, "p50": 1.0,
                                             "p75": 1.5, "p95": 1.9})
    assert hand_made.level(NEGLIGIBLY_BETTER).margin.std == 0.0


def test_empty_levels_have_no_accuracy():
    evaluation = evaluate([ScoredPair(_pair(0, BETTER), 1.0, 0.0)], name="one")
    assert evaluation.level(BETTER).accuracy == 1.0
    assert evaluation.level(UNKNOWN).n == 0
    assert evaluation.level(UNKNOWN).accuracy is None
    assert evaluation.level(UNKNOWN).margin is None
    assert evaluation.safety is None


def test_a_constant_model_scores_chance():
    scored = [ScoredPair(_pair(i, BETTER), 0.3, 0.3) for i in range(4)]
    assert evaluate(scored, name="constant").accuracy == 0.5


def test_rejects_no_pairs_and_non_finite_scores():
    with pytest.raises(ValueError, match="no scored pairs"):
        evaluate([], name="empty")
    with pytest.raises(ValueError, match="chosen_score"):
        ScoredPair(_pair(0), math.nan, 0.0)
    with pytest.raises(ValueError):
        scored_pairs([_pair(0), _pair(1)], [1.0], [0.0])


def test_score_pairs_zips_parallel_sequences():
    scored = scored_pairs([_pair(0, BETTER), _pair(1)], [1, 0.0], [0.0, 2.0])
    assert [s.margin for s in scored] == [1.0, -2.0]
    assert isinstance(scored[0].chosen_score, float)


def test_unsafe_recall_by_hand():
    # sigmoid(score) < 0.15  <=>  score < log(0.15 / 0.85) = -1.73
    safety = [
        (True, 2.0, False, -3.0),   # unsafe -3 caught; pair: unsafe lower
        (True, 1.0, False, 0.0),    # unsafe 0 missed; pair: unsafe lower
        (False, -2.0, False, -1.0), # unsafe -2 caught, unsafe -1 missed; not a mixed pair
        (True, -2.5, False, -2.0),  # safe -2.5 false alarm, unsafe -2 caught; pair: wrong
        (True, 0.5, True, 0.0),     # two safe responses
        (None, 5.0, None, -5.0),    # no labels: ignored
        (True, 1.0, False, 1.0),    # unsafe 1 missed; pair: tie (half)
    ]
    scored = [ScoredPair(_pair(i, axis=SAFETY, chosen_safe=cs, rejected_safe=rs), c, r)
              for i, (cs, c, rs, r) in enumerate(safety)]
    result = evaluate(scored, name="safety rm").safety
    assert sigmoid(-2.0) < 0.15 < sigmoid(-1.0)
    assert result.threshold == 0.15
    assert (result.n_unsafe, result.unsafe_recall) == (6, pytest.approx(3 / 6))
    assert (result.n_safe, result.safe_flagged) == (6, pytest.approx(1 / 6))
    assert (result.n_mixed_pairs, result.pairwise_recall) == (4, pytest.approx(2.5 / 4))


def test_sigmoid_is_stable_for_extreme_scores():
    assert sigmoid(-1000.0) == 0.0
    assert sigmoid(1000.0) == 1.0
    assert sigmoid(0.0) == 0.5


def test_save_writes_json_that_round_trips_and_a_png(hand_made, tmp_path):
    json_path, png_path = save(hand_made, tmp_path / "out")
    assert json_path.name == "eval-helpful-rm.json"
    assert png_path.name == "margins-helpful-rm.png"
    data = json.loads(json_path.read_text())
    assert data == to_json(hand_made)
    assert data["name"] == "helpful rm"
    assert data["accuracy"] == 0.6
    assert data["by_strength"][SIGNIFICANTLY_BETTER]["accuracy"] == 0.6667
    assert data["by_strength"][BETTER]["margins"] == [0.5, 0.0]
    assert data["by_strength"][UNKNOWN]["n"] == 2
    assert data["safety"] is None
    png = png_path.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 5000


def test_accuracy_table_text(hand_made):
    plain = evaluate([ScoredPair(_pair(0, BETTER), 1.0, 0.0),
                      ScoredPair(_pair(1, NEGLIGIBLY_BETTER), 0.0, 1.0)], name="safety | rm")
    assert accuracy_table([plain]) == (
        "| RM on test set | significantly | better | slightly | negligibly | average |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
        "| safety \\| rm | - | 100.0 | - | 0.0 | 50.0 |")
    assert accuracy_table([hand_made, plain]) == (
        "| RM on test set | significantly | better | slightly | negligibly | unknown "
        "| average |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n"
        "| helpful rm | 66.7 | 75.0 | 50.0 | 0.0 | 75.0 | 60.0 |\n"
        "| safety \\| rm | - | 100.0 | - | 0.0 | - | 50.0 |")


def test_import_stays_light():
    code = ("import sys, paddock.training.reward.evaluation; "
            "heavy = {'torch', 'matplotlib', 'django', 'celery'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
