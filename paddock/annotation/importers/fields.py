"""Field checks shared by the record parsers: each raises :class:`LineError` naming the
field (a JSON path) and what was expected; the reader turns it into an ImportProblem."""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final, NoReturn, TypeVar

from paddock.annotation.importers.records import (
    USER,
    Axis,
    RiskCategory,
    Turn,
)
from paddock.kernel.exchange import MAX_NAME_CHARS, MAX_TEXT_CHARS, MAX_TURNS
from paddock.kernel.jsonl import json_type
from paddock.kernel.text_safety import UNSAFE_CHARACTER, find_unsafe_character

_SIGNED_64: Final = range(-(2**63), 2**63)


class LineError(Exception):
    """What the record parsers raise; the reader turns it into an ImportProblem."""

    def __init__(self, field: str, kind: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.kind = kind
        self.message = message


def fail(field: str, kind: str, message: str) -> NoReturn:
    raise LineError(field, kind, f"{field}: {message}" if field else message)


def check_turn_count(count: int, where: str) -> None:
    """Checked before the turns themselves, so a runaway conversation is not walked."""
    if count == 0:
        fail(where, "empty_conversation", "no turns; expected at least one user turn")
    if count > MAX_TURNS:
        fail(where, "too_long", f"{count:,} turns, expected at most {MAX_TURNS}")


def check_turn_order(turns: list[Turn] | tuple[Turn, ...], where: str) -> None:
    """The chat format the policy is trained on (Llama 2's): starting with the user,
    alternating, and ending with the user turn that the responses answer."""
    if turns[-1].role != USER:
        fail(
            where, "ends_with_assistant",
            "the last turn is the assistant's; expected the conversation to end with the "
            "user turn that the responses answer",
        )
    if turns[0].role != USER:
        fail(where, "turn_order", "the first turn is the assistant's; expected the user's")
    for index in range(1, len(turns)):
        if turns[index].role == turns[index - 1].role:
            fail(
                where, "turn_order",
                f"turns {index - 1} and {index} are both {turns[index].role} turns; "
                "expected roles alternating user, assistant, user, ...",
            )


def parse_text(value: Any, where: str) -> str:
    """A text as given: a non-blank string of at most MAX_TEXT_CHARS storable characters."""
    if not isinstance(value, str):
        fail(where, "wrong_type", f"a JSON {json_type(value)}, expected a string")
    if not value.strip():
        fail(where, "empty_text", "empty; expected non-blank text")
    check_length(value, where)
    check_characters(value, where)
    return value


def check_length(text: str, where: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        fail(
            where, "too_long",
            f"{len(text):,} characters, expected at most {MAX_TEXT_CHARS:,}",
        )


def check_characters(text: str, where: str) -> None:
    """JSON can spell NUL and lone surrogates as escapes; PostgreSQL stores neither and
    UTF-8 cannot encode the latter, so they would fail the import later, all at once."""
    bad = find_unsafe_character(text)
    if bad is None:
        return
    char = bad.group()
    position = f"at character {bad.start()}"
    if char == "\x00":
        fail(where, "invalid_character", f"a NUL character {position}; expected text")
    fail(
        where, "not_utf8",
        f"an unpaired surrogate \\u{ord(char):04x} {position}, which UTF-8 cannot encode; "
        "expected text",
    )


def parse_name(value: Any, where: str) -> str | None:
    """An id or a model name: a non-blank string that fits its column, or None if absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        fail(where, "wrong_type", f"a JSON {json_type(value)}, expected a string")
    if not value.strip():
        fail(where, "empty_text", "empty; expected a non-blank string or no field")
    if len(value) > MAX_NAME_CHARS:
        fail(where, "too_long", f"{len(value):,} characters, expected at most {MAX_NAME_CHARS}")
    check_characters(value, where)
    return value


_Choice = TypeVar("_Choice", Axis, RiskCategory)


def parse_choice(value: Any, where: str, enum: type[_Choice], kind: str) -> _Choice | None:
    if value is None:
        return None
    if not isinstance(value, str):
        fail(where, "wrong_type", f"a JSON {json_type(value)}, expected one of {choices(enum)}")
    try:
        return enum(value)
    except ValueError:
        fail(where, kind, f"{value!r}, expected one of {choices(enum)}")


def parse_float(value: Any, where: str, *, top_p: bool) -> float | None:
    """A sampling setting: temperature >= 0, or top_p in (0, 1]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        fail(where, "wrong_type", f"a JSON {json_type(value)}, expected a number")
    number = float(value)
    if top_p and not 0.0 < number <= 1.0:
        fail(where, "out_of_range", f"{value}, expected a number in (0, 1]")
    if not top_p and not (math.isfinite(number) and number >= 0.0):
        fail(where, "out_of_range", f"{value}, expected a number >= 0")
    return number


def parse_seed(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        fail(where, "wrong_type", f"a JSON {json_type(value)}, expected an integer")
    if value not in _SIGNED_64:
        fail(where, "out_of_range", f"{value}, expected an integer that fits in 64 signed bits")
    return value


def parse_metadata(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        fail("metadata", "wrong_type", f"a JSON {json_type(value)}, expected an object")
    # Walked with a stack, not recursion: json.loads accepts nesting deeper than Python's
    # recursion limit leaves room for.
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                check_characters(key, "metadata")
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            check_characters(item, "metadata")
    return value


def reject_unknown_fields(obj: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    """Strict, so a misspelt optional field is a problem, not a silently lost label."""
    unknown = sorted(set(obj) - allowed)
    if not unknown:
        return
    name = _printable_name(unknown[0])
    expected = f"not a field here; expected only {', '.join(sorted(allowed))}"
    if where:
        fail(f"{where}.{name}", "unknown_field", expected)
    fail(name, "unknown_field", f'{expected} (extra data goes in "metadata")')


def _printable_name(name: str) -> str:
    """A field name as a problem can store and show it: NULs and unpaired surrogates
    spelled as escapes, an empty name as ``""`` (not the empty path of a whole line)."""
    if not name:
        return '""'
    return UNSAFE_CHARACTER.sub(lambda match: f"\\u{ord(match.group()):04x}", name)


def choices(enum: type[StrEnum]) -> str:
    return ", ".join(repr(member.value) for member in enum)
