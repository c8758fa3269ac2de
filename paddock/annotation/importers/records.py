"""What the importer's readers yield: parsed records and problems (the formats' limits are
:mod:`paddock.kernel.exchange`'s)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from paddock.kernel import vocabulary

PathLike = str | os.PathLike[str]

USER: Final = "user"
ASSISTANT: Final = "assistant"


PROBLEM_KINDS: Final = frozenset(
    {
        "not_utf8",
        "malformed_json",
        "not_an_object",
        "number_out_of_range",
        "too_long",
        "truncated",
        "corrupt_stream",
        "too_large",
        "too_many_problems",
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


# What a comparison is judged on, and the safety prompt categories (Llama 2 paper, section
# 3.2.1): the kernel's words, as enums so parsed records carry checked values.
Axis = StrEnum("Axis", {value.upper(): value for value in vocabulary.AXES})
# A line may carry "not_categorised" too (the prompts export writes it for public safety
# data that came without a category), so an exported file imports again as it is.
RiskCategory = StrEnum("RiskCategory", {value.upper(): value
                                        for value in vocabulary.STORED_RISK_CATEGORIES})


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
    axis: Axis = Axis.HELPFULNESS  # the import's, chosen for the whole file
    # Safety only: the line's own risk_category, else NOT_CATEGORISED (the public data
    # carries none, and a guess would be a false label); None for helpfulness.
    risk_category: RiskCategory | None = None


@dataclass(frozen=True, slots=True)
class ImportProblem:
    line: int  # 1-based, in the decompressed text
    field: str  # a JSON path ("turns[2].content"), "" for the whole line
    kind: str  # one of PROBLEM_KINDS
    message: str  # names the field and says what is expected
