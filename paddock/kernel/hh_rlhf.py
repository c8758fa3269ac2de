"""Anthropic's HH-RLHF transcripts split into turns: one parser for the importer and the trainer.

A transcript is a conversation written as text, each turn introduced by
``"\\n\\nHuman:"`` or ``"\\n\\nAssistant:"`` (the first may also stand at the very start,
without the blank line). A ``"Human:"`` inside a line is text: responses quote it now and
then, so only the blank-line form separates turns. The annotation importer and the reward
trainer both split transcripts here, so the same line gives the same turns on both sides;
what each then accepts as a pair (the importer is strict, the trainer skips public-data
quirks by reason) is the caller's rule.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

__all__ = ["HHTranscriptError", "HHTurn", "parse_hh_transcript", "split_hh_response"]

USER: Final = "user"
ASSISTANT: Final = "assistant"
# A turn marker: at the very start, or after a blank line.
_MARKER: Final = re.compile(r"(?:\A|\n\n)(Human|Assistant):")
_ROLES: Final = {"Human": USER, "Assistant": ASSISTANT}


class HHTurn(NamedTuple):
    role: str  # "user" (Human) or "assistant"
    content: str  # stripped of the whitespace around it; inner newlines kept


class HHTranscriptError(ValueError):
    """A transcript that cannot be split into turns. ``reason`` is ``no_marker`` (no turn
    marker at all) or ``text_before_marker`` (text before the first one)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.kind = "malformed_transcript"
        self.reason = reason


def parse_hh_transcript(text: str) -> tuple[HHTurn, ...]:
    """Split an HH-RLHF transcript into turns, faithfully and without judging them.

    Empty turns, consecutive turns of one role and a last turn that is not the
    Assistant's are returned as they are: the readers decide what to make of them.

    Raises:
        HHTranscriptError: the text has no turn marker, or text before the first one.
    """
    turns: list[HHTurn] = []
    role: str | None = None
    start = 0
    for marker in _MARKER.finditer(text):
        if role is None:
            if text[: marker.start()].strip():
                raise HHTranscriptError(
                    'text before the first "Human:"/"Assistant:" turn marker',
                    "text_before_marker",
                )
        else:
            turns.append(HHTurn(role, text[start : marker.start()].strip()))
        role = _ROLES[marker.group(1)]
        start = marker.end()
    if role is None:
        raise HHTranscriptError(
            'no "\\n\\nHuman:" or "\\n\\nAssistant:" turn marker', "no_marker"
        )
    turns.append(HHTurn(role, text[start:].strip()))
    return tuple(turns)


def split_hh_response(text: str) -> tuple[tuple[HHTurn, ...], str]:
    """The turns before the transcript's last Assistant marker, and everything after it
    (stripped) as the response: the reward trainer's view of a pair's side.

    Unlike :func:`parse_hh_transcript`'s last turn, the response keeps a ``"\n\nHuman:"``
    the model itself wrote after it (a few HH-RLHF samples continue the dialogue on their
    own): it is what the model said, and the trained pairs have always kept it whole. The
    importer refuses such a transcript instead (``no_assistant_turn``): annotators should
    not judge a response that speaks for the user.

    Raises:
        HHTranscriptError: no Assistant marker (``reason`` ``no_marker``), or text before
            the first marker (``text_before_marker``).
    """
    last = None
    for marker in _MARKER.finditer(text):
        if marker.group(1) == "Assistant":
            last = marker
    if last is None:
        raise HHTranscriptError('no "\\n\\nAssistant:" turn marker', "no_marker")
    context = parse_hh_transcript(text[: last.start()]) if text[: last.start()].strip() else ()
    return context, text[last.end() :].strip()
