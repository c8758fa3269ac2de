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


def judge_all(batch, annotator, *, seed: int = 1) -> int:
    """``annotator`` judges every comparison of the (open) batch it may; how many."""
    import random

    from paddock.annotation.models import Axis, Strength
    from paddock.annotation.services.assignment import next_assignment, submit_judgement

    rng = random.Random(seed)
    judged = 0
    while (lease := next_assignment(annotator=annotator, batch=batch, rng=rng)) is not None:
        safety = lease.comparison.axis == Axis.SAFETY
        submit_judgement(annotator=annotator, assignment_id=lease.pk,
                         chosen_side=rng.choice(["left", "right"]),
                         strength=rng.choice(Strength.values),
                         left_safe=True if safety else None, right_safe=True if safety else None)
        judged += 1
    return judged


def step_context(run, step: str):
    """What the runner hands a step function, for calling one directly."""
    from paddock.workers.models import StepRun
    from paddock.workers.pipeline.runner import StepContext

    return StepContext(pipeline=PipelineRun.objects.get(pk=run.pk),
                       step=StepRun.objects.get(pipeline=run, step=step))


def set_result(run, step: str, result: dict) -> None:
    """Mark ``step`` of ``run`` done with ``result``, as if it had run."""
    from paddock.workers.models import StepRun

    StepRun.objects.filter(pipeline=run, step=step).update(state=RunState.SUCCEEDED,
                                                           result=result)


class FakeCLI:
    """Stands in for ``run_training_cli``: records each command; ``sample`` writes a pairs
    file answering every prompt (``fail_sampling`` first writes half of it, then dies)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.fail_sampling = False

    def commands(self, name: str) -> list[list[str]]:
        return [args for _, args in self.calls if args[0] == name]

    def __call__(self, ctx, module: str, args: list[str], **_kwargs) -> dict:
        import json
        from pathlib import Path

        self.calls.append((module, list(args)))
        option = {args[i]: args[i + 1] for i in range(1, len(args) - 1)
                  if args[i].startswith("--")}
        command = args[0]
        if command == "sample":
            with open(option["--conversations"], encoding="utf-8") as lines:
                prompts = [json.loads(line) for line in lines if line.strip()]
            records = [{**p, "response_a": {"text": f"A to {p['id']}",
                                            "model": option["--version-a"]},
                        "response_b": {"text": f"B to {p['id']}",
                                       "model": option["--version-b"]}} for p in prompts]
            lines = [json.dumps(r) + "\n" for r in records]
            if self.fail_sampling:  # killed mid-write
                Path(option["--output"]).write_text("".join(lines[: len(lines) // 2]))
                raise RuntimeError("the worker was killed while sampling")
            Path(option["--output"]).write_text("".join(lines))
            return {"event": "done", "output": option["--output"]}
        if command == "eval":
            return {"event": "done", "accuracy": 0.75, "pairs": 4,
                    "json": str(Path(option["--output"]) / "eval.json")}
        if command == "rejection":
            return {"event": "done", "output_dir": str(Path(option["--output"]) / "model"),
                    "pool": str(Path(option["--output"]) / "pool.jsonl"), "metrics": {}}
        if command == "ppo":
            return {"event": "done", "output_dir": option["--output"], "metrics": {}}
        raise AssertionError(f"unexpected command {args}")
