"""Written prompts answered by the registered policy (the generation workers' generator)."""

from __future__ import annotations

import pytest

from paddock.annotation.generation import default_variants
from paddock.annotation.services.comparisons import TurnSpec
from paddock.kernel.registry import POLICY, ModelRegistry
from paddock.training.tiny import build_tiny_llama
from paddock.workers.generation import NoPolicyRegistered, PolicyGenerator

TURNS = [TurnSpec("user", "How do tides work?")]


def test_the_named_policy_answers_with_each_variants_temperature_and_seed(tmp_path, settings):
    settings.MODEL_REGISTRY_DIR = tmp_path / "models"
    registry = ModelRegistry(settings.MODEL_REGISTRY_DIR)
    with pytest.raises(NoPolicyRegistered):
        PolicyGenerator().generate(TURNS, default_variants([]), seed=1)
    version = registry.register(POLICY, build_tiny_llama(tmp_path / "tiny"), key="t").version

    variants = default_variants([version])  # one model at two temperatures
    first = PolicyGenerator().generate(TURNS, variants, seed=3)
    again = PolicyGenerator().generate(TURNS, variants, seed=3)
    assert [r.text for r in first] == [r.text for r in again]  # seeded
    assert first[0].text != first[1].text
    assert {r.model_version for r in first} == {version}
    assert [r.temperature for r in first] == [v.temperature for v in variants]
    # A batch naming versions the registry does not know gets the newest policy.
    unknown = PolicyGenerator().generate(TURNS, default_variants(["demo"]), seed=3)
    assert {r.model_version for r in unknown} == {version}
