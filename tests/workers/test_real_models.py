"""The real base models: SmolLM2 converted and registered as the first policy, answering
written prompts and the demo's live batch; tiny test models never answer people."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from paddock.annotation.generation import StandInGenerator, default_variants
from paddock.annotation.models import Axis, Comparison
from paddock.annotation.services.comparisons import TurnSpec
from paddock.kernel.origin import ORIGIN_FILE, is_tiny
from paddock.kernel.registry import POLICY, ModelRegistry
from paddock.training.tiny import build_tiny_llama
from paddock.workers.demo import (
    DEMO_LIVE_BATCH,
    LIVE_HELPFUL,
    LIVE_SAFETY,
    demo_live_batch_fill,
    demo_live_batch_seed,
)
from paddock.workers.generation import PolicyGenerator, TinyModelRefused


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory):
    """SmolLM2-135M-Instruct converted once for the session (about half a minute)."""
    from paddock.training.bases import convert_smollm2

    return convert_smollm2(tmp_path_factory.mktemp("bases") / "smollm2")


def test_smollm2_becomes_a_plain_checkpoint_with_its_licence(smollm2):
    from transformers import AutoTokenizer, LlamaForCausalLM

    config = json.loads((smollm2 / "config.json").read_text())
    assert "quantization_config" not in config  # loads as an ordinary float checkpoint
    assert config["model_type"] == "llama" and config["num_hidden_layers"] == 30
    origin = json.loads((smollm2 / ORIGIN_FILE).read_text())
    assert origin["licence"] == "Apache-2.0" and origin["model"] == "SmolLM2-135M-Instruct"
    assert not is_tiny(smollm2)
    model = LlamaForCausalLM.from_pretrained(smollm2)
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    tokenizer = AutoTokenizer.from_pretrained(smollm2)
    assert tokenizer.chat_template  # its own chat template, not the Llama 2 fallback


@pytest.mark.django_db
def test_bootstrap_registers_smollm2_and_replaces_a_tiny_demo_model(smollm2, settings,
                                                                       tmp_path, monkeypatch):
    settings.MODEL_REGISTRY_DIR = tmp_path / "models"
    settings.PADDOCK_POLICY_BASE_MODEL = str(tmp_path / "base" / "policy-base")
    settings.PADDOCK_REWARD_BASE_MODEL = str(tmp_path / "base" / "reward-base")
    # An earlier demo left tiny models in both places and registered one as the policy.
    call_command("paddock_bootstrap_models", tiny=True, stdout=io.StringIO())
    registry = ModelRegistry(settings.MODEL_REGISTRY_DIR)
    registry.register(POLICY, settings.PADDOCK_POLICY_BASE_MODEL, key="bootstrap:policy")

    # Conversion itself is covered above; here the command's decisions, from its copy.
    from paddock.training import bases

    monkeypatch.setattr(bases, "convert_smollm2", lambda target: bases._into_place(
        Path(target), lambda folder: shutil.copytree(smollm2, folder, dirs_exist_ok=True)))
    out, again = io.StringIO(), io.StringIO()
    call_command("paddock_bootstrap_models", stdout=out)
    call_command("paddock_bootstrap_models", stdout=again)
    text = out.getvalue()
    assert "moved the tiny test model" in text
    newest = registry.latest(POLICY)
    assert newest.version == "policy-0002" and not is_tiny(newest.path)
    assert (newest.path / ORIGIN_FILE).is_file()
    reward_base = tmp_path / "base" / "reward-base"
    assert json.loads((reward_base / "config.json").read_text())["model_type"] == "bert"
    assert "kept" in again.getvalue() and "policy: registered" not in again.getvalue()
    assert len(registry.list(POLICY)) == 2  # the second run changed nothing


@pytest.mark.django_db
def test_tiny_models_never_answer_annotators(settings, tmp_path):
    settings.MODEL_REGISTRY_DIR = tmp_path / "models"
    registry = ModelRegistry(settings.MODEL_REGISTRY_DIR)
    registry.register(POLICY, build_tiny_llama(tmp_path / "tiny"), key="tiny")
    settings.PADDOCK_ALLOW_TINY_MODELS = False
    with pytest.raises(TinyModelRefused, match="tiny random test model"):
        PolicyGenerator().generate([TurnSpec("user", "Hi")], default_variants([]), seed=1)


@pytest.mark.django_db
def test_smollm2_answers_a_written_prompt_at_two_temperatures(smollm2, settings, tmp_path):
    settings.MODEL_REGISTRY_DIR = tmp_path / "models"
    settings.PADDOCK_ALLOW_TINY_MODELS = False
    version = ModelRegistry(settings.MODEL_REGISTRY_DIR).register(
        POLICY, smollm2, key="bootstrap:policy").version
    import paddock.workers.generation as generation

    generation.MAX_NEW_TOKENS, saved = 24, generation.MAX_NEW_TOKENS
    try:
        first, second = PolicyGenerator().generate(
            [TurnSpec("user", "How do I make a cup of green tea?")], default_variants([]),
            seed=7)
    finally:
        generation.MAX_NEW_TOKENS = saved
    assert {first.model_version, second.model_version} == {version}
    assert (first.temperature, second.temperature) == (0.7, 1.0)
    assert first.text != second.text
    assert "tea" in (first.text + second.text).lower()  # a real model, on topic


@pytest.mark.django_db
def test_demo_live_batch_is_answered_once_even_when_filled_twice():
    batch, created = demo_live_batch_seed()
    assert created and batch.name == DEMO_LIVE_BATCH
    assert demo_live_batch_seed() == (batch, False)
    assert demo_live_batch_fill(batch, generator=StandInGenerator()) == (
        len(LIVE_HELPFUL) + len(LIVE_SAFETY))
    assert demo_live_batch_fill(batch, generator=StandInGenerator()) == 0  # a redelivery
    comparisons = Comparison.objects.filter(batch=batch)
    assert comparisons.count() == len(LIVE_HELPFUL) + len(LIVE_SAFETY)
    assert comparisons.filter(axis=Axis.SAFETY).count() == len(LIVE_SAFETY)
