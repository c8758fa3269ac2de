"""Anthropic's HH-RLHF ``{"chosen", "rejected"}`` transcripts as preference pairs, split by
the kernel's parser (the reward trainer's too), then held to the importer's rules."""

from __future__ import annotations

from typing import Any

from paddock.annotation.importers.fields import (
    check_characters,
    check_length,
    check_turn_count,
    check_turn_order,
    fail,
    parse_choice,
)
from paddock.annotation.importers.records import (
    ASSISTANT,
    Axis,
    ParsedPreference,
    RiskCategory,
    Turn,
)
from paddock.kernel.hh_rlhf import HHTranscriptError
from paddock.kernel.hh_rlhf import parse_hh_transcript as split_hh_transcript
from paddock.kernel.jsonl import json_type


def parse_hh_transcript(text: str) -> tuple[Turn, ...]:
    """Split an HH-RLHF transcript into turns with the kernel's parser (the reward trainer
    uses the same one): :func:`paddock.kernel.hh_rlhf.parse_hh_transcript`.

    Raises:
        HHTranscriptError: the text has no turn marker, or text before the first one.
    """
    return tuple(Turn(role, content) for role, content in split_hh_transcript(text))


def parse_hh_record(
    record: dict[str, Any], line: int, axis: Axis = Axis.HELPFULNESS
) -> ParsedPreference:
    """Extra fields are ignored here: the format is a published one, not ours to police.
    One is ours, and checked: ``risk_category``, a safety line's own category (``axis`` is
    the whole file's, chosen at import); without one a safety line is not categorised."""
    risk_category = _parse_risk_category(record.get("risk_category"), axis)
    transcripts = {}
    for name in ("chosen", "rejected"):
        value = record.get(name)
        if value is None:
            fail(name, "missing_field", "missing; expected an HH-RLHF transcript string")
        if not isinstance(value, str):
            fail(
                name, "wrong_type",
                f"a JSON {json_type(value)}, expected an HH-RLHF transcript string",
            )
        check_characters(value, name)
        transcripts[name] = value
    if transcripts["chosen"] == transcripts["rejected"]:
        fail(
            "rejected", "identical_responses",
            "the same transcript as chosen, so the pair carries no preference; expected "
            "two different responses",
        )
    parsed: dict[str, tuple[Turn, ...]] = {}
    for name, text in transcripts.items():
        try:
            turns = parse_hh_transcript(text)
        except HHTranscriptError as exc:
            fail(name, exc.kind, f"{exc}; expected turns introduced by \\n\\nHuman: and "
                  "\\n\\nAssistant:")
        if turns[-1].role != ASSISTANT:
            fail(
                name, "no_assistant_turn",
                "the transcript does not end with an Assistant turn; expected the response "
                "to compare as its last turn",
            )
        if not turns[-1].content:
            fail(
                name, "empty_text",
                "the final Assistant turn (the response) is empty; expected its text",
            )
        check_length(turns[-1].content, name)
        parsed[name] = turns
    conversation, other = parsed["chosen"][:-1], parsed["rejected"][:-1]
    if other != conversation:
        differ = next(
            (i for i, (a, b) in enumerate(zip(conversation, other, strict=False)) if a != b),
            min(len(conversation), len(other)),
        )
        fail(
            "rejected", "prefix_mismatch",
            f"the turns before its final Assistant turn differ from chosen's from turn {differ} "
            f"on ({len(other)} turns against {len(conversation)}); expected both transcripts "
            "to answer the same conversation",
        )
    chosen, rejected = parsed["chosen"][-1].content, parsed["rejected"][-1].content
    if chosen == rejected:
        fail(
            "rejected", "identical_responses",
            "the same final response as chosen, so the pair carries no preference; "
            "expected two different responses",
        )
    check_turn_count(len(conversation), "chosen")
    check_turn_order(conversation, "chosen")
    for index, turn in enumerate(conversation):
        if not turn.content:
            fail(
                "chosen", "empty_text",
                f"turn {index} ({turn.role}) is empty; expected text in every turn",
            )
        check_length(turn.content, "chosen")
    return ParsedPreference(line, conversation, chosen, rejected, axis, risk_category)


def _parse_risk_category(value: Any, axis: Axis) -> RiskCategory | None:
    risk_category = parse_choice(value, "risk_category", RiskCategory, "unknown_risk_category")
    if axis is Axis.HELPFULNESS:
        if risk_category is not None:
            fail(
                "risk_category", "unexpected_risk_category",
                "given in a helpfulness import; expected none, or import the file as "
                "safety data",
            )
        return None
    return risk_category or RiskCategory.NOT_CATEGORISED
