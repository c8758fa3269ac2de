"""What readers yield: documents, and problems found on the way, both with their place.

A reader never raises for one bad record: it yields a :class:`ReadProblem` naming the
file and the line or byte offset, and goes on, so a run over a large crawl reports every
bad record instead of dying on the first. Only a source that cannot be opened at all
raises :class:`CurationInputError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class CurationInputError(Exception):
    """A source cannot be read at all (missing file, unreadable folder); one clear line."""


@dataclass(frozen=True, slots=True)
class RawDocument:
    text: str
    source: str  # the input file, as given to the reader
    locator: str  # where in the source: "line 12", "offset 40961", "file a/b.txt"
    url: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)  # passthrough fields


@dataclass(frozen=True, slots=True)
class ReadProblem:
    source: str
    locator: str
    kind: str  # a stable slug: malformed_json, missing_text, not_utf8, truncated, ...
    detail: str

    def __str__(self) -> str:
        return f"{self.source}: {self.locator}: {self.kind}: {self.detail}"
