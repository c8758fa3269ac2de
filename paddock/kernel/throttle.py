"""How often a long step's progress reaches the database: one rule for every writer.

A step may report for every document or every training step; a row written that often
would make the database the bottleneck. Jobs, pipeline steps and curation runs all write
through a :class:`ProgressThrottle`: at most one write per ``interval`` seconds, except
that the first report and a final one (fraction 1, or no fraction: a status line or a log
line) always pass, so a finished step never shows a stale figure.
"""

from __future__ import annotations

import time


class ProgressThrottle:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: float | None = None

    def ready(self, fraction: float | None) -> bool:
        """Whether a report of ``fraction`` should be written now (and note it if so)."""
        now = time.monotonic()
        if (fraction is not None and fraction < 1.0 and self._last is not None
                and now - self._last < self.interval):
            return False
        self._last = now
        return True
