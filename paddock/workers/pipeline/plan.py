"""The steps of a pipeline run, in order, and the per-run plan that switches them.

The plan is stored on the run (JSON) when it starts, so a later change of the defaults
never changes what an earlier run did, and a re-run repeats the same plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paddock.workers.queues import Queue


@dataclass(frozen=True)
class StepSpec:
    name: str
    queue: Queue
    title: str
    group: str = ""  # steps of one group run in parallel (a Celery group in a chord)
    optional: bool = False  # the plan may switch it off


STEPS: tuple[StepSpec, ...] = (
    StepSpec("close_batch", Queue.DEFAULT, "Close the batch"),
    StepSpec("export", Queue.CURATION, "Export judgements and prompts"),
    StepSpec("train_helpfulness_rm", Queue.TRAINING, "Train the helpfulness RM", group="rms"),
    StepSpec("train_safety_rm", Queue.TRAINING, "Train the safety RM", group="rms"),
    StepSpec("evaluate_rms", Queue.TRAINING, "Evaluate both RMs on the held-out split"),
    StepSpec("rejection_sampling", Queue.TRAINING, "Rejection sampling, then SFT",
             optional=True),
    StepSpec("ppo", Queue.TRAINING, "PPO", optional=True),
    StepSpec("register_policy", Queue.DEFAULT, "Register the new policy"),
    StepSpec("sample_next_batch", Queue.GENERATION, "Sample the next batch's comparisons",
             optional=True),
    StepSpec("open_next_batch", Queue.DEFAULT, "Open the next batch", optional=True),
)
STEP_NAMES: tuple[str, ...] = tuple(step.name for step in STEPS)
BY_NAME: dict[str, StepSpec] = {step.name: step for step in STEPS}


def default_plan() -> dict[str, Any]:
    """The Llama 2 schedule's defaults: rejection sampling every round, PPO switched on by
    the data manager from the round where the paper added it (RLHF-V5)."""
    return {
        "steps": {step.name: step.name != "ppo" for step in STEPS if step.optional},
        "reward": {"epochs": 1, "max_length": 512, "batch_pairs": 16, "micro_batch_pairs": 8,
                   "learning_rate": 1e-5},
        "rejection": {"k": 4, "max_new_tokens": 64, "epochs": 1},
        "ppo": {"iterations": 2, "batch_size": 8, "minibatch_size": 4, "max_new_tokens": 32},
        "sampling": {"max_prompts": 64, "max_new_tokens": 64},
        "public_data": [],  # extra FORMAT=PATH inputs for both reward models
    }


def plan_with(overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults, with ``overrides`` merged one level deep; unknown keys are refused."""
    plan = default_plan()
    for key, value in (overrides or {}).items():
        if key not in plan:
            raise ValueError(f"plan: unknown key {key!r}; expected one of {', '.join(plan)}")
        if isinstance(plan[key], dict):
            if not isinstance(value, dict):
                raise ValueError(f"plan: {key!r} must be an object")
            unknown = set(value) - set(plan[key])
            if unknown:
                raise ValueError(f"plan.{key}: unknown {', '.join(sorted(unknown))}; "
                                 f"expected {', '.join(plan[key])}")
            plan[key] = {**plan[key], **value}
        else:
            plan[key] = value
    return plan


def step_enabled(plan: dict[str, Any], name: str) -> bool:
    return not BY_NAME[name].optional or bool(plan.get("steps", {}).get(name, True))
