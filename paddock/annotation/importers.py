"""Parsers for what data managers import into an annotation batch: plain Python, no Django.

Three JSONL formats, one JSON object a line, each file plain, gzip or zstd (found by magic
bytes, not by name):

- **prompts** (:func:`read_prompts`): ``{"prompt": "text"}`` or ``{"turns": [{"role":
  "user", "content": "..."}, ...]}``, plus the optional labels ``axis`` (``helpfulness``,
  the default, or ``safety``), ``risk_category`` (required for safety: one of the Llama 2
  risk categories, section 3.2.1), ``id`` (the importer's own id, a string) and
  ``metadata`` (an object kept as is).
- **pairs** (:func:`read_pairs`): the fields of a prompt plus ``response_a`` and
  ``response_b``, each a string or ``{"text", "model", "temperature", "top_p", "seed"}``.
- **HH-RLHF** (:func:`read_hh_rlhf`): Anthropic's public ``{"chosen", "rejected"}``
  transcripts, imported as open-source preference data for reward-model mixes.

Why it is strict, and how it reports: an import feeds annotators and, later, reward-model
training, so a line that is not exactly right is not guessed at. It becomes one
:class:`ImportProblem` with its 1-based line number, the field (a JSON path such as
``turns[2].content``; ``""`` for the line as a whole), a stable ``kind`` slug to count and
filter by, and a message naming the field and what was expected. Each bad line yields
exactly one problem (the first rule it breaks, in the order the fields are checked), and
the reader goes on with the next line, so a good line is never lost to a bad neighbour.
Blank lines are skipped without a problem (they still count for line numbers). Unknown
fields are problems rather than ignored, because a misspelt ``axis`` or ``risk_category``
would otherwise silently file a safety prompt under helpfulness; extra data belongs in
``metadata``.

Conversations follow the chat format the policy is trained on (Llama 2's): turns start
with the user, alternate user/assistant, and end with a user turn, the one the responses
answer. Texts must be non-blank, at most :data:`MAX_TEXT_CHARS` characters, free of NUL
and of unpaired surrogates (JSON can spell both as ``\\u`` escapes, PostgreSQL stores
neither); a conversation has at most :data:`MAX_TURNS` turns. Texts are kept verbatim,
except HH-RLHF turns, which are stripped of the whitespace around them (the transcript
format puts it there).

Memory: lines are read one at a time from a streaming decompressor, so a file of any size
is parsed in constant memory. One line is capped at :data:`MAX_LINE_BYTES` (a ``too_long``
problem for the whole line, skipped without being held), so one runaway line cannot
exhaust a worker either.

Problem kinds (:data:`PROBLEM_KINDS`):

- for the whole line (field ``""``): ``not_utf8`` (the bytes are not UTF-8),
  ``malformed_json``, ``not_an_object``, ``too_long`` (over :data:`MAX_LINE_BYTES`),
  ``truncated`` and ``corrupt_stream`` (the compressed stream ends early or is damaged:
  the last problem of the file, as nothing after it can be read);
- for a field: ``missing_field``, ``wrong_type``, ``unknown_field``,
  ``conflicting_fields`` (both ``prompt`` and ``turns``), ``empty_text``, ``too_long``
  (text over :data:`MAX_TEXT_CHARS`, conversation over :data:`MAX_TURNS`, id or model name
  over :data:`MAX_NAME_CHARS`), ``not_utf8`` (an unpaired surrogate escape),
  ``invalid_character`` (NUL), ``empty_conversation``, ``unknown_role``, ``turn_order``
  (not starting with the user, or not alternating), ``ends_with_assistant``,
  ``unknown_axis``, ``unknown_risk_category``, ``missing_risk_category`` (safety without
  one), ``unexpected_risk_category`` (one on a helpfulness prompt), ``out_of_range``
  (temperature, top_p, seed), ``identical_responses``;
- HH-RLHF only: ``malformed_transcript`` (no turn marker, or text before the first one),
  ``no_assistant_turn`` (a transcript that does not end with an Assistant turn, the
  response) and ``prefix_mismatch`` (chosen and rejected answer different conversations).

A file that cannot be opened raises :class:`OSError` when the reader is called, before
any line is read: :class:`FileNotFoundError` (with the path as ``filename``) when nothing
is there, :class:`IsADirectoryError` for a folder, :class:`PermissionError` and so on as
the operating system says. Standard errors rather than the curation package's
``CurationInputError``: callers here (upload views, import tasks) already handle OSError.
"""

from __future__ import annotations

import hashlib
import math
import os
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, NoReturn, TypeVar

from paddock.kernel.exchange import PAIRS, PROMPTS, check_schema_version
from paddock.kernel.hh_rlhf import HHTranscriptError
from paddock.kernel.hh_rlhf import parse_hh_transcript as split_hh_transcript
from paddock.kernel.jsonl import JsonLine, LineProblem, json_type, read_jsonl
from paddock.kernel.text_safety import UNSAFE_CHARACTER, find_unsafe_character

__all__ = [
    "MAX_LINE_BYTES",
    "MAX_NAME_CHARS",
    "MAX_TEXT_CHARS",
    "MAX_TURNS",
    "PROBLEM_KINDS",
    "Axis",
    "HHTranscriptError",
    "ImportProblem",
    "ParsedPair",
    "ParsedPreference",
    "ParsedPrompt",
    "ResponseSpec",
    "RiskCategory",
    "Turn",
    "parse_hh_transcript",
    "prompt_id",
    "read_hh_rlhf",
    "read_pairs",
    "read_prompts",
]

MAX_TEXT_CHARS: Final = 100_000
MAX_TURNS: Final = 100
# An external id or a model name: the max_length of their columns in annotation.models.
MAX_NAME_CHARS: Final = 200
# A bound on one line, not a format limit: it holds any valid pair line (MAX_TURNS turns of
# MAX_TEXT_CHARS characters, every one spelt as a 6-byte \u escape, is about 60 MB) while
# keeping a runaway line from exhausting a worker.
MAX_LINE_BYTES: Final = 128 << 20

PathLike = str | os.PathLike[str]

USER: Final = "user"
ASSISTANT: Final = "assistant"
_ROLES: Final = (USER, ASSISTANT)
_SIGNED_64: Final = range(-(2**63), 2**63)

_PROMPT_FIELDS: Final = frozenset({"prompt", "turns", "axis", "risk_category", "id", "metadata"})
_PAIR_FIELDS: Final = _PROMPT_FIELDS | {"response_a", "response_b"}
_TURN_FIELDS: Final = frozenset({"role", "content"})
_RESPONSE_FIELDS: Final = frozenset({"text", "model", "temperature", "top_p", "seed"})

PROBLEM_KINDS: Final = frozenset(
    {
        "not_utf8",
        "malformed_json",
        "not_an_object",
        "too_long",
        "truncated",
        "corrupt_stream",
        "missing_field",
        "wrong_type",
        "unknown_field",
        "conflicting_fields",
        "empty_text",
        "invalid_character",
        "empty_conversation",
        "unknown_role",
        "turn_order",
        "ends_with_assistant",
        "unknown_axis",
        "unknown_risk_category",
        "missing_risk_category",
        "unexpected_risk_category",
        "out_of_range",
        "identical_responses",
        "malformed_transcript",
        "no_assistant_turn",
        "prefix_mismatch",
    }
)


class Axis(StrEnum):
    """What a comparison is judged on; the values of ``annotation.models.Axis``."""

    HELPFULNESS = "helpfulness"
    SAFETY = "safety"


class RiskCategory(StrEnum):
    """Safety prompt categories (Llama 2 paper, section 3.2.1); the values of
    ``annotation.models.RiskCategory``."""

    ILLICIT_CRIMINAL = "illicit_criminal"
    HATEFUL_HARMFUL = "hateful_harmful"
    UNQUALIFIED_ADVICE = "unqualified_advice"


@dataclass(frozen=True, slots=True)
class Turn:
    role: str  # USER or ASSISTANT
    content: str


@dataclass(frozen=True, slots=True)
class ResponseSpec:
    """One response of an imported pair, with the sampling settings that produced it when
    the importer knows them (they matter for the Llama 2 style model/temperature mix)."""

    text: str
    model: str = "imported"
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class ParsedPrompt:
    line: int
    turns: tuple[Turn, ...]  # alternating, starting and ending with the user
    axis: Axis
    risk_category: RiskCategory | None  # set exactly when axis is SAFETY
    external_id: str  # "" when the line has no id
    metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ParsedPair:
    line: int
    turns: tuple[Turn, ...]
    axis: Axis
    risk_category: RiskCategory | None
    external_id: str
    metadata: dict[str, Any]
    response_a: ResponseSpec
    response_b: ResponseSpec


@dataclass(frozen=True, slots=True)
class ParsedPreference:
    """An HH-RLHF pair: the shared conversation and the two final Assistant turns."""

    line: int
    turns: tuple[Turn, ...]
    chosen: str  # the response the human preferred
    rejected: str


@dataclass(frozen=True, slots=True)
class ImportProblem:
    line: int  # 1-based, in the decompressed text
    field: str  # a JSON path ("turns[2].content"), "" for the whole line
    kind: str  # one of PROBLEM_KINDS
    message: str  # names the field and says what is expected


class _LineError(Exception):
    """What the record parsers raise; the reader turns it into an ImportProblem."""

    def __init__(self, field: str, kind: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.kind = kind
        self.message = message


def _fail(field: str, kind: str, message: str) -> NoReturn:
    raise _LineError(field, kind, f"{field}: {message}" if field else message)


# --------------------------------------------------------------------------- public readers


def read_prompts(path: PathLike) -> Iterator[ParsedPrompt | ImportProblem]:
    """Each line of a prompt file as a :class:`ParsedPrompt` or an :class:`ImportProblem`.

    Raises:
        OSError: the file cannot be opened (FileNotFoundError when there is none).
        SchemaVersionError: its manifest says a newer schema version
            (:mod:`paddock.kernel.exchange`).
    """
    check_schema_version(path, PROMPTS)
    return _read(path, _parse_prompt)


def read_pairs(path: PathLike) -> Iterator[ParsedPair | ImportProblem]:
    """Each line of a pair file (a prompt and two responses to compare) as a
    :class:`ParsedPair` or an :class:`ImportProblem`.

    Raises:
        OSError: the file cannot be opened (FileNotFoundError when there is none).
        SchemaVersionError: its manifest says a newer schema version
            (:mod:`paddock.kernel.exchange`).
    """
    check_schema_version(path, PAIRS)
    return _read(path, _parse_pair)


def read_hh_rlhf(path: PathLike) -> Iterator[ParsedPreference | ImportProblem]:
    """Each line of an HH-RLHF file as a :class:`ParsedPreference` or an ImportProblem.

    The conversation is what both transcripts share before their final Assistant turn, and
    the responses are those final turns. The public data has quirks that become problems
    rather than training pairs: ``identical_responses`` (chosen == rejected carries no
    preference), ``prefix_mismatch`` (the two transcripts differ before their final turn,
    mostly because a response itself contains an "Assistant:" or "Human:" marker, so which
    part is the response is a guess), ``no_assistant_turn`` and ``empty_text`` (nothing to
    compare) and ``turn_order``/``ends_with_assistant`` (consecutive Assistant turns).

    Raises:
        OSError: the file cannot be opened (FileNotFoundError when there is none).
    """
    return _read(path, _parse_hh_record)


def parse_hh_transcript(text: str) -> tuple[Turn, ...]:
    """Split an HH-RLHF transcript into turns with the kernel's parser (the reward trainer
    uses the same one): :func:`paddock.kernel.hh_rlhf.parse_hh_transcript`.

    Raises:
        HHTranscriptError: the text has no turn marker, or text before the first one.
    """
    return tuple(Turn(role, content) for role, content in split_hh_transcript(text))


# Typographic punctuation NFKC keeps: a question copied from a word processor (curly
# apostrophes and quotes, a long dash) is the same prompt as its plain-keyboard spelling.
_PLAIN_PUNCTUATION = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-", "\u2026": "...",
})


def _normalised(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).translate(_PLAIN_PUNCTUATION).casefold()
    return " ".join(folded.split())


def prompt_id(turns: Iterable[Turn | Mapping[str, str]]) -> str:
    """A prompt's stable identity across batches and rounds: ``prompt-`` and 16 hex digits
    of the SHA-256 of its first user turn, normalised (NFKC, typographic quotes and dashes
    as their plain forms, case-folded, whitespace runs as one space), so the same question
    imported twice, or asked again in a later batch, has one id. The turns after the first
    (multi-turn threads) are part of it too: two threads that start alike but go on
    differently are different prompts."""
    parts = []
    for turn in turns:
        role, content = ((turn["role"], turn["content"]) if isinstance(turn, Mapping)
                         else (turn.role, turn.content))
        parts.append(_normalised(content) if not parts else f"{role}\x1f{_normalised(content)}")
    if not parts:
        raise ValueError("a prompt has at least one turn")
    return "prompt-" + hashlib.sha256("\x1e".join(parts).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- reading lines

_Parsed = TypeVar("_Parsed")


def _read(
    path: PathLike, parse: Callable[[dict[str, Any], int], _Parsed]
) -> Iterator[_Parsed | ImportProblem]:
    """Open ``path`` now, so a wrong path fails at the call with a standard OSError, and
    return the lazy line-by-line reader (the kernel's, shared with curation and training)."""
    return _records(read_jsonl(path, max_line_bytes=MAX_LINE_BYTES), parse)


def _records(
    lines: Iterator[JsonLine | LineProblem], parse: Callable[[dict[str, Any], int], _Parsed]
) -> Iterator[_Parsed | ImportProblem]:
    for item in lines:
        if isinstance(item, LineProblem):
            yield ImportProblem(item.line, "", item.code, _line_message(item))
            continue
        try:
            yield parse(item.record, item.line)
        except _LineError as exc:
            yield ImportProblem(item.line, exc.field, exc.kind, exc.message)


def _line_message(problem: LineProblem) -> str:
    """The kernel's message, with what to do for the codes a data manager can act on."""
    if problem.code in ("truncated", "corrupt_stream"):
        return (
            f"the compressed file is damaged ({problem.message}): nothing from this line on "
            "can be read; lines before it are kept"
        )
    advice = _LINE_ADVICE.get(problem.code)
    return f"{problem.message}; {advice}" if advice else problem.message


_LINE_ADVICE: Final = {
    "not_utf8": "expected UTF-8 text (save the file as UTF-8)",
    "malformed_json": "expected one JSON object per line",
    "not_an_object": "expected a JSON object",
}


# --------------------------------------------------------------------------- record parsers


def _parse_prompt(record: dict[str, Any], line: int) -> ParsedPrompt:
    _reject_unknown_fields(record, _PROMPT_FIELDS, "")
    turns, axis, risk_category, external_id, metadata = _parse_prompt_fields(record)
    return ParsedPrompt(line, turns, axis, risk_category, external_id, metadata)


def _parse_pair(record: dict[str, Any], line: int) -> ParsedPair:
    _reject_unknown_fields(record, _PAIR_FIELDS, "")
    turns, axis, risk_category, external_id, metadata = _parse_prompt_fields(record)
    response_a = _parse_response(record.get("response_a"), "response_a")
    response_b = _parse_response(record.get("response_b"), "response_b")
    if response_a.text.strip() == response_b.text.strip():
        _fail(
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
    axis = _parse_choice(record.get("axis"), "axis", Axis, "unknown_axis") or Axis.HELPFULNESS
    risk_category = _parse_choice(
        record.get("risk_category"), "risk_category", RiskCategory, "unknown_risk_category"
    )
    if axis is Axis.SAFETY and risk_category is None:
        _fail(
            "risk_category", "missing_risk_category",
            f"missing on a safety prompt; expected one of {_choices(RiskCategory)}",
        )
    if axis is Axis.HELPFULNESS and risk_category is not None:
        _fail(
            "risk_category", "unexpected_risk_category",
            'given on a helpfulness prompt; expected none, or "axis": "safety" if the '
            "prompt is a safety one",
        )
    external_id = _parse_name(record.get("id"), "id") or ""
    metadata = _parse_metadata(record.get("metadata"))
    return turns, axis, risk_category, external_id, metadata


def _parse_conversation(record: dict[str, Any]) -> tuple[Turn, ...]:
    prompt, raw_turns = record.get("prompt"), record.get("turns")
    if prompt is not None and raw_turns is not None:
        _fail(
            "turns", "conflicting_fields",
            'both "prompt" and "turns"; expected one of them: "prompt" for a single user '
            'turn, "turns" for a conversation',
        )
    if prompt is not None:
        return (Turn(USER, _parse_text(prompt, "prompt")),)
    if raw_turns is None:
        _fail(
            "prompt", "missing_field",
            'missing; expected "prompt": "text", or "turns": [{"role": "user", '
            '"content": "text"}, ...]',
        )
    if not isinstance(raw_turns, list):
        _fail(
            "turns", "wrong_type",
            f'a JSON {json_type(raw_turns)}, expected a list of {{"role", "content"}} objects',
        )
    _check_turn_count(len(raw_turns), "turns")
    turns = []
    for index, raw_turn in enumerate(raw_turns):
        where = f"turns[{index}]"
        if not isinstance(raw_turn, dict):
            _fail(
                where, "wrong_type",
                f'a JSON {json_type(raw_turn)}, expected an object {{"role", "content"}}',
            )
        _reject_unknown_fields(raw_turn, _TURN_FIELDS, where)
        role = raw_turn.get("role")
        if role is None:
            _fail(f"{where}.role", "missing_field", f'missing; expected "{USER}" or "{ASSISTANT}"')
        if not isinstance(role, str):
            _fail(
                f"{where}.role", "wrong_type",
                f'a JSON {json_type(role)}, expected "{USER}" or "{ASSISTANT}"',
            )
        if role not in _ROLES:
            _fail(f"{where}.role", "unknown_role", f'{role!r}, expected "{USER}" or "{ASSISTANT}"')
        content = raw_turn.get("content")
        if content is None:
            _fail(f"{where}.content", "missing_field", "missing; expected the turn's text")
        turns.append(Turn(role, _parse_text(content, f"{where}.content")))
    _check_turn_order(turns, "turns")
    return tuple(turns)


def _check_turn_count(count: int, where: str) -> None:
    """Checked before the turns themselves, so a runaway conversation is not walked."""
    if count == 0:
        _fail(where, "empty_conversation", "no turns; expected at least one user turn")
    if count > MAX_TURNS:
        _fail(where, "too_long", f"{count:,} turns, expected at most {MAX_TURNS}")


def _check_turn_order(turns: list[Turn] | tuple[Turn, ...], where: str) -> None:
    """The chat format the policy is trained on (Llama 2's): starting with the user,
    alternating, and ending with the user turn that the responses answer."""
    if turns[-1].role != USER:
        _fail(
            where, "ends_with_assistant",
            "the last turn is the assistant's; expected the conversation to end with the "
            "user turn that the responses answer",
        )
    if turns[0].role != USER:
        _fail(where, "turn_order", "the first turn is the assistant's; expected the user's")
    for index in range(1, len(turns)):
        if turns[index].role == turns[index - 1].role:
            _fail(
                where, "turn_order",
                f"turns {index - 1} and {index} are both {turns[index].role} turns; "
                "expected roles alternating user, assistant, user, ...",
            )


def _parse_response(value: Any, where: str) -> ResponseSpec:
    if value is None:
        _fail(where, "missing_field", 'missing; expected a string or {"text": ..., "model": ...}')
    if isinstance(value, str):
        return ResponseSpec(_parse_text(value, where))
    if not isinstance(value, dict):
        _fail(
            where, "wrong_type",
            f'a JSON {json_type(value)}, expected a string or {{"text": ..., "model": ...}}',
        )
    _reject_unknown_fields(value, _RESPONSE_FIELDS, where)
    text = value.get("text")
    if text is None:
        _fail(f"{where}.text", "missing_field", "missing; expected the response's text")
    return ResponseSpec(
        text=_parse_text(text, f"{where}.text"),
        model=_parse_name(value.get("model"), f"{where}.model") or "imported",
        temperature=_parse_float(value.get("temperature"), f"{where}.temperature", top_p=False),
        top_p=_parse_float(value.get("top_p"), f"{where}.top_p", top_p=True),
        seed=_parse_seed(value.get("seed"), f"{where}.seed"),
    )


def _parse_hh_record(record: dict[str, Any], line: int) -> ParsedPreference:
    """Extra fields are ignored here: the format is a published one, not ours to police."""
    transcripts = {}
    for name in ("chosen", "rejected"):
        value = record.get(name)
        if value is None:
            _fail(name, "missing_field", "missing; expected an HH-RLHF transcript string")
        if not isinstance(value, str):
            _fail(
                name, "wrong_type",
                f"a JSON {json_type(value)}, expected an HH-RLHF transcript string",
            )
        _check_characters(value, name)
        transcripts[name] = value
    if transcripts["chosen"] == transcripts["rejected"]:
        _fail(
            "rejected", "identical_responses",
            "the same transcript as chosen, so the pair carries no preference; expected "
            "two different responses",
        )
    parsed: dict[str, tuple[Turn, ...]] = {}
    for name, text in transcripts.items():
        try:
            turns = parse_hh_transcript(text)
        except HHTranscriptError as exc:
            _fail(name, exc.kind, f"{exc}; expected turns introduced by \\n\\nHuman: and "
                  "\\n\\nAssistant:")
        if turns[-1].role != ASSISTANT:
            _fail(
                name, "no_assistant_turn",
                "the transcript does not end with an Assistant turn; expected the response "
                "to compare as its last turn",
            )
        if not turns[-1].content:
            _fail(
                name, "empty_text",
                "the final Assistant turn (the response) is empty; expected its text",
            )
        _check_length(turns[-1].content, name)
        parsed[name] = turns
    conversation, other = parsed["chosen"][:-1], parsed["rejected"][:-1]
    if other != conversation:
        differ = next(
            (i for i, (a, b) in enumerate(zip(conversation, other, strict=False)) if a != b),
            min(len(conversation), len(other)),
        )
        _fail(
            "rejected", "prefix_mismatch",
            f"the turns before its final Assistant turn differ from chosen's from turn {differ} "
            f"on ({len(other)} turns against {len(conversation)}); expected both transcripts "
            "to answer the same conversation",
        )
    chosen, rejected = parsed["chosen"][-1].content, parsed["rejected"][-1].content
    if chosen == rejected:
        _fail(
            "rejected", "identical_responses",
            "the same final response as chosen, so the pair carries no preference; "
            "expected two different responses",
        )
    _check_turn_count(len(conversation), "chosen")
    _check_turn_order(conversation, "chosen")
    for index, turn in enumerate(conversation):
        if not turn.content:
            _fail(
                "chosen", "empty_text",
                f"turn {index} ({turn.role}) is empty; expected text in every turn",
            )
        _check_length(turn.content, "chosen")
    return ParsedPreference(line, conversation, chosen, rejected)


# --------------------------------------------------------------------------- field checks


def _parse_text(value: Any, where: str) -> str:
    """A text as given: a non-blank string of at most MAX_TEXT_CHARS storable characters."""
    if not isinstance(value, str):
        _fail(where, "wrong_type", f"a JSON {json_type(value)}, expected a string")
    if not value.strip():
        _fail(where, "empty_text", "empty; expected non-blank text")
    _check_length(value, where)
    _check_characters(value, where)
    return value


def _check_length(text: str, where: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        _fail(
            where, "too_long",
            f"{len(text):,} characters, expected at most {MAX_TEXT_CHARS:,}",
        )


def _check_characters(text: str, where: str) -> None:
    """JSON can spell NUL and lone surrogates as escapes; PostgreSQL stores neither and
    UTF-8 cannot encode the latter, so they would fail the import later, all at once."""
    bad = find_unsafe_character(text)
    if bad is None:
        return
    char = bad.group()
    position = f"at character {bad.start()}"
    if char == "\x00":
        _fail(where, "invalid_character", f"a NUL character {position}; expected text")
    _fail(
        where, "not_utf8",
        f"an unpaired surrogate \\u{ord(char):04x} {position}, which UTF-8 cannot encode; "
        "expected text",
    )


def _parse_name(value: Any, where: str) -> str | None:
    """An id or a model name: a non-blank string that fits its column, or None if absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        _fail(where, "wrong_type", f"a JSON {json_type(value)}, expected a string")
    if not value.strip():
        _fail(where, "empty_text", "empty; expected a non-blank string or no field")
    if len(value) > MAX_NAME_CHARS:
        _fail(where, "too_long", f"{len(value):,} characters, expected at most {MAX_NAME_CHARS}")
    _check_characters(value, where)
    return value


_Choice = TypeVar("_Choice", Axis, RiskCategory)


def _parse_choice(value: Any, where: str, enum: type[_Choice], kind: str) -> _Choice | None:
    if value is None:
        return None
    if not isinstance(value, str):
        _fail(where, "wrong_type", f"a JSON {json_type(value)}, expected one of {_choices(enum)}")
    try:
        return enum(value)
    except ValueError:
        _fail(where, kind, f"{value!r}, expected one of {_choices(enum)}")


def _parse_float(value: Any, where: str, *, top_p: bool) -> float | None:
    """A sampling setting: temperature >= 0, or top_p in (0, 1]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(where, "wrong_type", f"a JSON {json_type(value)}, expected a number")
    number = float(value)
    if top_p and not 0.0 < number <= 1.0:
        _fail(where, "out_of_range", f"{value}, expected a number in (0, 1]")
    if not top_p and not (math.isfinite(number) and number >= 0.0):
        _fail(where, "out_of_range", f"{value}, expected a number >= 0")
    return number


def _parse_seed(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(where, "wrong_type", f"a JSON {json_type(value)}, expected an integer")
    if value not in _SIGNED_64:
        _fail(where, "out_of_range", f"{value}, expected an integer that fits in 64 signed bits")
    return value


def _parse_metadata(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail("metadata", "wrong_type", f"a JSON {json_type(value)}, expected an object")
    # Walked with a stack, not recursion: json.loads accepts nesting deeper than Python's
    # recursion limit leaves room for.
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                _check_characters(key, "metadata")
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            _check_characters(item, "metadata")
    return value


def _reject_unknown_fields(obj: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    """Strict, so a misspelt optional field is a problem, not a silently lost label."""
    unknown = sorted(set(obj) - allowed)
    if not unknown:
        return
    name = _printable_name(unknown[0])
    expected = f"not a field here; expected only {', '.join(sorted(allowed))}"
    if where:
        _fail(f"{where}.{name}", "unknown_field", expected)
    _fail(name, "unknown_field", f'{expected} (extra data goes in "metadata")')


def _printable_name(name: str) -> str:
    """A field name as a problem can store and show it: NULs and unpaired surrogates
    spelled as escapes, an empty name as ``""`` (not the empty path of a whole line)."""
    if not name:
        return '""'
    return UNSAFE_CHARACTER.sub(lambda match: f"\\u{ord(match.group()):04x}", name)


def _choices(enum: type[StrEnum]) -> str:
    return ", ".join(repr(member.value) for member in enum)
