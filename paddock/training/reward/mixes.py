"""The two reward models' training mixes (Llama 2 paper, section 3.2.2) and a stable split.

- Helpfulness RM: all helpfulness data plus an equal amount (``ratio``) sampled from the
  safety and open-source data.
- Safety RM: all safety data (which includes Anthropic Harmless) plus helpfulness data so
  that helpfulness makes ``helpfulness_share`` (10%) of the mix.

Every draw is a function of the pair ids and the seed only: a pair is sampled when its
seeded SHA-256 key is among the smallest, and the mix is ordered by another seeded key.
So the same inputs give the same mix in any input order, on any machine and under any
``PYTHONHASHSEED``; and adding pairs to a pool changes a sample only where the new pairs
win a place. Each :class:`Mix` carries a JSON-able ``record`` of exactly what went in
(counts per source, axis and strength, ratios, seed, a digest of the ids), for the run's
record beside the model.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, NamedTuple

from paddock.kernel.vocabulary import HELPFULNESS, SAFETY
from paddock.training.recipe import HELPFULNESS_MIX_OTHER_RATIO, SAFETY_MIX_HELPFULNESS_SHARE
from paddock.training.reward.pairs import PreferencePair


@dataclass(frozen=True)
class Mix:
    """The pairs of one mix, in their training order, and the record of how it was drawn."""

    pairs: list[PreferencePair]
    record: dict[str, Any] = field(compare=False)

    def __len__(self) -> int:
        return len(self.pairs)

    def __iter__(self) -> Iterator[PreferencePair]:
        return iter(self.pairs)


class Split(NamedTuple):
    train: list[PreferencePair]
    test: list[PreferencePair]


def helpfulness_mix(helpfulness: Sequence[PreferencePair], others: Sequence[PreferencePair],
                    ratio: float = HELPFULNESS_MIX_OTHER_RATIO, seed: int = 0) -> Mix:
    """All ``helpfulness`` pairs plus ``round(ratio * len(helpfulness))`` from ``others``.

    ``others`` is the safety and open-source pool, sampled uniformly without replacement;
    when it holds fewer than asked, all of it goes in and ``record["shortfall"]`` says by
    how many. ``helpfulness`` must all be on the helpfulness axis (a swapped argument
    would otherwise train the wrong model without a sound).
    """
    _check_ratio("ratio", ratio, upper=None)
    _check_axis(helpfulness, HELPFULNESS, "helpfulness")
    _check_unique(helpfulness, others)
    wanted = _round_half_up(Fraction(str(ratio)) * len(helpfulness))
    taken = _sample(others, wanted, seed)
    record = {
        "mix": "helpfulness",
        "ratio": ratio,
        "inputs": {"helpfulness": _describe(helpfulness), "others": _describe(others)},
        "taken": {"helpfulness": len(helpfulness), "others": len(taken)},
        "requested_others": wanted,
        "shortfall": wanted - len(taken),
    }
    return _finish([*helpfulness, *taken], record, seed)


def safety_mix(safety: Sequence[PreferencePair], helpfulness: Sequence[PreferencePair],
               helpfulness_share: float = SAFETY_MIX_HELPFULNESS_SHARE, seed: int = 0) -> Mix:
    """All ``safety`` pairs plus helpfulness pairs making ``helpfulness_share`` of the mix.

    With share s and S safety pairs that is ``round(s * S / (1 - s))`` helpfulness pairs
    (100 for 900 at the default 10%), sampled uniformly without replacement; all of them
    (and ``record["shortfall"]``) when there are fewer. ``record["helpfulness_share"]``
    is the share actually reached.
    """
    _check_ratio("helpfulness_share", helpfulness_share, upper=1)
    _check_axis(safety, SAFETY, "safety")
    _check_axis(helpfulness, HELPFULNESS, "helpfulness")
    _check_unique(safety, helpfulness)
    share = Fraction(str(helpfulness_share))
    wanted = _round_half_up(share * len(safety) / (1 - share))
    taken = _sample(helpfulness, wanted, seed)
    total = len(safety) + len(taken)
    record = {
        "mix": "safety",
        "requested_helpfulness_share": helpfulness_share,
        "helpfulness_share": len(taken) / total if total else 0.0,
        "inputs": {"safety": _describe(safety), "helpfulness": _describe(helpfulness)},
        "taken": {"safety": len(safety), "helpfulness": len(taken)},
        "requested_helpfulness": wanted,
        "shortfall": wanted - len(taken),
    }
    return _finish([*safety, *taken], record, seed)


def split_by_hash(pairs: Sequence[PreferencePair], *, test_size: int | None = None,
                  test_fraction: float | None = None,
                  group: Callable[[PreferencePair], str] | None = None) -> Split:
    """A train/test split that depends on the pair ids only, never on order or run.

    ``test_size``: exactly that many pairs, those with the smallest ``stable_hash``.
    ``test_fraction``: every pair whose ``stable_hash`` falls below that fraction of
    2**64, so about that share; a pair's side then never changes as data is added, and
    no pair of an earlier test set leaks into a later training set. Both keep the input
    order within each side. Give exactly one of the two.

    ``group``: pairs with the same key go to the same side, decided by the hash of the
    key. Overlapped judgements of one comparison (or sibling pairs of one OpenAssistant
    prompt) would otherwise sit on both sides and flatter the test accuracy. With
    ``test_size``, whole groups are taken in hash order until the size is reached, so
    the test side may exceed it by less than one group.
    """
    if (test_size is None) == (test_fraction is None):
        raise ValueError("give exactly one of test_size and test_fraction")
    if test_fraction is not None:
        _check_ratio("test_fraction", test_fraction, upper=1, closed=True)
        threshold = Fraction(str(test_fraction)) * 2**64
        if group is None:
            return _partition(pairs, lambda pair: pair.stable_hash < threshold)
        return _partition(pairs, lambda pair: _key_hash(group(pair)) < threshold)
    if test_size is None or test_size < 0:
        raise ValueError(f"test_size must be >= 0, not {test_size}")
    if group is None:
        held = {id(pair) for pair in heapq.nsmallest(test_size, pairs, key=_hash_order)}
        return _partition(pairs, lambda pair: id(pair) in held)
    sizes: dict[str, int] = {}
    for pair in pairs:
        key = str(group(pair))
        sizes[key] = sizes.get(key, 0) + 1
    held_groups, taken = set(), 0
    for key in sorted(sizes, key=lambda k: (_key_hash(k), k)):
        if taken >= test_size:
            break
        held_groups.add(key)
        taken += sizes[key]
    return _partition(pairs, lambda pair: str(group(pair)) in held_groups)


def _key_hash(key: str) -> int:
    """The same 64 bits of SHA-256 that ``PreferencePair.stable_hash`` takes of an id."""
    return int.from_bytes(hashlib.sha256(str(key).encode()).digest()[:8], "big")


# --------------------------------------------------------------------------- helpers


def _partition(pairs: Sequence[PreferencePair],
               is_test: Callable[[PreferencePair], bool]) -> Split:
    split = Split([], [])
    for pair in pairs:
        (split.test if is_test(pair) else split.train).append(pair)
    return split


def _hash_order(pair: PreferencePair) -> tuple[int, str]:
    return pair.stable_hash, pair.id


def _seeded_key(purpose: str, seed: int, pair: PreferencePair) -> tuple[bytes, str]:
    """A per-seed pseudo-random rank of a pair, the same everywhere (not ``hash()``)."""
    return hashlib.sha256(f"paddock-mix:{purpose}:{seed}:{pair.id}".encode()).digest(), pair.id


def _sample(pool: Sequence[PreferencePair], k: int, seed: int) -> list[PreferencePair]:
    """``k`` pairs drawn uniformly without replacement (all of them if fewer)."""
    if k >= len(pool):
        return list(pool)
    return heapq.nsmallest(k, pool, key=lambda pair: _seeded_key("sample", seed, pair))


def _finish(pairs: list[PreferencePair], record: dict[str, Any], seed: int) -> Mix:
    pairs.sort(key=lambda pair: _seeded_key("order", seed, pair))
    record.update(seed=seed, **_describe(pairs),
                  ids_sha256=hashlib.sha256("\n".join(sorted(p.id for p in pairs))
                                            .encode()).hexdigest())
    return Mix(pairs, record)


def _describe(pairs: Sequence[PreferencePair]) -> dict[str, Any]:
    return {
        "pairs": len(pairs),
        "by_source": _counts(pair.source for pair in pairs),
        "by_axis": _counts(pair.axis for pair in pairs),
        "by_strength": _counts(pair.strength or "none" for pair in pairs),
    }


def _counts(values: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def _round_half_up(value: Fraction) -> int:
    """Round as people do (2.5 -> 3); ``round`` would give 2 and surprise a reader."""
    return math.floor(value + Fraction(1, 2))


def _check_ratio(name: str, value: float, *, upper: float | None,
                 closed: bool = False) -> None:
    too_big = upper is not None and (value > upper if closed else value >= upper)
    if not math.isfinite(value) or value < 0 or too_big:
        bound = "" if upper is None else f" and {'<=' if closed else '<'} {upper}"
        raise ValueError(f"{name} must be >= 0{bound}, not {value}")


def _check_axis(pairs: Sequence[PreferencePair], axis: str, name: str) -> None:
    wrong = [pair.id for pair in pairs if pair.axis != axis]
    if wrong:
        raise ValueError(f"{name}: {len(wrong)} pairs are not on the {axis} axis "
                         f"(first: {', '.join(wrong[:3])})")


def _check_unique(*groups: Sequence[PreferencePair]) -> None:
    """Duplicate ids would be drawn twice and break the order-free sampling: refuse them."""
    seen = Counter(pair.id for group in groups for pair in group)
    duplicates = sorted(pair_id for pair_id, n in seen.items() if n > 1)
    if duplicates:
        raise ValueError(f"{len(duplicates)} pair ids occur more than once in the mix's "
                         f"inputs (first: {', '.join(duplicates[:3])})")
