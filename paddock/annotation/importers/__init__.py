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
  transcripts, imported as open-source preference data for reward-model mixes. The axis
  is the whole file's; the public data has no risk category, so a safety line is
  ``not_categorised`` unless it carries its own valid ``risk_category``.

What each format means for the people uploading it (the console's help, the example files)
is :mod:`paddock.annotation.formats`.

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
is parsed in constant memory. One line is capped at the configured record limit
(``PADDOCK_MAX_RECORD_BYTES``, :mod:`paddock.kernel.limits`; a ``too_long`` problem for the
whole line, skipped without being held), so one runaway line cannot exhaust a worker
either, and a file that decompresses past the file limit ends with ``too_large``.

Problem kinds (:data:`PROBLEM_KINDS`):

- for the whole line (field ``""``): ``not_utf8`` (the bytes are not UTF-8),
  ``malformed_json``, ``not_an_object``, ``number_out_of_range`` (``1e999999``, an
  integer outside 64 bits), ``too_long`` (over the record limit), ``truncated``,
  ``corrupt_stream`` and ``too_large`` (the compressed stream ends early, is damaged or
  decompresses past the file limit: the last problem of the file, as nothing after it is
  read) and ``too_many_problems`` (a run of bad lines long enough to end the file);
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

The modules, one job each: ``records`` (what the readers yield, and the limits),
``reading`` (the three readers, on the kernel's JSONL reader), ``chat`` (prompt and pair
lines), ``hh_rlhf`` (HH-RLHF lines, on the kernel's transcript parser), ``fields`` (the
field checks they share) and ``identity`` (:func:`prompt_id`).
"""

from paddock.annotation.importers.hh_rlhf import parse_hh_transcript
from paddock.annotation.importers.identity import prompt_id
from paddock.annotation.importers.reading import read_hh_rlhf, read_pairs, read_prompts
from paddock.annotation.importers.records import (
    PROBLEM_KINDS,
    Axis,
    ImportProblem,
    ParsedPair,
    ParsedPreference,
    ParsedPrompt,
    ResponseSpec,
    RiskCategory,
    Turn,
)
from paddock.kernel.exchange import MAX_NAME_CHARS, MAX_TEXT_CHARS, MAX_TURNS
from paddock.kernel.hh_rlhf import HHTranscriptError

__all__ = [
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

