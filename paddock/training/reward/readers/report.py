"""What a pass over a preference file reports: counts, skips by reason, malformed records."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Errors beyond this many are still counted in ``skipped``, just not listed one by one:
# a wholly broken file must not hold a million messages in memory.
MAX_LISTED_ERRORS = 100


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
