"""The pipeline plan: presets, overrides, and the checks that refuse a plan the trainers
would refuse hours later. No database, no worker: plain dictionaries."""

from __future__ import annotations

import dataclasses
import json

import pytest

from paddock.workers.pipeline import plan as plan_module
from paddock.workers.pipeline.plan import (
    PRESETS,
    STEPS,
    default_plan,
    plan_for_preset,
    plan_with,
    preset_of,
    step_enabled,
)

KEYS = {
    "preset": None,
    "steps": {"rejection_sampling", "ppo", "sample_next_batch", "open_next_batch"},
    "reward": {"epochs", "max_length", "batch_pairs", "micro_batch_pairs", "learning_rate"},
    "rejection": {"k", "max_new_tokens", "epochs", "temperature", "max_prompts",
                  "learning_rate", "batch_sequences"},
    "ppo": {"iterations", "batch_size", "minibatch_size", "micro_batch_size", "max_new_tokens",
            "eval_every", "patience", "max_eval_prompts"},
    "sampling": {"max_prompts", "max_new_tokens", "temperature"},
    "held_out": {"fraction", "max"},
    "public_data": None,
}


@pytest.mark.parametrize("name", ["demo", "recipe"])
def test_every_preset_has_exactly_the_keys_the_steps_read(name):
    plan = plan_for_preset(name)
    assert set(plan) == set(KEYS)
    for key, sub in KEYS.items():
        if sub is not None:
            assert set(plan[key]) == sub, key
    assert plan["preset"] == name
    assert set(plan["steps"]) == {step.name for step in STEPS if step.optional}


def test_demo_is_the_default_and_ppo_is_off_until_switched_on():
    assert default_plan() == plan_for_preset("demo") == plan_with(None) == plan_with({})
    assert default_plan()["preset"] == "demo"
    assert not step_enabled(default_plan(), "ppo")
    assert step_enabled(default_plan(), "rejection_sampling")
    assert step_enabled(default_plan(), "export")  # not optional: always on


def test_switching_ppo_on_gives_sizes_the_ppo_trainer_accepts():
    """Before presets, {"steps": {"ppo": true}} ran PPO with minibatch 4 against
    PPOConfig's default micro batch of 8, which it refused at run time."""
    from paddock.training.policy.ppo_config import PPOConfig

    known = {f.name for f in dataclasses.fields(PPOConfig)}
    for name in PRESETS:
        plan = plan_with({"preset": name, "steps": {"ppo": True}})
        assert step_enabled(plan, "ppo")
        assert "micro_batch_size" in plan["ppo"]
        sizes = {k: v for k, v in plan["ppo"].items() if k in known}
        PPOConfig(policy_path="p", output_dir="o", **sizes)  # raises on a bad size


def test_reward_sizes_are_reward_config_fields_it_accepts():
    from paddock.training.reward.config import RewardConfig

    for name in PRESETS:
        RewardConfig.from_dict({"model_path": "m", "output_dir": "o",
                                **plan_for_preset(name)["reward"]})


def test_demo_sizes():
    plan = plan_for_preset("demo")
    assert plan["reward"] == {"epochs": 2, "max_length": 256, "batch_pairs": 8,
                              "micro_batch_pairs": 8, "learning_rate": 5e-5}
    assert plan["rejection"] == {"k": 4, "max_new_tokens": 96, "epochs": 2,
                                 "temperature": 0.8, "max_prompts": 48,
                                 "learning_rate": 2e-5, "batch_sequences": 8}
    assert {k: plan["ppo"][k] for k in ("iterations", "batch_size", "minibatch_size",
                                       "micro_batch_size", "eval_every", "patience")} == {
        "iterations": 4, "batch_size": 8, "minibatch_size": 4, "micro_batch_size": 4,
        "eval_every": 2, "patience": 2}
    assert plan["sampling"] == {"max_prompts": 32, "max_new_tokens": 128, "temperature": 0.7}
    assert plan["held_out"] == {"fraction": 0.2, "max": 1000}


def test_recipe_preset_is_the_papers_sizes():
    from paddock.training import recipe

    plan = plan_for_preset("recipe")
    assert plan["reward"]["batch_pairs"] == recipe.RM_BATCH_PAIRS == 512
    assert plan["reward"]["learning_rate"] == recipe.RM_LEARNING_RATE
    assert plan["reward"]["epochs"] == recipe.RM_EPOCHS == 1
    assert plan["rejection"]["temperature"] == recipe.REJECTION_TEMPERATURE
    assert plan["rejection"]["k"] >= 10
    assert plan["rejection"]["epochs"] == recipe.SFT_EPOCHS
    assert plan["rejection"]["learning_rate"] == recipe.SFT_LEARNING_RATE
    assert plan["rejection"]["batch_sequences"] == recipe.SFT_BATCH_SEQUENCES
    assert plan["ppo"]["batch_size"] == recipe.PPO_BATCH
    assert plan["ppo"]["minibatch_size"] == recipe.PPO_MINIBATCH
    assert plan["ppo"]["iterations"] == recipe.PPO_ITERATIONS[0]
    assert plan["ppo"]["eval_every"] > 0  # early stopping on held-out prompts
    assert plan["held_out"]["max"] == 1000


def test_restated_recipe_numbers_equal_paddock_training_recipe():
    """plan.py is imported by the web process, which never imports paddock.training:
    it restates the paper's numbers, and this keeps the copies equal."""
    from paddock.training import recipe

    assert plan_module.RM_EPOCHS == recipe.RM_EPOCHS
    assert plan_module.RM_LEARNING_RATE == recipe.RM_LEARNING_RATE
    assert plan_module.RM_BATCH_PAIRS == recipe.RM_BATCH_PAIRS
    assert plan_module.SFT_EPOCHS == recipe.SFT_EPOCHS
    assert plan_module.SFT_LEARNING_RATE == recipe.SFT_LEARNING_RATE
    assert plan_module.SFT_BATCH_SEQUENCES == recipe.SFT_BATCH_SEQUENCES
    assert plan_module.REJECTION_TEMPERATURE == recipe.REJECTION_TEMPERATURE
    assert plan_module.PPO_BATCH == recipe.PPO_BATCH
    assert plan_module.PPO_MINIBATCH == recipe.PPO_MINIBATCH
    assert plan_module.PPO_ITERATIONS == recipe.PPO_ITERATIONS[0]


def test_plan_module_does_not_import_paddock_training():
    source = plan_module.__file__
    with open(source, encoding="utf-8") as text:
        assert "paddock.training" not in "".join(
            line for line in text if line.startswith(("import", "from")))


def test_overrides_merge_one_level_deep_on_the_named_preset():
    plan = plan_with({"preset": "recipe", "steps": {"ppo": True}, "ppo": {"iterations": 400}})
    assert plan["preset"] == "recipe"
    assert plan["ppo"]["iterations"] == 400 and plan["ppo"]["batch_size"] == 512
    assert plan["steps"] == {"rejection_sampling": True, "ppo": True,
                             "sample_next_batch": True, "open_next_batch": True}
    assert plan_for_preset("demo", {"reward": {"epochs": 3}})["reward"]["max_length"] == 256
    # The presets themselves are never changed by a merge.
    plan["ppo"]["iterations"] = 1
    plan["public_data"].append("x=y")
    assert PRESETS["recipe"]["ppo"]["iterations"] == 200 and PRESETS["recipe"]["public_data"] == []
    assert preset_of(plan) == "recipe" and preset_of({"steps": {}}) is None


@pytest.mark.parametrize(("overrides", "message"), [
    ({"ppo": {"micro_batch_size": 8}},
     "plan.ppo: minibatch_size 4 is not a multiple of micro_batch_size 8"),
    ({"ppo": {"batch_size": 10}}, "plan.ppo: batch_size 10 is not a multiple of minibatch_size 4"),
    ({"reward": {"batch_pairs": 12}},
     "plan.reward: batch_pairs 12 is not a multiple of micro_batch_pairs 8"),
    ({"reward": {"epochs": 0}}, "plan.reward: epochs must be at least 1, not 0"),
    ({"reward": {"max_length": 2.5}}, "plan.reward: max_length must be a whole number"),
    ({"reward": {"learning_rate": 0}}, "plan.reward: learning_rate must be a number above 0"),
    ({"reward": {"micro_batch_pairs": True}}, "plan.reward: micro_batch_pairs must be a whole"),
    ({"rejection": {"k": 1}}, "plan.rejection: k must be at least 2, not 1"),
    ({"rejection": {"temperature": 0}}, "plan.rejection: temperature must be a number above 0"),
    ({"rejection": {"temperature": "hot"}}, "plan.rejection: temperature must be a number"),
    ({"sampling": {"temperature": -1}}, "plan.sampling: temperature must be a number above 0"),
    ({"sampling": {"max_prompts": 0}}, "plan.sampling: max_prompts must be at least 1"),
    ({"ppo": {"eval_every": -1}}, "plan.ppo: eval_every must be at least 0"),
    ({"ppo": {"patience": 0}}, "plan.ppo: patience must be at least 1"),
    ({"held_out": {"fraction": 1}}, "plan.held_out: fraction must be a number between 0 and 1"),
    ({"held_out": {"fraction": 0}}, "plan.held_out: fraction must be a number between 0 and 1"),
    ({"held_out": {"max": 0}}, "plan.held_out: max must be at least 1"),
    ({"steps": {"ppo": "yes"}}, "plan.steps: ppo must be true or false"),
    ({"steps": {"train": True}}, "plan.steps: unknown train"),
    ({"ppo": {"learning_rate": 1}}, "plan.ppo: unknown learning_rate"),
    ({"nope": 1}, "plan: unknown key 'nope'"),
    ({"reward": 5}, "plan: 'reward' must be an object"),
    ({"public_data": "hh=x"}, "plan.public_data must be a list"),
    ({"public_data": ["just-a-path"]}, "plan.public_data: 'just-a-path' is not FORMAT=PATH"),
    ({"public_data": ["hh-rlhf=/data/harmless.jsonl.gz"]},
     "plan.public_data: 'hh-rlhf=/data/harmless.jsonl.gz' names the format 'hh-rlhf'; "
     "reward-model training reads paddock, hh-helpful, hh-harmless"),
    ({"preset": "huge"}, "plan.preset: unknown preset 'huge'; expected one of demo, recipe"),
    ({"preset": 3}, "plan.preset: 3 is not a preset name"),
])
def test_bad_plans_are_refused_naming_the_key(overrides, message):
    with pytest.raises(ValueError) as error:
        plan_with(overrides)
    assert str(error.value).startswith(message), str(error.value)


def test_plan_for_preset_refuses_unknown_names_and_a_conflicting_preset():
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        plan_for_preset("nope")
    with pytest.raises(ValueError, match="overrides name preset 'demo'"):
        plan_for_preset("recipe", {"preset": "demo"})
    assert plan_for_preset("recipe", {"preset": "recipe"})["preset"] == "recipe"
    with pytest.raises(ValueError, match="must be an object"):
        plan_with(["steps"])  # type: ignore[arg-type]


@pytest.mark.django_db
def test_a_batch_with_a_refused_stored_plan_is_named_and_the_tick_goes_on():
    from datetime import timedelta

    from django.utils import timezone

    from paddock.annotation.models import Batch, BatchStatus
    from paddock.workers.models import PipelineRun
    from paddock.workers.pipeline.service import pipeline_start, pipelines_tick

    past = timezone.now() - timedelta(days=1)
    broken = Batch.objects.create(name="broken plan", status=BatchStatus.OPEN,
                                  opens_at=past - timedelta(days=7), closes_at=past,
                                  pipeline_plan=["not", "an", "object"])
    with pytest.raises(ValueError, match="broken plan: its stored plan must be a JSON object"):
        pipeline_start(broken)
    Batch.objects.filter(pk=broken.pk).update(pipeline_plan={"ppo": {"minibatch_size": 3}})
    result = pipelines_tick(now=timezone.now())
    assert result["started"] == [] and PipelineRun.objects.count() == 0
    assert len(result["refused"]) == 1
    assert result["refused"][0].startswith("broken plan: plan.ppo: ")


def test_a_sampling_pass_shows_as_progress_on_the_step():
    from paddock.workers.pipeline.child import _describe

    fraction, message = _describe({"event": "sampling", "what": "4 samples per prompt",
                                   "step": 12, "total_steps": 48})
    assert fraction == 0.25 and message == "sampled 12/48 responses (4 samples per prompt)"
    assert _describe({"event": "progress", "step": 3, "total_steps": 6, "loss": 0.5})[1] == (
        "step 3/6, loss 0.5000")


def test_rejection_sampling_passes_its_sft_settings_to_the_trainer():
    from paddock.training.policy.sft import SFTConfig
    from paddock.workers.pipeline.steps import _sft_settings

    for name in ("demo", "recipe"):
        settings = dict(item.split("=", 1) for item in _sft_settings(
            plan_for_preset(name)["rejection"]))
        config = SFTConfig(model_path="m", output_dir="o",
                           **{key: json.loads(value) for key, value in settings.items()})
        assert config.batch_sequences == plan_for_preset(name)["rejection"]["batch_sequences"]
        assert config.learning_rate == plan_for_preset(name)["rejection"]["learning_rate"]
    # A plan stored before the SFT keys existed still runs, on SFTConfig's defaults.
    assert _sft_settings({"epochs": 1}) == ["epochs=1"]
