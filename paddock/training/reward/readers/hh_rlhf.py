"""Anthropic HH-RLHF transcripts, split by the kernel's parser (the annotation importer's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from paddock.kernel.hh_rlhf import HHTranscriptError, split_hh_response
from paddock.training.reward.pairs import PreferencePair, Turn
from paddock.training.reward.readers.reader import PairReader, Parsed, Skip, check_axis, get_field


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
    axis = check_axis(axis)
    source = source or f"hh-rlhf:{Path(path).parent.name}"

    def parse(record: dict[str, Any], number: int) -> Parsed:
        return Parsed([_hh_record(record, number, axis, source)])

    return PairReader(path, parse, source=source, strict=strict)


def _hh_record(record: dict[str, Any], number: int, axis: str,
               source: str) -> PreferencePair | Skip:
    chosen = get_field(record, "chosen", str)
    rejected = get_field(record, "rejected", str)
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
