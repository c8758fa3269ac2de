"""Shared by the pipeline tests: tiny base models once per session, a fast plan."""

from __future__ import annotations

import time

from paddock.workers.models import PipelineRun, RunState

# Small enough for two CPU cores: one epoch over a few dozen pairs, 4 samples per prompt.
FAST_PLAN = {
    "reward": {"epochs": 1, "max_length": 128, "batch_pairs": 8, "micro_batch_pairs": 8},
    "rejection": {"k": 2, "max_new_tokens": 12, "epochs": 1},
    "sampling": {"max_prompts": 6, "max_new_tokens": 12},
}


def wait_for_run(run_id, *, workers, timeout=300.0, states=(RunState.SUCCEEDED,
                                                            RunState.FAILED)) -> PipelineRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = PipelineRun.objects.get(pk=run_id)
        if run.state in states:
            return run
        time.sleep(0.5)
    steps = "\n".join(f"  {s.step}: {s.state} {s.message}" for s in run.steps.all())
    logs = "\n\n".join(w.log()[-4000:] for w in workers)
    raise AssertionError(f"run stayed {run.state} for {timeout} s:\n{steps}\n{logs}")
