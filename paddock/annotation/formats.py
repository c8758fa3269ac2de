"""What each kind of import file holds, in words for people: written once, here.

A data manager choosing a file should not have to read the importers' docstrings to learn
which JSONL fields an upload needs. The console's import form, the batch page's import
results, the example files' download view and the tests all read these descriptions, so
the help a person sees is the one the tests hold to the parsers
(:mod:`paddock.annotation.importers`), and the example files shipped in
``paddock/annotation/examples/`` are imported by a test through those parsers.

Plain Python (no Django): the kinds are :class:`paddock.annotation.models.ImportKind`'s
values, spelled out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from paddock.kernel import vocabulary
from paddock.kernel.exchange import MAX_NAME_CHARS, MAX_TEXT_CHARS, MAX_TURNS
from paddock.kernel.limits import read_limits

EXAMPLES_DIR: Final = Path(__file__).resolve().parent / "examples"

PROMPTS: Final = "prompts"
PAIRS: Final = "pairs"
HH_RLHF: Final = "hh_rlhf"


@dataclass(frozen=True)
class FormatField:
    name: str
    need: str  # "required", "optional", ...: how a person reads whether to give it
    meaning: str


@dataclass(frozen=True)
class ImportFormat:
    kind: str  # an ImportKind value
    title: str
    summary: str  # one sentence: what a line is
    fields: tuple[FormatField, ...]
    example: str  # the example file's name in EXAMPLES_DIR
    after: str  # what becomes of the lines once imported: the truth of the code

    @property
    def example_path(self) -> Path:
        return EXAMPLES_DIR / self.example


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f'"{value}"' for value in values)


COMPRESSION: Final = (
    "One JSON object a line (JSONL), in UTF-8: plain, gzip (.gz) or zstd (.zst) "
    "compressed, recognised by its content, not its name."
)
LIMITS: Final = (
    f"Each text at most {MAX_TEXT_CHARS:,} characters, a conversation at most {MAX_TURNS} "
    f"turns, an id or model name at most {MAX_NAME_CHARS} characters, a line at most "
    f"{read_limits().record_bytes >> 20} MiB."
)
BAD_LINES: Final = (
    "A line that breaks a rule is left out and listed with its line number, field and "
    "reason; every good line is kept, and blank lines are skipped. Uploading the same file "
    "into the same batch again adds nothing, and an interrupted import resumes."
)
GENERAL: Final = (COMPRESSION, LIMITS, BAD_LINES)

_CONVERSATION = (
    FormatField("prompt", "this or turns",
                "The user's message, as text: a conversation of one turn."),
    FormatField("turns", "this or prompt",
                'A conversation: a list of {"role": "user" or "assistant", "content": '
                "text}, alternating, starting and ending with the user."),
    FormatField("axis", "optional",
                f'{_quoted(vocabulary.AXES)}; "{vocabulary.HELPFULNESS}" when absent.'),
    FormatField("risk_category", "safety only, then required",
                f"{_quoted(vocabulary.STORED_RISK_CATEGORIES)}; none on a helpfulness "
                "prompt."),
    FormatField("id", "optional", "Your own id for the line, a string."),
    FormatField("metadata", "optional",
                "Any JSON object, kept as it is; other fields are refused, so put extra "
                "data here."),
)

# Prompts alone: what the code does with them (paddock.workers.pipeline.steps.prompt_pool
# and sample_next_batch); no worker answers them inside the batch they were imported into.
PROMPTS_AFTER: Final = (
    "Prompts alone give annotators nothing to judge: no worker answers them in this batch. "
    "When this batch's weekly cycle runs, its step “Sample the next batch's comparisons” "
    "answers them (prompts not asked before first, up to the plan's sampling limit) with "
    "the new and the previous policy, and they become comparisons in the next batch. To "
    "have them judged in this batch, import them as prompts with two responses."
)

FORMATS: Final = {
    PROMPTS: ImportFormat(
        kind=PROMPTS,
        title="Prompts",
        summary="A prompt (or a conversation ending with the user) to be answered later.",
        fields=_CONVERSATION,
        example="prompts.jsonl",
        after=PROMPTS_AFTER,
    ),
    PAIRS: ImportFormat(
        kind=PAIRS,
        title="Prompts with two responses",
        summary="A prompt and the two responses annotators compare.",
        fields=(*_CONVERSATION,
                FormatField("response_a", "required",
                            'A response: text, or {"text", "model", "temperature", "top_p", '
                            '"seed"} (only "text" required).'),
                FormatField("response_b", "required",
                            "The other response, in the same form, with a different text.")),
        example="pairs.jsonl",
        after="Each line becomes a comparison that annotators judge once the batch is open.",
    ),
    HH_RLHF: ImportFormat(
        kind=HH_RLHF,
        title="Public preferences (HH-RLHF format)",
        summary="Anthropic's HH-RLHF pair: the same conversation ending with the preferred "
                "and with the rejected response.",
        fields=(
            FormatField("chosen", "required",
                        'A transcript, each turn introduced by "\\n\\nHuman:" or '
                        '"\\n\\nAssistant:", ending with the preferred Assistant response.'),
            FormatField("rejected", "required",
                        "The same conversation ending with the other response."),
            FormatField("risk_category", "optional, safety imports only",
                        "The line's own category; without one a safety line is stored as "
                        f"“{vocabulary.RISK_CATEGORY_LABELS[vocabulary.NOT_CATEGORISED]}”. "
                        "Other fields are ignored."),
        ),
        example="hh_rlhf.jsonl",
        after=(
            "Stored with this batch as public preference pairs, under the axis and dataset "
            "name given with the upload; annotators never see them. The weekly cycle's "
            "reward models do not read these rows: they train on public data files named in "
            "the plan's public_data (hh-helpful=PATH or hh-harmless=PATH)."
        ),
    ),
}


def example_file_name(kind: str) -> str:
    """The name a downloaded example is saved under: the kind is in it, so a manager's
    downloads folder tells the three apart."""
    return f"paddock-example-{FORMATS[kind].example}"
