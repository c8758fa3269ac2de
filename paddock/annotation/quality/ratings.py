"""What a rating is, and the single pass that groups ratings by comparison.

Every statistic of :mod:`paddock.annotation.quality` starts from :func:`_group` and scores
with a :class:`_Measure`: the conventions (``on``, ``choice_labels``) are decided here once.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Final, Literal, get_args

from paddock.kernel.vocabulary import STRENGTHS

# STRENGTHS, the scale strongest first, is the kernel's (Llama 2, section 3.2.1).
_STRENGTH_SET: Final = frozenset(STRENGTHS)

Attribute = Literal["choice", "strength", "choice_strength"]
"""What agreement is measured on; see the package docstring."""

ATTRIBUTES: Final[tuple[Attribute, ...]] = get_args(Attribute)

ChoiceLabels = Literal["response", "category"]
"""How to read :attr:`Rating.choice` when estimating chance agreement; see the package docstring."""


@dataclass(frozen=True, slots=True)
class Rating:
    """One judgement, reduced to what the statistics need.

    Attributes:
        item: The comparison's id.
        rater: The annotator's id.
        choice: The identity of the chosen *response* (not the screen side, which is randomised per
            annotator). See ``choice_labels`` in the package docstring.
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
