"""The steps of a pipeline run, in order, and the per-run plan that switches and sizes them.

The plan is stored on the run (JSON) when it starts, so a later change of the defaults
never changes what an earlier run did, and a re-run repeats the same plan.

A plan starts from a named preset (:data:`PRESETS`): ``demo``, sized to finish in minutes
on two CPU cores with SmolLM2-135M as the policy and MiniLM as the reward base, and
``recipe``, the Llama 2 paper's sizes (``/work/shared/reference/llama2-recipe.md``). A
batch's ``pipeline_plan`` names its preset and overrides a few values one level deep,
e.g. ``{"preset": "recipe", "steps": {"ppo": true}, "ppo": {"iterations": 400}}``.
Every plan is checked when it is made (:func:`validate_plan`), so a size the trainers
would refuse hours later (a minibatch that is not a multiple of the micro batch...) is
refused on the form that set it, with the key and what is wrong.

This module is imported by the web process: it must not import ``paddock.training``
(not even its torch-free ``recipe``; ``tests/test_import_boundaries.py``), so the
paper's numbers are restated below and ``tests/workers/test_pipeline_plan.py`` holds
them equal to :mod:`paddock.training.recipe`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

from paddock.kernel.vocabulary import REWARD_DATA_FORMATS
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


# --- the Llama 2 recipe's numbers (paddock.training.recipe; a test holds them equal) ----

RM_EPOCHS = 1  # section 3.2.2: "training longer can lead to over-fitting"
RM_LEARNING_RATE = 1e-5  # section 3.2.2 (5e-6 for 70B)
RM_BATCH_PAIRS = 512  # section 3.2.2
SFT_EPOCHS = 2  # section 3.1, also for the rejection-sampled data (section 3.2.3)
SFT_LEARNING_RATE = 2e-5  # section 3.1
SFT_BATCH_SEQUENCES = 64  # section 3.1
REJECTION_TEMPERATURE = 1.2  # section 3.2.3: best at 10-100 samples was 1.2-1.3
PPO_BATCH = 512  # section 3.2.3
PPO_MINIBATCH = 64  # section 3.2.3: one gradient step per minibatch
PPO_ITERATIONS = 200  # section 3.2.3: 200-400, with early stopping on held-out prompts
HELD_OUT_PER_BATCH = 1000  # section 3.2.1: 1,000 examples of each batch held out

DEFAULT_PRESET = "demo"

PRESETS: dict[str, dict[str, Any]] = {
    # Minutes on 2 CPU cores: SmolLM2-135M policy, MiniLM reward base. Same loop, same
    # rules (margins, pooled rejection sampling, KL-penalised PPO), small sizes.
    "demo": {
        "preset": "demo",
        "steps": {"rejection_sampling": True, "ppo": False, "sample_next_batch": True,
                  "open_next_batch": True},
        "reward": {"epochs": 2, "max_length": 256, "batch_pairs": 8, "micro_batch_pairs": 8,
                   "learning_rate": 5e-5},
        # Temperature 0.8, not the paper's 1.2: at 1.2 SmolLM2-135M writes word salad, and
        # SFT on the best of K nonsense answers made the policy worse (benchmarks/loop.py).
        # The SFT batch is small so a few dozen prompts still make several steps.
        "rejection": {"k": 4, "max_new_tokens": 96, "epochs": 2, "temperature": 0.8,
                      "max_prompts": 48, "learning_rate": SFT_LEARNING_RATE,
                      "batch_sequences": 8},
        "ppo": {"iterations": 4, "batch_size": 8, "minibatch_size": 4, "micro_batch_size": 4,
                "max_new_tokens": 64, "eval_every": 2, "patience": 2, "max_eval_prompts": 16},
        "sampling": {"max_prompts": 32, "max_new_tokens": 128, "temperature": 0.7},
        "held_out": {"fraction": 0.2, "max": HELD_OUT_PER_BATCH},
        "public_data": [],  # extra FORMAT=PATH inputs for both reward models
    },
    # The paper's sizes (Llama 2, sections 3.2.1-3.2.3): GPU workers and a 7B-class
    # policy. Sizes the paper does not give (micro batches, token budgets, prompt caps,
    # evaluation cadence) are this platform's choices, marked as such.
    "recipe": {
        "preset": "recipe",
        "steps": {"rejection_sampling": True, "ppo": False, "sample_next_batch": True,
                  "open_next_batch": True},
        "reward": {"epochs": RM_EPOCHS,
                   "max_length": 4096,  # Llama 2's context length (section 2.2)
                   "batch_pairs": RM_BATCH_PAIRS,
                   "micro_batch_pairs": 8,  # ours: accumulated to 512, fits one 80 GB GPU
                   "learning_rate": RM_LEARNING_RATE},
        "rejection": {"k": 10,  # the paper explored 10-100 samples per prompt
                      "max_new_tokens": 1024,  # ours
                      "epochs": SFT_EPOCHS, "temperature": REJECTION_TEMPERATURE,
                      "max_prompts": 20000,  # ours: a cap, most batches have fewer
                      "learning_rate": SFT_LEARNING_RATE,
                      "batch_sequences": SFT_BATCH_SEQUENCES},
        "ppo": {"iterations": PPO_ITERATIONS, "batch_size": PPO_BATCH,
                "minibatch_size": PPO_MINIBATCH,
                "micro_batch_size": 8,  # ours: accumulated to the minibatch of 64
                "max_new_tokens": 1024,  # ours
                "eval_every": 10, "patience": 3,  # ours (PPOConfig's defaults)
                "max_eval_prompts": 1000},  # ours
        "sampling": {"max_prompts": 20000,  # ours: a cap on the next batch's pairs
                     "max_new_tokens": 1024, "temperature": 1.0},  # ours
        "held_out": {"fraction": 0.2, "max": HELD_OUT_PER_BATCH},
        "public_data": [],
    },
}

# What each preset is for, as the console offers it.
PRESET_TITLES: dict[str, str] = {
    "demo": "Demo: minutes on 2 CPU cores (SmolLM2-135M policy, MiniLM reward base)",
    "recipe": "Llama 2 recipe: the paper's sizes (reward batch 512 pairs, rejection "
              "sampling K=10 at 1.2, PPO 512/64 for 200 iterations); GPU workers",
}

# The keys every plan has, and their sub-keys (what steps.py reads).
PLAN_KEYS: dict[str, tuple[str, ...] | None] = {
    key: (tuple(value) if isinstance(value, dict) else None)
    for key, value in PRESETS[DEFAULT_PRESET].items()
}


def default_plan() -> dict[str, Any]:
    """The default preset (``demo``): rejection sampling every round, PPO switched on by
    the data manager from the round where the paper added it (RLHF-V5)."""
    return plan_for_preset(DEFAULT_PRESET)


def plan_for_preset(name: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Preset ``name`` with ``overrides`` merged one level deep, checked; unknown keys and
    sizes the trainers would refuse raise ValueError naming the key."""
    if name not in PRESETS:
        raise ValueError(f"plan.preset: unknown preset {name!r}; expected one of "
                         f"{', '.join(PRESETS)}")
    if overrides is not None and not isinstance(overrides, dict):
        raise ValueError("plan: must be an object")
    plan = copy.deepcopy(PRESETS[name])
    overrides = dict(overrides or {})
    if overrides.get("preset", name) != name:
        raise ValueError(f"plan.preset: overrides name preset {overrides['preset']!r}, "
                         f"not {name!r}")
    overrides.pop("preset", None)
    for key, value in overrides.items():
        if key not in plan:
            raise ValueError(f"plan: unknown key {key!r}; expected one of {', '.join(plan)}")
        if isinstance(plan[key], dict):
            if not isinstance(value, dict):
                raise ValueError(f"plan: {key!r} must be an object")
            unknown = set(value) - set(plan[key])
            if unknown:
                raise ValueError(f"plan.{key}: unknown {', '.join(sorted(unknown))}; "
                                 f"expected {', '.join(plan[key])}")
            plan[key] = {**plan[key], **copy.deepcopy(value)}
        else:
            plan[key] = copy.deepcopy(value)
    validate_plan(plan)
    return plan


def plan_with(overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The preset ``overrides`` names (``demo`` when it names none), with the rest of
    ``overrides`` merged one level deep; unknown keys and bad sizes are refused."""
    if overrides is not None and not isinstance(overrides, dict):
        raise ValueError("plan: must be an object")
    overrides = dict(overrides or {})
    name = overrides.pop("preset", DEFAULT_PRESET)
    if not isinstance(name, str):
        raise ValueError(f"plan.preset: {name!r} is not a preset name; expected one of "
                         f"{', '.join(PRESETS)}")
    return plan_for_preset(name, overrides)


def preset_of(plan: dict[str, Any] | None) -> str | None:
    """The preset a stored plan was made from; None for a plan from before presets."""
    name = (plan or {}).get("preset")
    return name if isinstance(name, str) else None


def step_enabled(plan: dict[str, Any], name: str) -> bool:
    return not BY_NAME[name].optional or bool(plan.get("steps", {}).get(name, True))


# --- checks ----------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _check(section: str, values: dict[str, Any], rules: dict[str, str]) -> None:
    """``rules``: key -> "int>0", "int>=0", "int>=2", "num>0" or "fraction"."""
    for key, rule in rules.items():
        value = values[key]
        where = f"plan.{section}: {key}"
        if rule.startswith("int"):
            low = int(rule.split(">=")[1]) if ">=" in rule else 1
            if not _is_int(value):
                raise ValueError(f"{where} must be a whole number, not {value!r}")
            if value < low:
                raise ValueError(f"{where} must be at least {low}, not {value}")
        elif rule == "num>0":
            if not _is_number(value) or value <= 0:
                raise ValueError(f"{where} must be a number above 0, not {value!r}")
        elif rule == "fraction":
            if not _is_number(value) or not 0 < value < 1:
                raise ValueError(f"{where} must be a number between 0 and 1 (both "
                                 f"excluded), not {value!r}")


def _multiple(section: str, values: dict[str, Any], big: str, small: str) -> None:
    if values[big] % values[small]:
        raise ValueError(f"plan.{section}: {big} {values[big]} is not a multiple of "
                         f"{small} {values[small]}")


def validate_plan(plan: dict[str, Any]) -> None:
    """Raise ValueError naming the first key that is missing or wrong."""
    for key, sub in PLAN_KEYS.items():
        if key not in plan:
            raise ValueError(f"plan: {key!r} is missing")
        if sub is not None:
            if not isinstance(plan[key], dict):
                raise ValueError(f"plan: {key!r} must be an object")
            missing = [name for name in sub if name not in plan[key]]
            if missing:
                raise ValueError(f"plan.{key}: {', '.join(missing)} missing")
    if plan["preset"] not in PRESETS:
        raise ValueError(f"plan.preset: unknown preset {plan['preset']!r}; expected one of "
                         f"{', '.join(PRESETS)}")
    for name, on in plan["steps"].items():
        if not isinstance(on, bool):
            raise ValueError(f"plan.steps: {name} must be true or false, not {on!r}")
    reward = plan["reward"]
    _check("reward", reward, {"epochs": "int>0", "max_length": "int>0",
                              "batch_pairs": "int>0", "micro_batch_pairs": "int>0",
                              "learning_rate": "num>0"})
    _multiple("reward", reward, "batch_pairs", "micro_batch_pairs")
    _check("rejection", plan["rejection"], {
        "k": "int>=2", "max_new_tokens": "int>0", "epochs": "int>0", "temperature": "num>0",
        "max_prompts": "int>0", "learning_rate": "num>0", "batch_sequences": "int>0"})
    ppo = plan["ppo"]
    _check("ppo", ppo, {"iterations": "int>0", "batch_size": "int>0",
                        "minibatch_size": "int>0", "micro_batch_size": "int>0",
                        "max_new_tokens": "int>0", "eval_every": "int>=0",
                        "patience": "int>0", "max_eval_prompts": "int>0"})
    _multiple("ppo", ppo, "batch_size", "minibatch_size")
    _multiple("ppo", ppo, "minibatch_size", "micro_batch_size")
    _check("sampling", plan["sampling"], {"max_prompts": "int>0", "max_new_tokens": "int>0",
                                          "temperature": "num>0"})
    _check("held_out", plan["held_out"], {"fraction": "fraction", "max": "int>0"})
    public = plan["public_data"]
    if not isinstance(public, list):
        raise ValueError(f"plan.public_data must be a list of FORMAT=PATH, not {public!r}")
    for item in public:
        if not isinstance(item, str) or "=" not in item or not all(item.partition("=")[::2]):
            raise ValueError(f"plan.public_data: {item!r} is not FORMAT=PATH")
        if item.partition("=")[0] not in REWARD_DATA_FORMATS:
            raise ValueError(
                f"plan.public_data: {item!r} names the format {item.partition('=')[0]!r}; "
                f"reward-model training reads {', '.join(REWARD_DATA_FORMATS)}")
