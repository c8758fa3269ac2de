"""The platform's own formats: prompt lines and pair lines (a prompt and two responses)."""

from __future__ import annotations

from typing import Any, Final

from paddock.annotation.importers.fields import (
    check_turn_count,
    check_turn_order,
    choices,
    fail,
    parse_choice,
    parse_float,
    parse_metadata,
    parse_name,
    parse_seed,
    parse_text,
    reject_unknown_fields,
)
from paddock.annotation.importers.records import (
    ASSISTANT,
    USER,
    Axis,
    ParsedPair,
    ParsedPrompt,
    ResponseSpec,
    RiskCategory,
    Turn,
)
from paddock.kernel.exchange import PAIR_FIELDS, PROMPT_FIELDS, RESPONSE_FIELDS, TURN_FIELDS
from paddock.kernel.jsonl import json_type

ROLES: Final = (USER, ASSISTANT)



def parse_prompt(record: dict[str, Any], line: int) -> ParsedPrompt:
    reject_unknown_fields(record, PROMPT_FIELDS, "")
    turns, axis, risk_category, external_id, metadata = _parse_prompt_fields(record)
    return ParsedPrompt(line, turns, axis, risk_category, external_id, metadata)


def parse_pair(record: dict[str, Any], line: int) -> ParsedPair:
    reject_unknown_fields(record, PAIR_FIELDS, "")
    turns, axis, risk_category, external_id, metadata = _parse_prompt_fields(record)
    response_a = _parse_response(record.get("response_a"), "response_a")
    response_b = _parse_response(record.get("response_b"), "response_b")
    if response_a.text.strip() == response_b.text.strip():
        fail(
            "response_b", "identical_responses",
            "the same text as response_a; expected two different responses to compare",
        )
    return ParsedPair(
        line, turns, axis, risk_category, external_id, metadata, response_a, response_b
    )


def _parse_prompt_fields(
    record: dict[str, Any],
) -> tuple[tuple[Turn, ...], Axis, RiskCategory | None, str, dict[str, Any]]:
    """The conversation and labels that prompt and pair lines share, checked in this order.

    A JSON null counts as an absent field: exports from tables write it for empty cells.
    """
    turns = _parse_conversation(record)
    axis = parse_choice(record.get("axis"), "axis", Axis, "unknown_axis") or Axis.HELPFULNESS
    risk_category = parse_choice(
        record.get("risk_category"), "risk_category", RiskCategory, "unknown_risk_category"
    )
    if axis is Axis.SAFETY and risk_category is None:
        fail(
            "risk_category", "missing_risk_category",
            f"missing on a safety prompt; expected one of {choices(RiskCategory)}",
        )
    if axis is Axis.HELPFULNESS and risk_category is not None:
        fail(
            "risk_category", "unexpected_risk_category",
            'given on a helpfulness prompt; expected none, or "axis": "safety" if the '
            "prompt is a safety one",
        )
    external_id = parse_name(record.get("id"), "id") or ""
    metadata = parse_metadata(record.get("metadata"))
    return turns, axis, risk_category, external_id, metadata


def _parse_conversation(record: dict[str, Any]) -> tuple[Turn, ...]:
    prompt, raw_turns = record.get("prompt"), record.get("turns")
    if prompt is not None and raw_turns is not None:
        fail(
            "turns", "conflicting_fields",
            'both "prompt" and "turns"; expected one of them: "prompt" for a single user '
            'turn, "turns" for a conversation',
        )
    if prompt is not None:
        return (Turn(USER, parse_text(prompt, "prompt")),)
    if raw_turns is None:
        fail(
            "prompt", "missing_field",
            'missing; expected "prompt": "text", or "turns": [{"role": "user", '
            '"content": "text"}, ...]',
        )
    if not isinstance(raw_turns, list):
        fail(
            "turns", "wrong_type",
            f'a JSON {json_type(raw_turns)}, expected a list of {{"role", "content"}} objects',
        )
    check_turn_count(len(raw_turns), "turns")
    turns = []
    for index, raw_turn in enumerate(raw_turns):
        where = f"turns[{index}]"
        if not isinstance(raw_turn, dict):
            fail(
                where, "wrong_type",
                f'a JSON {json_type(raw_turn)}, expected an object {{"role", "content"}}',
            )
        reject_unknown_fields(raw_turn, TURN_FIELDS, where)
        role = raw_turn.get("role")
        if role is None:
            fail(f"{where}.role", "missing_field", f'missing; expected "{USER}" or "{ASSISTANT}"')
        if not isinstance(role, str):
            fail(
                f"{where}.role", "wrong_type",
                f'a JSON {json_type(role)}, expected "{USER}" or "{ASSISTANT}"',
            )
        if role not in ROLES:
            fail(f"{where}.role", "unknown_role", f'{role!r}, expected "{USER}" or "{ASSISTANT}"')
        content = raw_turn.get("content")
        if content is None:
            fail(f"{where}.content", "missing_field", "missing; expected the turn's text")
        turns.append(Turn(role, parse_text(content, f"{where}.content")))
    check_turn_order(turns, "turns")
    return tuple(turns)


def _parse_response(value: Any, where: str) -> ResponseSpec:
    if value is None:
        fail(where, "missing_field", 'missing; expected a string or {"text": ..., "model": ...}')
    if isinstance(value, str):
        return ResponseSpec(parse_text(value, where))
    if not isinstance(value, dict):
        fail(
            where, "wrong_type",
            f'a JSON {json_type(value)}, expected a string or {{"text": ..., "model": ...}}',
        )
    reject_unknown_fields(value, RESPONSE_FIELDS, where)
    text = value.get("text")
    if text is None:
        fail(f"{where}.text", "missing_field", "missing; expected the response's text")
    return ResponseSpec(
        text=parse_text(text, f"{where}.text"),
        model=parse_name(value.get("model"), f"{where}.model") or "imported",
        temperature=parse_float(value.get("temperature"), f"{where}.temperature", top_p=False),
        top_p=parse_float(value.get("top_p"), f"{where}.top_p", top_p=True),
        seed=parse_seed(value.get("seed"), f"{where}.seed"),
    )
