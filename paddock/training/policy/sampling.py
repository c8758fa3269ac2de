"""Two responses per conversation for human annotation, written as an annotation pairs file.

Llama 2 collected preferences between responses from different model variants or
temperatures (paper, section 3.2.1). A :class:`SamplingPlan` names the two variants, each
bound to the backend that samples it (newest against previous policy, or one policy at
two temperatures); :func:`sample_pairs` answers every conversation once per variant.

Seeds are derived from (plan seed, conversation id, side), not drawn, so rerunning a plan
on the same conversations reproduces the same file, and each response records its seed.
Two identical responses teach a reward model nothing and the importer rejects them, so
side B is resampled with the next seed (up to ``SamplingPlan.attempts`` samples); a side
whose text the importer would refuse (blank, NUL characters, too long) is resampled the
same way. A conversation still without two usable, different responses is reported as a
:class:`SamplingProblem`: every conversation ends up either as a pair or as a problem.

Output lines are in the annotation "pairs" format, whose limits and fields are defined
once in :mod:`paddock.kernel.exchange` (the importer checks them; this package never
imports the web side), and are written atomically, so an import never reads half a file.
The input is the annotation "prompts" format, read by :func:`read_conversations`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from paddock.kernel import vocabulary
from paddock.kernel.atomic_write import write_atomically
from paddock.kernel.exchange import (
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    MAX_TURNS,
    PAIRS,
    PROMPT_FIELDS,
    PROMPTS,
    check_schema_version,
    write_records,
)
from paddock.kernel.jsonl import LineProblem, read_jsonl
from paddock.kernel.text_safety import find_unsafe_character, unsafe_field_path
from paddock.training.policy.chat import ConversationError, check_conversation
from paddock.training.policy.generation import (
    Generation,
    GenerationBackend,
    GenerationRequest,
    SamplingParams,
)

# The two responses of a pair, as the pairs file names them.
_SIDES = ("a", "b")
_SEED_BITS = 62  # derived seeds leave room for "+ attempt" within signed 64 bits


# ------------------------------------------------------------------------- conversations


@dataclass(frozen=True)
class Conversation:
    """A conversation to answer: user and assistant turns, ending with the user's."""

    id: str  # the importer's id; "" when the prompt file gave none
    messages: tuple[Mapping[str, str], ...]
    axis: str = vocabulary.HELPFULNESS
    risk_category: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    line: int | None = None  # where read_conversations found it

    def __post_init__(self) -> None:
        where = f"conversation {self.id or self.line!r}"
        messages = tuple(dict(m) for m in self.messages)
        try:
            check_conversation(messages, ends_with="user")
        except ConversationError as exc:
            raise ValueError(f"{where}: {exc}") from exc
        if messages[0]["role"] == "system":
            raise ValueError(f"{where}: the pairs format has no system turns")
        if self.axis not in vocabulary.AXES:
            raise ValueError(f"{where}: axis {self.axis!r} is not one of {vocabulary.AXES}")
        if (self.axis == vocabulary.SAFETY) != (self.risk_category is not None):
            raise ValueError(f"{where}: a risk category goes with, and only with, safety")
        object.__setattr__(self, "messages", messages)

    @property
    def seed_key(self) -> str:
        """The id, or for a prompt without one its content: seeds never depend on order."""
        if self.id:
            return self.id
        text = json.dumps(self.messages, ensure_ascii=False, sort_keys=True)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class InputProblem:
    path: str
    line: int
    field: str  # a JSON path such as "turns[1].content"; "" for the whole line
    message: str

    def __str__(self) -> str:
        return f"{self.path}, line {self.line}, {self.field or 'the line'}: {self.message}"


class ConversationFileError(ValueError):
    """A prompts file with bad lines; ``problems`` lists every one, not just the first."""

    SHOWN = 20

    def __init__(self, path: str, problems: Sequence[InputProblem]) -> None:
        self.path, self.problems = path, tuple(problems)
        shown = "\n".join(str(p) for p in self.problems[: self.SHOWN])
        more = len(self.problems) - self.SHOWN
        super().__init__(f"{path}: {len(self.problems)} bad line(s), nothing was sampled:\n"
                         f"{shown}" + (f"\n... and {more} more" if more > 0 else ""))


class _FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def read_conversations(path: str | os.PathLike[str]) -> list[Conversation]:
    """Every conversation of a prompts JSONL file (plain, gzip or zstd), checked whole first.

    Sampling costs GPU hours, so a file with any bad line is refused before any is spent:
    :class:`ConversationFileError` lists each bad line with its file, line and field.
    Duplicate ids are refused too (they would get the same seeds and responses).
    """
    path = Path(path)
    check_schema_version(path, PROMPTS)
    conversations: list[Conversation] = []
    problems: list[InputProblem] = []
    seen: dict[str, int] = {}
    for item in read_jsonl(path):
        if isinstance(item, LineProblem):
            problems.append(InputProblem(str(path), item.line, "", item.message))
            continue
        try:
            conversation = _parse_prompt(_checked_object(item.record), item.line)
            if conversation.id and conversation.id in seen:
                raise _FieldError("id", f"{conversation.id!r} is already the id of line "
                                        f"{seen[conversation.id]}; expected unique ids")
        except _FieldError as exc:
            problems.append(InputProblem(str(path), item.line, exc.field, exc.message))
            continue
        seen.setdefault(conversation.id, item.line)
        conversations.append(conversation)
    if problems:
        raise ConversationFileError(str(path), problems)
    return conversations


def _checked_object(record: dict[str, Any]) -> dict[str, Any]:
    where = unsafe_field_path(record, root="line")
    if where is not None:
        raise _FieldError(where, "holds a NUL or an unpaired surrogate, which the annotation "
                                 "import (and PostgreSQL) refuses")
    return record


def _parse_prompt(record: dict[str, Any], line: int) -> Conversation:
    unknown = sorted(set(record) - PROMPT_FIELDS)
    if unknown:
        raise _FieldError(unknown[0], f"not a field of the prompts format; expected only "
                                      f"{', '.join(sorted(PROMPT_FIELDS))}")
    prompt, turns = record.get("prompt"), record.get("turns")
    if (prompt is None) == (turns is None):
        raise _FieldError("prompt", 'expected exactly one of "prompt" and "turns"')
    if prompt is not None:
        messages = [{"role": "user", "content": _text(prompt, "prompt")}]
    else:
        if not isinstance(turns, list) or not turns:
            raise _FieldError("turns", "expected a non-empty list of {role, content} objects")
        if len(turns) > MAX_TURNS:
            raise _FieldError("turns", f"{len(turns):,} turns, expected at most {MAX_TURNS}")
        messages = []
        for index, turn in enumerate(turns):
            where = f"turns[{index}]"
            if not isinstance(turn, dict) or set(turn) != {"role", "content"}:
                raise _FieldError(where, 'expected an object with exactly "role" and "content"')
            role = turn["role"]
            expected = "user" if index % 2 == 0 else "assistant"
            if role != expected:
                raise _FieldError(f"{where}.role", f"{role!r}, expected {expected!r} (turns "
                                                   "alternate from the user)")
            messages.append({"role": role, "content": _text(turn["content"],
                                                            f"{where}.content")})
        if messages[-1]["role"] != "user":
            raise _FieldError("turns", "ends with the assistant; expected a last user turn")
    axis = record.get("axis")
    axis = vocabulary.HELPFULNESS if axis is None else axis
    if axis not in vocabulary.AXES:
        raise _FieldError("axis", f"{axis!r}, expected one of {', '.join(vocabulary.AXES)}")
    risk = record.get("risk_category")
    if axis == vocabulary.SAFETY and risk not in vocabulary.STORED_RISK_CATEGORIES:
        raise _FieldError("risk_category", f"{risk!r} on a safety prompt; expected one of "
                                           f"{', '.join(vocabulary.STORED_RISK_CATEGORIES)}")
    if axis == vocabulary.HELPFULNESS and risk is not None:
        raise _FieldError("risk_category", "given on a helpfulness prompt; expected none")
    identifier = record.get("id")
    if identifier is not None and not (isinstance(identifier, str) and identifier.strip()
                                       and len(identifier) <= MAX_NAME_CHARS):
        raise _FieldError("id", f"expected a non-blank string of at most {MAX_NAME_CHARS} "
                                "characters")
    metadata = record.get("metadata")
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict):
        raise _FieldError("metadata", "expected an object")
    return Conversation(identifier or "", tuple(messages), axis, risk, metadata, line)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _FieldError(where, "expected a string")
    problem = unusable_text(value)
    if problem:
        raise _FieldError(where, problem)
    return value


def unusable_text(text: str) -> str | None:
    """Why the annotation importer would refuse this text, or None if it would not."""
    if not text.strip():
        return "blank; expected text"
    if len(text) > MAX_TEXT_CHARS:
        return f"{len(text):,} characters, expected at most {MAX_TEXT_CHARS:,}"
    bad = find_unsafe_character(text)
    if bad:
        return f"character U+{ord(bad.group()):04X} at {bad.start()} cannot be stored"
    return None


# ------------------------------------------------------------------------------ the plan


@dataclass(frozen=True)
class Variant:
    """One side of a comparison, as ``paddock.annotation.generation.Variant``."""

    model_version: str
    temperature: float = 0.7
    top_p: float = 0.9

    def __post_init__(self) -> None:
        if not self.model_version.strip() or len(self.model_version) > MAX_NAME_CHARS:
            raise ValueError(f"model_version {self.model_version!r}: expected a non-blank name "
                             f"of at most {MAX_NAME_CHARS} characters")
        SamplingParams(temperature=self.temperature, top_p=self.top_p)  # the same checks


@dataclass(frozen=True)
class Side:
    """A variant bound to the backend that samples it."""

    variant: Variant
    backend: GenerationBackend


@dataclass(frozen=True)
class SamplingPlan:
    a: Side
    b: Side
    max_new_tokens: int = 256
    seed: int = 0
    attempts: int = 4  # samples of one side before the conversation becomes a problem
    stop_token_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts {self.attempts}: expected at least 1")
        SamplingParams(max_new_tokens=self.max_new_tokens, stop_token_ids=self.stop_token_ids)

    def side(self, name: str) -> Side:
        return self.a if name == "a" else self.b

    def params(self, name: str, seed: int) -> SamplingParams:
        variant = self.side(name).variant
        return SamplingParams(temperature=variant.temperature, top_p=variant.top_p,
                              max_new_tokens=self.max_new_tokens, seed=seed,
                              stop_token_ids=self.stop_token_ids)


def derive_seed(base_seed: int, conversation_key: str, side: str) -> int:
    """A seed fixed by what it answers, not by position in the file or order of runs."""
    digest = hashlib.sha256(f"{base_seed}\x1f{conversation_key}\x1f{side}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - _SEED_BITS)


# ------------------------------------------------------------------------------ sampling


@dataclass(frozen=True)
class SamplingProblem:
    conversation_id: str
    line: int | None
    kind: str  # "identical_responses" or "unusable_response"
    message: str
    seeds: Mapping[str, tuple[int, ...]]  # every seed tried, per side


@dataclass(frozen=True)
class VariantReport:
    side: str
    model_version: str
    temperature: float
    top_p: float
    backend: str
    responses: int  # sampled, resamples included
    tokens: int
    seconds: float
    truncated: int  # responses in the output that hit max_new_tokens

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class SamplingReport:
    conversations: int
    pairs: int  # conversations == pairs + len(problems)
    resampled: int  # conversations with a side sampled more than once
    problems: tuple[SamplingProblem, ...]
    variants: tuple[VariantReport, ...]

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        for variant, report in zip(record["variants"], self.variants, strict=True):
            variant["tokens_per_second"] = round(report.tokens_per_second, 2)
        return record


@dataclass(frozen=True)
class SamplingResult:
    records: list[dict[str, Any]]  # pairs-format lines, in conversation order
    report: SamplingReport


@dataclass
class _Slot:
    """One side of one conversation: the kept response and the seeds tried for it."""

    first_seed: int
    seeds: list[int] = field(default_factory=list)
    generation: Generation | None = None

    @property
    def text(self) -> str:
        return self.generation.text.strip() if self.generation is not None else ""


def sample_pairs(conversations: Sequence[Conversation], plan: SamplingPlan) -> SamplingResult:
    """One response per variant for each conversation, resampling as the module says."""
    slots = {side: [_Slot(derive_seed(plan.seed, c.seed_key, side)) for c in conversations]
             for side in _SIDES}
    usage = {side: [0, 0, 0.0] for side in _SIDES}  # responses, tokens, seconds
    while True:  # ends: every round adds a seed to a slot, and each slot takes `attempts`
        due = {side: [i for i, slot in enumerate(slots[side])
                      if len(slot.seeds) < plan.attempts and _needs_sample(slots, side, i)]
               for side in _SIDES}
        if not any(due.values()):
            break
        for side, indices in due.items():
            if indices:
                _sample(plan, side, [conversations[i] for i in indices],
                        [slots[side][i] for i in indices], usage[side])
    records, problems, kept = [], [], []
    for index, conversation in enumerate(conversations):
        a, b = slots["a"][index], slots["b"][index]
        problem = _problem(conversation, a, b)
        if problem:
            problems.append(problem)
        else:
            records.append(pair_record(conversation, plan, a.generation, b.generation))
            kept.append(index)
    assert len(records) + len(problems) == len(conversations)
    variants = tuple(
        VariantReport(
            side=side, model_version=plan.side(side).variant.model_version,
            temperature=plan.side(side).variant.temperature,
            top_p=plan.side(side).variant.top_p,
            backend=getattr(plan.side(side).backend, "name", type(plan.side(side).backend)
                            .__name__),
            responses=usage[side][0], tokens=usage[side][1], seconds=usage[side][2],
            truncated=sum(slots[side][i].generation.finish_reason == "length" for i in kept),
        )
        for side in _SIDES
    )
    resampled = sum(len(slots["a"][i].seeds) > 1 or len(slots["b"][i].seeds) > 1
                    for i in range(len(conversations)))
    report = SamplingReport(len(conversations), len(records), resampled, tuple(problems),
                            variants)
    return SamplingResult(records, report)


def _needs_sample(slots: dict[str, list[_Slot]], side: str, index: int) -> bool:
    """A side needs a (new) sample when it has none or its text would be refused; side B
    also when it repeats side A's (usable) text."""
    slot = slots[side][index]
    if slot.generation is None or unusable_text(slot.generation.text):
        return True
    other = slots["a"][index]
    return (side == "b" and other.generation is not None
            and not unusable_text(other.generation.text) and slot.text == other.text)


def _sample(plan: SamplingPlan, side: str, conversations: list[Conversation],
            slots: list[_Slot], usage: list) -> None:
    requests = []
    for conversation, slot in zip(conversations, slots, strict=True):
        seed = slot.first_seed + len(slot.seeds)
        slot.seeds.append(seed)
        requests.append(GenerationRequest(
            f"{conversation.seed_key}/{side}/{len(slot.seeds) - 1}",
            messages=conversation.messages, params=plan.params(side, seed)))
    started = time.perf_counter()
    generations = plan.side(side).backend.generate(requests)
    usage[2] += time.perf_counter() - started
    usage[0] += len(generations)
    usage[1] += sum(len(g.output_ids) for g in generations)
    for slot, generation in zip(slots, generations, strict=True):
        slot.generation = generation


def _problem(conversation: Conversation, a: _Slot, b: _Slot) -> SamplingProblem | None:
    seeds = {"a": tuple(a.seeds), "b": tuple(b.seeds)}
    for side, slot in (("a", a), ("b", b)):
        reason = unusable_text(slot.generation.text)
        if reason:
            return SamplingProblem(
                conversation.id, conversation.line, "unusable_response",
                f"every response of side {side} was unusable, the last one: {reason} "
                f"(seeds {', '.join(map(str, slot.seeds))})", seeds)
    if a.text == b.text:
        return SamplingProblem(
            conversation.id, conversation.line, "identical_responses",
            f"side b repeated side a's response with each of seeds "
            f"{', '.join(map(str, b.seeds))}", seeds)
    return None


def pair_record(conversation: Conversation, plan: SamplingPlan, a: Generation,
                b: Generation) -> dict[str, Any]:
    """A line of the annotation pairs format; texts lose only their surrounding whitespace
    (the chat format puts a space before every answer)."""
    record: dict[str, Any] = {}
    if conversation.id:
        record["id"] = conversation.id
    if len(conversation.messages) == 1:
        record["prompt"] = conversation.messages[0]["content"]
    else:
        record["turns"] = [{"role": m["role"], "content": m["content"]}
                           for m in conversation.messages]
    record["axis"] = conversation.axis
    if conversation.risk_category is not None:
        record["risk_category"] = conversation.risk_category
    if conversation.metadata:
        record["metadata"] = dict(conversation.metadata)
    for side, generation in (("a", a), ("b", b)):
        variant = plan.side(side).variant
        record[f"response_{side}"] = {
            "text": generation.text.strip(), "model": variant.model_version,
            "temperature": variant.temperature, "top_p": variant.top_p,
            "seed": generation.seed,
        }
    return record


# ------------------------------------------------------------------------------- writing


def write_pairs(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]) -> Path:
    write_records(path, records, kind=PAIRS)
    return Path(path)


def sample_file(input_path: str | os.PathLike[str], output_path: str | os.PathLike[str],
                plan: SamplingPlan, *,
                report_path: str | os.PathLike[str] | None = None) -> SamplingReport:
    """Read a prompts file, sample, write the pairs file (and the report as JSON)."""
    result = sample_pairs(read_conversations(input_path), plan)
    write_pairs(output_path, result.records)
    if report_path is not None:
        write_atomically(report_path, [json.dumps(result.report.to_dict(), indent=2) + "\n"])
    return result.report
