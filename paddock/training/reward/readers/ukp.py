"""UKP ConvArg1: two same-stance arguments and the crowd's votes between them."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

from paddock.kernel.vocabulary import (
    BETTER,
    HELPFULNESS,
    NEGLIGIBLY_BETTER,
    SIGNIFICANTLY_BETTER,
    SLIGHTLY_BETTER,
)
from paddock.training.reward.pairs import PreferencePair, Turn
from paddock.training.reward.readers.reader import Malformed, PairReader, Parsed, Skip, get_field

UKP_SOURCE = "ukp-convarg1"
UKP_PROMPT = "Debate: {title}\nStance: {stance}\nWrite a convincing argument for this stance."


def ukp_prompt(title: str, stance: str) -> str:
    """The single user turn both arguments answer.

    Phrased as a request for an argument, not as "which is more convincing?": the reward
    model scores a response to a request, and the arguments are the responses here.
    """
    return UKP_PROMPT.format(title=title.strip(), stance=stance.strip())


def ukp_strength(winner: int, loser: int, equal: int = 0) -> str:
    """Strength from the crowd votes of one pair, with ``winner > loser``.

    The rule is the winner's share of all votes, ``winner / (winner + loser + equal)``:
    1 (unanimous, 5-0-0 or 4-0-0) -> significantly_better; >= 4/5 (4-1-0, 4-0-1) ->
    better; >= 3/5 (3-2-0, 3-1-1, 3-0-2, and 3 of 4) -> slightly_better; below
    (2-1-2, 2-0-3, 1-0-4, ...) -> negligibly_better. An "equal" vote is a vote withheld
    from the winner: it weakens the preference exactly as much as a vote for the loser
    would, but can never flip it (only ``winner > loser`` decides the chosen side, and a
    tie there is skipped, not scored).
    """
    if winner <= loser:
        raise ValueError(f"the winner needs more votes than the loser, got {winner}-{loser}")
    share = Fraction(winner, winner + loser + equal)
    if share == 1:
        return SIGNIFICANTLY_BETTER
    if share >= Fraction(4, 5):
        return BETTER
    return SLIGHTLY_BETTER if share >= Fraction(3, 5) else NEGLIGIBLY_BETTER


def read_ukp_convarg(path: str | Path, source: str = UKP_SOURCE, *,
                     strict: bool = False) -> PairReader:
    """UKP ConvArg1 ``full_votes.jsonl.gz``: two same-stance arguments and crowd votes.

    Chosen is the argument with more votes, strength by :func:`ukp_strength`, axis
    helpfulness, context one user turn from :func:`ukp_prompt`. Skipped: ``tie`` (as
    many votes for a1 as for a2, including all-"equal"), ``identical`` (the same text
    twice), ``different stances`` (no shared prompt), ``empty response``.
    ``id`` is ``{source}:{pair_id}``; ``meta`` keeps topic, votes, gold label, in_strict.
    """
    def parse(record: dict[str, Any], number: int) -> Parsed:
        return Parsed([_ukp_record(record, source)])

    return PairReader(path, parse, source=source, strict=strict)


def _ukp_record(record: dict[str, Any], source: str) -> PreferencePair | Skip:
    votes = get_field(record, "votes", dict)
    a1, a2 = _votes(votes, "a1"), _votes(votes, "a2")
    equal = _votes(votes, "equal", optional=True)
    texts = {"a1": _ukp_text(get_field(record, "a1_text", str)),
             "a2": _ukp_text(get_field(record, "a2_text", str))}
    stance = get_field(record, "a1_stance", str)
    pair_id = get_field(record, "pair_id", str)
    title = get_field(record, "debate_title", str)
    if stance.strip() != get_field(record, "a2_stance", str).strip():
        return Skip("different stances")
    if a1 == a2:
        return Skip("tie")
    if not texts["a1"] or not texts["a2"]:
        return Skip("empty response")
    if texts["a1"] == texts["a2"]:
        return Skip("identical")
    chosen, rejected = ("a1", "a2") if a1 > a2 else ("a2", "a1")
    return PreferencePair(
        id=f"{source}:{pair_id}",
        context=(Turn(role="user", content=ukp_prompt(title, stance)),),
        chosen=texts[chosen], rejected=texts[rejected], axis=HELPFULNESS, source=source,
        strength=ukp_strength(max(a1, a2), min(a1, a2), equal),
        meta={"topic": record.get("topic"), "votes": {"a1": a1, "a2": a2, "equal": equal},
              "gold_label": record.get("gold_label"), "in_strict": record.get("in_strict"),
              "chosen_arg": record.get(f"{chosen}_id")},
    )


def _votes(votes: dict[str, Any], name: str, *, optional: bool = False) -> int:
    count = get_field(votes, name, int, where="votes", optional=optional)
    if count is None:
        return 0
    if count < 0:
        raise Malformed(f"votes.{name}", f"a vote count cannot be negative ({count})")
    return count


def _ukp_text(text: str) -> str:
    """Upstream texts mark line breaks as ``<br/>``; the model should see newlines."""
    return text.replace("<br/>", "\n").strip()
