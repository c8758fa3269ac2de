"""The reward models' data mixes: exact proportions, determinism, no duplicates."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from paddock.training.reward.mixes import helpfulness_mix, safety_mix, split_by_hash
from paddock.training.reward.pairs import PreferencePair, Turn

ROOT = Path(__file__).resolve().parents[2]


def pairs(n: int, axis: str, source: str) -> list[PreferencePair]:
    return [PreferencePair(id=f"{source}:{i}", context=(Turn("user", f"q{i}"),),
                           chosen="good", rejected="bad", axis=axis, source=source)
            for i in range(n)]


def shuffled(items: list, seed: int) -> list:
    items = list(items)
    random.Random(seed).shuffle(items)
    return items


def ids(items) -> list[str]:
    return [pair.id for pair in items]


@pytest.fixture(scope="module")
def pools() -> dict[str, list[PreferencePair]]:
    return {
        "meta_helpful": pairs(1000, "helpfulness", "paddock:b1"),
        "meta_safety": pairs(2000, "safety", "paddock:b2"),
        "open_helpful": pairs(1000, "helpfulness", "hh-rlhf:helpful-base"),
        "harmless": pairs(700, "safety", "hh-rlhf:harmless-base"),
    }


# --------------------------------------------------------------------------- helpfulness


def test_helpfulness_mix_adds_an_equal_amount_of_other_data(pools):
    others = pools["meta_safety"] + pools["open_helpful"]
    mix = helpfulness_mix(pools["meta_helpful"], others, seed=3)
    assert len(mix) == 2000
    assert len(set(ids(mix))) == 2000
    assert set(ids(pools["meta_helpful"])) <= set(ids(mix))
    assert len(set(ids(mix)) & set(ids(others))) == 1000
    record = mix.record
    assert record["taken"] == {"helpfulness": 1000, "others": 1000}
    assert (record["requested_others"], record["shortfall"], record["seed"]) == (1000, 0, 3)
    assert record["pairs"] == 2000
    assert sum(record["by_source"].values()) == sum(record["by_axis"].values()) == 2000
    assert record["by_source"]["paddock:b1"] == 1000
    assert record["inputs"]["others"]["by_source"] == {
        "hh-rlhf:helpful-base": 1000, "paddock:b2": 2000}
    json.dumps(record)  # goes into the run's record as it is


def test_helpfulness_mix_samples_others_uniformly(pools):
    others = pools["meta_safety"] + pools["open_helpful"]  # 2:1
    for seed in range(5):
        record = helpfulness_mix(pools["meta_helpful"], others, seed=seed).record
        safety = record["by_source"]["paddock:b2"]
        # Hypergeometric: mean 666.7, sd about 12.2; five sd either side.
        assert abs(safety - 2000 / 3) < 61, (seed, safety)


@pytest.mark.parametrize(("ratio", "helpful", "expected"), [
    (0.5, 1000, 500), (0.5, 3, 2), (2.0, 1000, 2000), (0.0, 1000, 0), (0.1, 15, 2),
])
def test_helpfulness_mix_ratio_is_exact(pools, ratio, helpful, expected):
    others = pools["meta_safety"] + pools["open_helpful"]
    mix = helpfulness_mix(pools["meta_helpful"][:helpful], others, ratio=ratio)
    assert mix.record["taken"]["others"] == expected
    assert len(mix) == helpful + expected


def test_helpfulness_mix_takes_all_others_when_short(pools):
    mix = helpfulness_mix(pools["meta_helpful"], pools["harmless"], seed=1)
    assert len(mix) == 1700
    assert (mix.record["requested_others"], mix.record["shortfall"]) == (1000, 300)


def test_helpfulness_mix_order_is_shuffled_not_grouped(pools):
    mix = helpfulness_mix(pools["meta_helpful"], pools["meta_safety"], seed=0)
    positions = [i for i, pair in enumerate(mix) if pair.axis == "safety"]
    assert abs(sum(positions) / len(positions) - len(mix) / 2) < 60
    assert ids(mix) != sorted(ids(mix))


# --------------------------------------------------------------------------- safety


def test_safety_mix_is_ninety_ten(pools):
    safety = pools["meta_safety"][:200] + pools["harmless"]  # 900 safety pairs
    helpfulness = pools["meta_helpful"] + pools["open_helpful"]
    mix = safety_mix(safety, helpfulness, seed=7)
    assert len(mix) == 1000
    assert Counter(pair.axis for pair in mix) == {"safety": 900, "helpfulness": 100}
    assert set(ids(safety)) <= set(ids(mix))
    assert len(set(ids(mix))) == 1000
    assert mix.record["helpfulness_share"] == 0.1
    assert mix.record["taken"] == {"safety": 900, "helpfulness": 100}
    assert mix.record["by_source"]["hh-rlhf:harmless-base"] == 700


@pytest.mark.parametrize(("share", "safety", "expected"), [
    (0.1, 1000, 111), (0.2, 800, 200), (0.5, 300, 300), (0.0, 500, 0), (0.25, 3, 1),
])
def test_safety_mix_share_is_exact(pools, share, safety, expected):
    helpfulness = pools["meta_helpful"] + pools["open_helpful"]
    mix = safety_mix(pools["meta_safety"][:safety], helpfulness, helpfulness_share=share)
    assert mix.record["taken"]["helpfulness"] == expected


def test_safety_mix_takes_all_helpfulness_when_short(pools):
    mix = safety_mix(pools["meta_safety"], pools["meta_helpful"][:50])
    assert mix.record["shortfall"] == 222 - 50
    assert mix.record["helpfulness_share"] == pytest.approx(50 / 2050)


# --------------------------------------------------------------------------- both


@pytest.mark.parametrize("build", ["helpfulness", "safety"])
def test_mixes_do_not_depend_on_input_order(pools, build):
    def make(shuffle_seed: int | None, seed: int = 11):
        helpful = pools["meta_helpful"]
        others = pools["meta_safety"] + pools["open_helpful"]
        safety = pools["meta_safety"] + pools["harmless"]
        if shuffle_seed is not None:
            helpful, others, safety = (shuffled(x, shuffle_seed)
                                       for x in (helpful, others, safety))
        if build == "helpfulness":
            return helpfulness_mix(helpful, others, seed=seed)
        return safety_mix(safety, helpful + pools["open_helpful"], seed=seed)

    reference = make(None)
    for shuffle_seed in (1, 2):
        again = make(shuffle_seed)
        assert ids(again) == ids(reference)
        assert again.record == reference.record
    other_seed = make(None, seed=12)
    assert set(ids(other_seed)) != set(ids(reference))


def test_mixes_are_the_same_under_any_python_hash_seed(pools):
    script = (
        "import json\n"
        "from tests.training.test_reward_mixes import pairs\n"
        "from paddock.training.reward.mixes import helpfulness_mix, split_by_hash\n"
        "h = pairs(300, 'helpfulness', 'a'); o = pairs(900, 'safety', 'b')\n"
        "mix = helpfulness_mix(h, o, seed=5)\n"
        "test = split_by_hash(h + o, test_size=50).test\n"
        "print(json.dumps([[p.id for p in mix], [p.id for p in test]]))\n"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True, timeout=60)
        outputs.add(done.stdout)
    [output] = outputs
    mix_ids, test_ids = json.loads(output)
    here = pairs(300, "helpfulness", "a"), pairs(900, "safety", "b")
    assert mix_ids == ids(helpfulness_mix(*here, seed=5))
    assert test_ids == ids(split_by_hash(here[0] + here[1], test_size=50).test)


def test_mixes_refuse_duplicate_ids_and_wrong_axes(pools):
    with pytest.raises(ValueError, match="more than once"):
        helpfulness_mix(pools["meta_helpful"], pools["meta_helpful"][:10])
    with pytest.raises(ValueError, match="not on the helpfulness axis"):
        helpfulness_mix(pools["meta_safety"], pools["meta_helpful"])
    with pytest.raises(ValueError, match="not on the safety axis"):
        safety_mix(pools["meta_helpful"], pools["open_helpful"])
    with pytest.raises(ValueError, match="helpfulness_share"):
        safety_mix(pools["meta_safety"], pools["meta_helpful"], helpfulness_share=1.0)
    with pytest.raises(ValueError, match="ratio"):
        helpfulness_mix(pools["meta_helpful"], pools["meta_safety"], ratio=-1)


# --------------------------------------------------------------------------- split


def test_split_by_size_is_exact_disjoint_and_order_free(pools):
    everything = pools["meta_helpful"] + pools["meta_safety"]
    split = split_by_hash(everything, test_size=300)
    assert len(split.test) == 300
    assert len(split.train) == 2700
    assert not set(ids(split.test)) & set(ids(split.train))
    worst_test = max(pair.stable_hash for pair in split.test)
    assert all(pair.stable_hash > worst_test for pair in split.train)
    again = split_by_hash(shuffled(everything, 4), test_size=300)
    assert set(ids(again.test)) == set(ids(split.test))
    assert ids(split.test) == [i for i in ids(everything) if i in set(ids(split.test))]


def test_split_by_fraction_keeps_each_pair_on_its_side_as_data_grows(pools):
    small = pools["meta_helpful"]
    large = small + pools["meta_safety"] + pools["open_helpful"]
    test_small = set(ids(split_by_hash(small, test_fraction=0.1).test))
    split = split_by_hash(large, test_fraction=0.1)
    assert test_small == set(ids(split.test)) & set(ids(small))
    assert abs(len(split.test) - 400) < 5 * 19  # binomial sd about 19
    assert len(split.test) + len(split.train) == 4000
    assert split_by_hash(large, test_fraction=0.0).test == []
    assert len(split_by_hash(large, test_fraction=1.0).test) == 4000


def test_split_needs_exactly_one_size(pools):
    with pytest.raises(ValueError, match="exactly one"):
        split_by_hash(pools["meta_helpful"])
    with pytest.raises(ValueError, match="exactly one"):
        split_by_hash(pools["meta_helpful"], test_size=3, test_fraction=0.1)
    with pytest.raises(ValueError, match="test_fraction"):
        split_by_hash(pools["meta_helpful"], test_fraction=1.5)


def _overlapped(comparisons: int, judgements: int) -> list[PreferencePair]:
    """Several annotators' judgements of each comparison, as overlap gives them."""
    return [
        PreferencePair(id=f"paddock:{c}-{j}", context=(), chosen=f"a{c}", rejected=f"b{c}",
                       axis="helpfulness", source="paddock:week-1",
                       meta={"comparison_id": c})
        for c in range(comparisons) for j in range(judgements)
    ]


@pytest.mark.parametrize("how", [{"test_fraction": 0.2}, {"test_size": 100}])
def test_grouped_split_keeps_each_comparison_on_one_side(how):
    pairs = _overlapped(300, 3)
    by_comparison = lambda pair: pair.meta["comparison_id"]  # noqa: E731
    split = split_by_hash(pairs, group=by_comparison, **how)
    train = {by_comparison(p) for p in split.train}
    test = {by_comparison(p) for p in split.test}
    assert not train & test and len(train | test) == 300
    assert len(split.test) % 3 == 0  # whole groups
    if "test_size" in how:
        assert 100 <= len(split.test) < 103
    else:
        assert 0.14 < len(split.test) / len(pairs) < 0.26
    again = split_by_hash(list(reversed(pairs)), group=by_comparison, **how)
    assert {p.id for p in again.test} == {p.id for p in split.test}
    ungrouped = split_by_hash(pairs, **how)
    straddling = {by_comparison(p) for p in ungrouped.train} & {
        by_comparison(p) for p in ungrouped.test}
    assert straddling  # what the group key prevents
