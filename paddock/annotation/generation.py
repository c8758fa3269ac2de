"""Where the two responses of a new comparison come from.

The real sampler runs on the generation workers (``paddock.workers.generation
.PolicyGenerator``, the default: the registered policies answer); annotation only knows this
interface. :class:`StandInGenerator` answers with deterministic placeholder text: a test
double, refused in production (settings), whose responses are labelled ``stand-in:...`` so
the preference export leaves judgements on them out of the training data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from paddock.annotation.services.comparisons import ResponseSpec, TurnSpec


@dataclass(frozen=True)
class Variant:
    """One side of a comparison: a model version and its sampling parameters."""

    model_version: str
    temperature: float = 0.7
    top_p: float = 0.9


class ResponseGenerator(Protocol):
    def generate(
        self, turns: Sequence[TurnSpec], variants: Sequence[Variant], *, seed: int
    ) -> list[ResponseSpec]:
        """One response per variant to the conversation's last user turn."""
        ...


NEWEST = "newest"  # no version named: the generator takes the newest registered policy
STAND_IN_PREFIX = "stand-in"  # model_version prefix of every placeholder response


def is_stand_in(model_version: str | None) -> bool:
    """Whether a response's model version names the placeholder generator."""
    return (model_version or "").startswith(STAND_IN_PREFIX)


def default_variants(model_versions: Sequence[str]) -> tuple[Variant, Variant]:
    """Newest vs previous model when the batch names two, else one model at two
    temperatures (Llama 2 paper, section 3.2.1: different variants and temperatures).
    The second is 1.0, not higher: at 1.2 a small model such as SmolLM2-135M writes word
    salad, and a comparison against nonsense teaches the reward models little."""
    if len(model_versions) >= 2:
        return Variant(model_versions[0], 0.7), Variant(model_versions[1], 0.7)
    model = model_versions[0] if model_versions else NEWEST
    return Variant(model, 0.7), Variant(model, 1.0)


def configured_generator() -> ResponseGenerator:
    """The generator the generation workers use for written prompts: the class named by
    the setting ``PADDOCK_RESPONSE_GENERATOR`` (a dotted path)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    return import_string(settings.PADDOCK_RESPONSE_GENERATOR)()


class StandInGenerator:
    """Deterministic placeholder responses for tests; never a real model."""

    def generate(
        self, turns: Sequence[TurnSpec], variants: Sequence[Variant], *, seed: int
    ) -> list[ResponseSpec]:
        question = turns[-1].content.strip()
        responses = []
        for index, variant in enumerate(variants):
            digest = hashlib.sha256(
                f"{seed}:{index}:{variant}:{question}".encode()
            ).hexdigest()[:8]
            text = (
                f"[stand-in response {digest}, no model was run] You asked: "
                f"\u201c{question[:200]}\u201d. Variant {variant.model_version} at temperature "
                f"{variant.temperature:g} would answer here."
            )
            responses.append(
                ResponseSpec(
                    text=text, model_version=f"{STAND_IN_PREFIX}:{variant.model_version}",
                    temperature=variant.temperature, top_p=variant.top_p, seed=seed + index,
                )
            )
        return responses
