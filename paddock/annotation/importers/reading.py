"""The three readers: each line of a file as a parsed record or an ImportProblem."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final, TypeVar

from paddock.annotation.importers.chat import parse_pair, parse_prompt
from paddock.annotation.importers.fields import LineError
from paddock.annotation.importers.hh_rlhf import parse_hh_record
from paddock.annotation.importers.records import (
    Axis,
    ImportProblem,
    ParsedPair,
    ParsedPreference,
    ParsedPrompt,
    PathLike,
)
from paddock.kernel.exchange import PAIRS, PROMPTS, check_schema_version
from paddock.kernel.jsonl import JsonLine, LineProblem, read_jsonl
from paddock.kernel.limits import stop_after_problems, too_many_problems_message


def read_prompts(path: PathLike) -> Iterator[ParsedPrompt | ImportProblem]:
    """Each line of a prompt file as a :class:`ParsedPrompt` or an :class:`ImportProblem`.

    Raises:
        OSError: the file cannot be opened (FileNotFoundError when there is none).
        SchemaVersionError: its manifest says a newer schema version
            (:mod:`paddock.kernel.exchange`).
    """
    check_schema_version(path, PROMPTS)
    return _read(path, parse_prompt)


def read_pairs(path: PathLike) -> Iterator[ParsedPair | ImportProblem]:
    """Each line of a pair file (a prompt and two responses to compare) as a
    :class:`ParsedPair` or an :class:`ImportProblem`.

    Raises:
        OSError: the file cannot be opened (FileNotFoundError when there is none).
        SchemaVersionError: its manifest says a newer schema version
            (:mod:`paddock.kernel.exchange`).
    """
    check_schema_version(path, PAIRS)
    return _read(path, parse_pair)


def read_hh_rlhf(
    path: PathLike, axis: Axis | str = Axis.HELPFULNESS
) -> Iterator[ParsedPreference | ImportProblem]:
    """Each line of an HH-RLHF file as a :class:`ParsedPreference` or an ImportProblem.

    ``axis`` is the whole file's (the public data does not say; harmless-base is safety
    data). A safety line keeps its own ``risk_category`` when it has a valid one and is
    otherwise ``not_categorised``; a helpfulness line may carry none.

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
    axis = Axis(axis)
    return _read(path, lambda record, line: parse_hh_record(record, line, axis))


_Parsed = TypeVar("_Parsed")


def _read(
    path: PathLike, parse: Callable[[dict[str, Any], int], _Parsed]
) -> Iterator[_Parsed | ImportProblem]:
    """Open ``path`` now, so a wrong path fails at the call with a standard OSError, and
    return the lazy line-by-line reader (the kernel's, shared with curation and training)."""
    items = _records(read_jsonl(path), parse)
    return stop_after_problems(items, _is_problem, _stopped)


def _is_problem(item: object) -> bool:
    return isinstance(item, ImportProblem)


def _stopped(last: ImportProblem, limit: int) -> ImportProblem:
    return ImportProblem(last.line, "", "too_many_problems", too_many_problems_message(limit))


def _records(
    lines: Iterator[JsonLine | LineProblem], parse: Callable[[dict[str, Any], int], _Parsed]
) -> Iterator[_Parsed | ImportProblem]:
    for item in lines:
        if isinstance(item, LineProblem):
            yield ImportProblem(item.line, "", item.code, _line_message(item))
            continue
        try:
            yield parse(item.record, item.line)
        except LineError as exc:
            yield ImportProblem(item.line, exc.field, exc.kind, exc.message)


def _line_message(problem: LineProblem) -> str:
    """The kernel's message, with what to do for the codes a data manager can act on."""
    if problem.code == "too_large":
        return f"{problem.message}; lines before it are kept"
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
