"""Response generators for tests that run a real generation worker."""

from __future__ import annotations

import time

from paddock.annotation.generation import StandInGenerator


class SlowStandInGenerator(StandInGenerator):
    """Sampling takes a while, as on a GPU worker: pages must show that they wait."""

    def generate(self, turns, variants, *, seed):
        time.sleep(0.8)
        return super().generate(turns, variants, seed=seed)
