"""Streaming readers that turn preference files into :class:`PreferencePair`s.

One reader per format: the platform's own export, Anthropic HH-RLHF transcripts,
OpenAssistant ranked message trees and UKP ConvArg1 vote counts. Each reader function
returns a :class:`PairReader`: iterate it to stream pairs in constant memory; its
``report`` (a :class:`ReadReport`) then says how many records were read, how many pairs
came out and why every other record was skipped. Files may be plain, gzip'd or zstd'd
(told by the magic bytes, not the name: :mod:`paddock.kernel.compressed`).

Two kinds of "not a pair", kept apart on purpose:

- *skips* are well-formed records the data legitimately holds but that make no training
  pair (HH-RLHF's identical transcripts, a ConvArg tie). They are counted by reason and
  never raise: they are part of the real data.
- *errors* are malformed records (not JSON, a missing or mistyped field). By default
  they are counted under a ``malformed ...`` reason and listed in ``report.errors`` with
  file, line and field, so a bad line never disappears unseen; with ``strict=True`` the
  first one raises :class:`PairFormatError` naming file, line and field instead.

Either way, for the line-per-pair formats ``report.records == report.pairs +
sum(report.skipped.values())``: nothing is dropped without a reason.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations
from pathlib import Path
from typing import Any, NamedTuple

from paddock.kernel.compressed import open_compressed
from paddock.kernel.exchange import PREFERENCES, SchemaVersionError, check_schema_version
from paddock.kernel.hh_rlhf import HHTranscriptError, split_hh_response
from paddock.kernel.jsonl import LineProblem, decode_json_line, numbered_lines
from paddock.training.recipe import (
    AXES,
    BETTER,
    HELPFULNESS,
    NEGLIGIBLY_BETTER,
    SIGNIFICANTLY_BETTER,
    SLIGHTLY_BETTER,
    STRENGTHS,
)
from paddock.training.reward.pairs import PreferencePair, Turn

log = logging.getLogger(__name__)

# Errors beyond this many are still counted in ``skipped``, just not listed one by one:
# a wholly broken file must not hold a million messages in memory.
MAX_LISTED_ERRORS = 100
ROLES = ("system", "user", "assistant")


# --------------------------------------------------------------------------- reporting


class PairFormatError(ValueError):
    """A malformed record, raised under ``strict=True``; says where and what."""

    def __init__(self, path: str | Path, line: int | None, field: str | None, problem: str):
        self.path = str(path)
        self.line = line
        self.field = field
        self.problem = problem
        super().__init__(_where(self.path, line, field) + problem)


def _where(path: str, line: int | None, field: str | None) -> str:
    where = path if line is None else f"{path}, line {line}"
    return f"{where}, field {field!r}: " if field else f"{where}: "


@dataclass(frozen=True)
class Problem:
    """One malformed record as the report lists it."""

    path: str
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        return _where(self.path, self.line, self.field) + self.message


@dataclass
class ReadReport:
    """What one pass over one file produced.

    ``records`` counts the file's lines (one tree per line for OpenAssistant);
    ``skipped`` counts every record (for OpenAssistant: every assistant reply, and every
    tied pair) that gave no pair, by reason; ``errors`` lists the malformed ones with
    file and line; ``counts`` holds format-specific tallies (trees, sibling groups).
    ``finished`` turns true once the file was read to its end.
    """

    path: str
    source: str
    records: int = 0
    pairs: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    errors: list[Problem] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    finished: bool = False

    @property
    def malformed(self) -> int:
        return sum(n for reason, n in self.skipped.items() if reason.startswith("malformed"))

    def add_error(self, problem: Problem, reason: str) -> None:
        self.skipped[reason] += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(problem)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, for run records and manifests."""
        return {
            "path": self.path,
            "source": self.source,
            "records": self.records,
            "pairs": self.pairs,
            "skipped": dict(sorted(self.skipped.items())),
            "counts": dict(sorted(self.counts.items())),
            "errors": [str(problem) for problem in self.errors],
            "finished": self.finished,
        }


class Skip(NamedTuple):
    """A well-formed record (or part of one) that makes no pair, and why."""

    reason: str


class _Malformed(Exception):
    """Raised inside a parser; the reader turns it into a Problem or a PairFormatError.

    ``kind`` names the skip reason of a line-level problem (no field to name).
    """

    def __init__(self, field: str | None, message: str, kind: str = "bad record"):
        super().__init__(message)
        self.field = field
        self.message = message
        self.kind = kind


class _Blank(Exception):
    """A blank line: counted as skipped, never an error."""


@dataclass
class Parsed:
    """What one record gave: pairs and skips in order, and format-specific tallies."""

    items: list[PreferencePair | Skip]
    counts: Counter[str] = field(default_factory=Counter)


ParseRecord = Callable[[dict[str, Any], int], Parsed]


# --------------------------------------------------------------------------- the reader


class PairReader:
    """Iterable of pairs from one file; ``report`` describes the latest pass.

    Each iteration re-reads the file and starts a fresh report, so the report always
    matches the pairs just seen. A record's pairs are yielded only once the whole record
    parsed, so a malformed record contributes no pairs at all.
    """

    def __init__(self, path: str | Path, parse: ParseRecord, *, source: str, strict: bool):
        self.path = Path(path)
        self.source = source
        self.strict = strict
        self._parse = parse
        self.report = ReadReport(path=str(self.path), source=source)

    def __iter__(self) -> Iterator[PreferencePair]:
        self.report = report = ReadReport(path=str(self.path), source=self.source)
        with open_compressed(self.path) as stream:
            for line in numbered_lines(stream):
                if isinstance(line, LineProblem):
                    # Never skipped: the lines after the damage are unknown, so they
                    # cannot be counted under any reason.
                    raise PairFormatError(
                        self.path, line.line, None,
                        f"the compressed stream is truncated or corrupt ({line.message})",
                    )
                report.records += 1
                yield from self._record(line.line, line.raw)
        report.finished = True
        if report.malformed:
            log.warning("%s: %d malformed records skipped, first: %s", self.path,
                        report.malformed, report.errors[0] if report.errors else "?")

    def __repr__(self) -> str:
        return f"PairReader({str(self.path)!r}, source={self.source!r})"

    def _record(self, number: int, raw: bytes) -> Iterator[PreferencePair]:
        try:
            parsed = self._parse(_decode(raw, number), number)
        except _Malformed as bad:
            self._malformed(number, bad)
            return
        except _Blank:
            self.report.skipped["blank line"] += 1
            return
        self.report.counts.update(parsed.counts)
        for item in parsed.items:
            if isinstance(item, Skip):
                self.report.skipped[item.reason] += 1
            else:
                self.report.pairs += 1
                yield item

    def _malformed(self, number: int, bad: _Malformed) -> None:
        if self.strict:
            raise PairFormatError(self.path, number, bad.field, bad.message) from None
        top = (bad.field or "").split(".")[0].split("[")[0]
        reason = f"malformed: field {top}" if top else f"malformed: {bad.kind}"
        self.report.add_error(Problem(str(self.path), number, bad.field, bad.message), reason)


# How a line-level problem of the kernel's reader is counted: ``malformed: {reason}``.
_LINE_REASONS = {
    "not_utf8": "not UTF-8",
    "malformed_json": "not JSON",
    "not_an_object": "not a JSON object",
}


def _decode(raw: bytes, number: int) -> dict[str, Any]:
    record = decode_json_line(raw, number)
    if record is None:
        raise _Blank
    if isinstance(record, LineProblem):
        reason = _LINE_REASONS.get(record.code, record.code)
        raise _Malformed(None, f"{reason} ({record.message})", reason)
    return record


# --------------------------------------------------------------------------- field helpers


def _get(record: dict[str, Any], name: str, kind: type | tuple[type, ...], *,
         where: str = "", optional: bool = False) -> Any:
    """``record[name]`` checked for type; missing or mistyped is malformed, named in full."""
    path = f"{where}.{name}" if where else name
    if name not in record or (optional and record[name] is None):
        if optional:
            return None
        raise _Malformed(path, "missing")
    value = record[name]
    # bool is an int in Python, never a valid count or rank.
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        names = "/".join(k.__name__ for k in _as_tuple(kind))
        raise _Malformed(path, f"expected {names}, got {type(value).__name__} {value!r:.60}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _choice(record: dict[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = _get(record, name, str)
    if value not in choices:
        raise _Malformed(name, f"{value!r} is not one of {choices}")
    return value


def _check_axis(axis: str) -> str:
    if axis not in AXES:
        raise ValueError(f"axis must be one of {AXES}, not {axis!r}")
    return axis


# --------------------------------------------------------------------------- paddock export


def read_paddock_export(path: str | Path, *, strict: bool = False) -> PairReader:
    """The platform's ``preferences`` export (``annotation.services.export``).

    One record per judgement; ``axis`` and ``strength`` are taken as they are (a record
    without a strength is malformed: every platform judgement has one, so its absence
    means a broken export, not public data). ``id`` is ``paddock:{record id}`` and
    ``source`` ``paddock:{batch}``, so mixes can count batches; ``split``, ``batch``,
    ``annotator``, ``is_gold`` and ``comparison_id`` stay in ``meta`` because the
    platform's split is per comparison and evaluation must keep it.

    Raises:
        PairFormatError: the export's manifest names a newer schema version than this
            code reads (:mod:`paddock.kernel.exchange`).
    """
    try:
        check_schema_version(path, PREFERENCES)
    except SchemaVersionError as exc:
        raise PairFormatError(path, None, None, str(exc).removeprefix(f"{path}: ")) from None
    return PairReader(path, _paddock_record, source="paddock", strict=strict)


def _paddock_record(record: dict[str, Any], number: int) -> Parsed:
    batch = _get(record, "batch", str)
    chosen = _get(record, "chosen", str)
    rejected = _get(record, "rejected", str)
    if chosen == rejected:
        return Parsed([Skip("identical")])
    if record.get("strength") is None:
        raise _Malformed("strength", "missing: every platform judgement has a strength")
    return Parsed([PreferencePair(
        id=f"paddock:{_get(record, 'id', (int, str))}",
        context=_conversation(_get(record, "conversation", list)),
        chosen=chosen,
        rejected=rejected,
        axis=_choice(record, "axis", AXES),
        source=f"paddock:{batch}",
        strength=_choice(record, "strength", STRENGTHS),
        chosen_safe=_get(record, "chosen_safe", bool, optional=True),
        rejected_safe=_get(record, "rejected_safe", bool, optional=True),
        margins=_export_margins(record),
        meta={
            "split": _get(record, "split", str),
            "batch": batch,
            "annotator": record.get("annotator"),
            "is_gold": record.get("is_gold"),
            "comparison_id": record.get("comparison_id"),
        },
    )])


def _export_margins(record: dict[str, Any]) -> dict[str, float]:
    """The margins the export wrote (``margin_small``, ``margin_large``), by table name."""
    margins = {}
    for table in ("small", "large"):
        value = _get(record, f"margin_{table}", (int, float), optional=True)
        if value is not None:
            if not math.isfinite(value) or value < 0:
                raise _Malformed(f"margin_{table}", f"expected a finite number >= 0, got {value}")
            margins[table] = float(value)
    return margins


def _conversation(turns: list[Any]) -> tuple[Turn, ...]:
    out = []
    for index, turn in enumerate(turns):
        where = f"conversation[{index}]"
        if not isinstance(turn, dict):
            raise _Malformed(where, f"expected an object, got {type(turn).__name__}")
        role = _get(turn, "role", str, where=where)
        if role not in ROLES:
            raise _Malformed(f"{where}.role", f"{role!r} is not one of {ROLES}")
        out.append(Turn(role=role, content=_get(turn, "content", str, where=where)))
    return tuple(out)


# --------------------------------------------------------------------------- HH-RLHF


def read_hh_rlhf(path: str | Path, axis: str, source: str | None = None, *,
                 strict: bool = False) -> PairReader:
    """Anthropic HH-RLHF: ``chosen``/``rejected`` full transcripts, no strength.

    Transcripts are split by :func:`paddock.kernel.hh_rlhf.split_hh_response` (the
    annotation importer's parser): the context is every turn before the last
    ``"\\n\\nAssistant:"`` and the response what follows it (stripped). Real quirks are skipped, by
    reason: ``identical`` (chosen == rejected, or the same response after stripping),
    ``different contexts`` (the two transcripts do not share that prefix, e.g. one
    carries an extra assistant turn), ``empty response`` (an empty final turn, which
    teaches nothing about wording and fails the "responses are non-empty" rule),
    ``no assistant turn``, ``text before the first turn`` and ``context does not end
    with a user turn``. ``strength`` is None (margin 0). ``id`` is ``{source}:{line}``;
    ``source`` defaults to ``hh-rlhf:{parent folder}``, e.g. ``hh-rlhf:helpful-base``.
    """
    axis = _check_axis(axis)
    source = source or f"hh-rlhf:{Path(path).parent.name}"

    def parse(record: dict[str, Any], number: int) -> Parsed:
        return Parsed([_hh_record(record, number, axis, source)])

    return PairReader(path, parse, source=source, strict=strict)


def _hh_record(record: dict[str, Any], number: int, axis: str,
               source: str) -> PreferencePair | Skip:
    chosen = _get(record, "chosen", str)
    rejected = _get(record, "rejected", str)
    if chosen == rejected:
        return Skip("identical")
    split_chosen, split_rejected = _hh_split(chosen), _hh_split(rejected)
    if isinstance(split_chosen, Skip):
        return split_chosen
    if isinstance(split_rejected, Skip):
        return split_rejected
    (context, chosen_response), (other_context, rejected_response) = split_chosen, split_rejected
    if context != other_context:
        return Skip("different contexts")
    if not chosen_response or not rejected_response:
        return Skip("empty response")
    if chosen_response == rejected_response:
        return Skip("identical")
    if not context or context[-1].role != "user":
        return Skip("context does not end with a user turn")
    return PreferencePair(id=f"{source}:{number}", context=context, chosen=chosen_response,
                          rejected=rejected_response, axis=axis, source=source,
                          meta={"line": number})


def _hh_split(transcript: str) -> tuple[tuple[Turn, ...], str] | Skip:
    """The context's turns and the response, split by the kernel's HH-RLHF parser (the
    annotation importer's too); consecutive same-role turns (a real quirk) are kept."""
    try:
        turns, response = split_hh_response(transcript)
    except HHTranscriptError as exc:
        reason = "no assistant turn" if exc.reason == "no_marker" else "text before the first turn"
        return Skip(reason)
    return tuple(Turn(role=role, content=content) for role, content in turns), response


# --------------------------------------------------------------------------- OpenAssistant

_OASST_ROLES = {"prompter": "user", "assistant": "assistant"}


def oasst_strength(rank_distance: int) -> str:
    """Strength of "rank r beats rank r + d" among siblings ranked by one set of people.

    Ranks are ordinal, so their distance is the only magnitude signal: neighbours are
    the closest calls (``slightly_better``), two apart ``better``, three or more apart
    ``significantly_better`` (both ends of a ranking of four or more). Never
    ``negligibly_better``: rankers had to order the replies, and that level means
    "unsure", which a ranking cannot express. The distance is between the recorded
    ranks, so a deleted reply ranked between two kept ones still widens their gap.
    """
    if rank_distance < 1:
        raise ValueError(f"rank distance must be at least 1, not {rank_distance}")
    if rank_distance == 1:
        return SLIGHTLY_BETTER
    return BETTER if rank_distance == 2 else SIGNIFICANTLY_BETTER


def read_oasst_trees(path: str | Path, source: str = "oasst", *,
                     strict: bool = False) -> PairReader:
    """OpenAssistant ranked message trees, one tree (``{"prompt": message, ...}``) a line.

    Every group of two or more ranked, non-deleted assistant replies to one message gives
    all its within-group pairs, the better (lower) rank chosen, strength by
    :func:`oasst_strength`, axis helpfulness. The context is the path from the root to
    the replies' parent (prompter -> user, assistant -> assistant). ``skipped`` counts
    assistant replies that are in no pair: ``deleted reply``, ``deleted context`` (a
    message above was deleted), ``unranked reply``, ``empty response``, ``single ranked
    reply``, ``context does not end with a user turn``; and pairs of equal rank
    (``tied rank``). ``counts`` has trees, messages and ranked sibling groups.
    ``id`` is ``{source}:{chosen message id}>{rejected message id}``.
    """
    def parse(record: dict[str, Any], number: int) -> Parsed:
        return _oasst_tree(record, source)

    return PairReader(path, parse, source=source, strict=strict)


@dataclass(frozen=True)
class _Node:
    message: dict[str, Any]
    where: str
    context: tuple[Turn, ...]  # root .. this message's parent
    deleted_above: bool


def _oasst_tree(record: dict[str, Any], source: str) -> Parsed:
    tree_id = record.get("message_tree_id")
    tally: Counter[str] = Counter(trees=1)
    items: list[PreferencePair | Skip] = []
    stack = [_Node(_get(record, "prompt", dict), "prompt", (), False)]
    while stack:
        node = stack.pop()
        message = node.message
        role = _oasst_role(message, node.where)
        turn = Turn(role=role, content=_get(message, "text", str, where=node.where).strip())
        deleted = node.deleted_above or _oasst_deleted(message, node.where)
        replies = _oasst_replies(message, node.where)
        tally["messages"] += 1
        context = (*node.context, turn)
        items.extend(_sibling_pairs(replies, context, deleted, node.where, source, tree_id,
                                    tally))
        stack.extend(_Node(reply, f"{node.where}.replies[{index}]", context, deleted)
                     for index, reply in reversed(list(enumerate(replies))))
    return Parsed(items, tally)


def _oasst_role(message: dict[str, Any], where: str) -> str:
    role = _get(message, "role", str, where=where)
    if role not in _OASST_ROLES:
        raise _Malformed(f"{where}.role", f"{role!r} is not one of {tuple(_OASST_ROLES)}")
    return _OASST_ROLES[role]


def _oasst_deleted(message: dict[str, Any], where: str) -> bool:
    return bool(_get(message, "deleted", bool, where=where, optional=True))


def _oasst_replies(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    replies = _get(message, "replies", list, where=where, optional=True) or []
    for index, reply in enumerate(replies):
        if not isinstance(reply, dict):
            raise _Malformed(f"{where}.replies[{index}]",
                             f"expected an object, got {type(reply).__name__}")
    return replies


class _Ranked(NamedTuple):
    rank: int
    message_id: str
    text: str
    synthetic: bool


def _sibling_pairs(replies: list[dict[str, Any]], context: tuple[Turn, ...], deleted: bool,
                   where: str, source: str, tree_id: Any,
                   tally: Counter[str]) -> list[PreferencePair | Skip]:
    items: list[PreferencePair | Skip] = []
    ranked: list[_Ranked] = []
    for index, reply in enumerate(replies):
        reply_where = f"{where}.replies[{index}]"
        if _oasst_role(reply, reply_where) != "assistant":
            continue
        tally["assistant replies"] += 1
        reason = _unusable_reply(reply, reply_where, deleted, context)
        if reason:
            items.append(Skip(reason))
            continue
        ranked.append(_Ranked(_get(reply, "rank", int, where=reply_where),
                              _get(reply, "message_id", str, where=reply_where),
                              _get(reply, "text", str, where=reply_where).strip(),
                              bool(reply.get("synthetic"))))
    if len(ranked) == 1:
        return [*items, Skip("single ranked reply")]
    if ranked:
        tally["ranked sibling groups"] += 1
    ranked.sort()
    for better, worse in combinations(ranked, 2):
        items.append(_oasst_pair(better, worse, context, source, tree_id, len(ranked)))
    return items


def _unusable_reply(reply: dict[str, Any], where: str, deleted_above: bool,
                    context: tuple[Turn, ...]) -> str | None:
    if _oasst_deleted(reply, where):
        return "deleted reply"
    if deleted_above:
        return "deleted context"
    if _get(reply, "rank", int, where=where, optional=True) is None:
        return "unranked reply"
    if not _get(reply, "text", str, where=where).strip():
        return "empty response"
    if context[-1].role != "user":
        return "context does not end with a user turn"
    return None


def _oasst_pair(better: _Ranked, worse: _Ranked, context: tuple[Turn, ...], source: str,
                tree_id: Any, group_size: int) -> PreferencePair | Skip:
    if better.rank == worse.rank:
        return Skip("tied rank")
    if better.text == worse.text:
        return Skip("identical")
    return PreferencePair(
        id=f"{source}:{better.message_id}>{worse.message_id}",
        context=context, chosen=better.text, rejected=worse.text, axis=HELPFULNESS,
        source=source, strength=oasst_strength(worse.rank - better.rank),
        meta={"tree_id": tree_id, "chosen_rank": better.rank, "rejected_rank": worse.rank,
              "group_size": group_size, "chosen_synthetic": better.synthetic,
              "rejected_synthetic": worse.synthetic},
    )


# --------------------------------------------------------------------------- UKP ConvArg1

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
    votes = _get(record, "votes", dict)
    a1, a2 = _votes(votes, "a1"), _votes(votes, "a2")
    equal = _votes(votes, "equal", optional=True)
    texts = {"a1": _ukp_text(_get(record, "a1_text", str)),
             "a2": _ukp_text(_get(record, "a2_text", str))}
    stance = _get(record, "a1_stance", str)
    pair_id = _get(record, "pair_id", str)
    title = _get(record, "debate_title", str)
    if stance.strip() != _get(record, "a2_stance", str).strip():
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
    count = _get(votes, name, int, where="votes", optional=optional)
    if count is None:
        return 0
    if count < 0:
        raise _Malformed(f"votes.{name}", f"a vote count cannot be negative ({count})")
    return count


def _ukp_text(text: str) -> str:
    """Upstream texts mark line breaks as ``<br/>``; the model should see newlines."""
    return text.replace("<br/>", "\n").strip()


__all__ = [
    "PairFormatError",
    "PairReader",
    "Parsed",
    "Problem",
    "ReadReport",
    "Skip",
    "oasst_strength",
    "read_hh_rlhf",
    "read_oasst_trees",
    "read_paddock_export",
    "read_ukp_convarg",
    "ukp_prompt",
    "ukp_strength",
]
