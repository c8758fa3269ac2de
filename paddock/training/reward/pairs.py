"""One preference pair: a conversation so far, a chosen and a rejected response.

Every reader (the platform's export, HH-RLHF, OpenAssistant trees, UKP ConvArg) yields
these, so the trainer, the mixes and the evaluation never see a source format.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from paddock.kernel.vocabulary import AXES, STRENGTHS


@dataclass(frozen=True)
class Turn:
    role: str  # "system", "user" or "assistant"
    content: str


@dataclass(frozen=True)
class PreferencePair:
    """``context`` is oldest first and normally ends with the user turn both answer.

    ``strength`` is None where the source has none (public data without a strength
    level): it gets margin 0 and its own row in the per-strength table.
    ``chosen_safe``/``rejected_safe`` are set for safety judgements only.
    ``id`` is stable across runs: splits and samples are drawn by hashing it.
    ``margins`` holds the margin the source gives for each margin table (``small``,
    ``large``: the platform's export writes both on every record); the trainer uses it
    over its own table, which applies only where a source gives none.
    """

    id: str
    context: tuple[Turn, ...]
    chosen: str
    rejected: str
    axis: str
    source: str
    strength: str | None = None
    chosen_safe: bool | None = None
    rejected_safe: bool | None = None
    meta: dict = field(default_factory=dict, compare=False, hash=False)
    margins: dict[str, float] = field(default_factory=dict, compare=False, hash=False)
    # How much the judgement counts in a weighted loss (annotator reliability, see
    # paddock.annotation.quality.reliability); 1 where a source gives none.
    weight: float = field(default=1.0, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.axis not in AXES:
            raise ValueError(f"pair {self.id}: axis {self.axis!r} is not one of {AXES}")
        if not (isinstance(self.weight, int | float) and 0 <= self.weight < float("inf")):
            raise ValueError(f"pair {self.id}: weight {self.weight!r} is not a finite "
                             "number >= 0")
        if self.strength is not None and self.strength not in STRENGTHS:
            raise ValueError(f"pair {self.id}: strength {self.strength!r} is not one of "
                             f"{STRENGTHS}")

    @property
    def stable_hash(self) -> int:
        """64 bits of SHA-256 of the id: the same on every machine and Python run."""
        return int.from_bytes(hashlib.sha256(self.id.encode()).digest()[:8], "big")
