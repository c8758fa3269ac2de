"""The response generator of the generation workers: the registered policies answer.

The default ``PADDOCK_RESPONSE_GENERATOR``: an annotator's written prompt (and each next
turn) is answered by the policy versions the batch names (the newest against the previous,
as the pipeline sets ``Batch.model_versions``), or, when the batch names none the registry
knows, by the newest registered policy at two temperatures (Llama 2 paper, section 3.2.1:
different variants and temperatures). Tiny random test models never answer people. Models load
once per worker process and stay loaded: a GPU worker answers prompt after prompt without
reading the weights again. Only generation workers import this module (torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from paddock.annotation.generation import Variant
from paddock.annotation.services.comparisons import ResponseSpec, TurnSpec

MAX_NEW_TOKENS = 256
RESAMPLES = 4


@lru_cache(maxsize=4)
def _backend(path: str):
    from paddock.training.policy.generation import load_backend

    return load_backend(None, path, batch_size=2)


class NoPolicyRegistered(RuntimeError):
    """Nothing to sample with yet: no policy is registered."""


class TinyModelRefused(RuntimeError):
    """A tiny random test model was about to answer an annotator."""


class PolicyGenerator:
    def _path(self, version: str) -> tuple[str, str]:
        from django.conf import settings

        from paddock.training.registry import POLICY, UnknownVersionError
        from paddock.training.tiny import is_tiny
        from paddock.workers.pipeline.steps import model_registry

        registry = model_registry()
        found = None
        try:
            found = registry.get(version)
        except (UnknownVersionError, ValueError):
            pass
        if found is None or found.kind != POLICY:
            found = registry.latest(POLICY)
        if found is None:
            raise NoPolicyRegistered(
                "no policy is registered yet: run 'manage.py paddock_bootstrap_models' "
                "(registers SmolLM2-135M-Instruct) or point PADDOCK_POLICY_BASE_MODEL at a "
                "checkpoint and run it")
        if is_tiny(found.path) and not settings.PADDOCK_ALLOW_TINY_MODELS:
            raise TinyModelRefused(
                f"{found.version} at {found.path} is a tiny random test model; it never "
                "answers annotators: run 'manage.py paddock_bootstrap_models' for SmolLM2")
        return found.version, str(found.path)

    def _sample(self, messages: list[dict], variant: Variant, seed: int) -> ResponseSpec:
        from paddock.training.policy.generation import GenerationRequest, SamplingParams

        version, path = self._path(variant.model_version)
        params = SamplingParams(temperature=variant.temperature, top_p=variant.top_p,
                                max_new_tokens=MAX_NEW_TOKENS, seed=seed)
        text = _backend(path).generate(
            [GenerationRequest(f"prompt-{seed}", messages=messages, params=params)])[0].text
        return ResponseSpec(text=text.strip() or "(the model answered nothing)",
                            model_version=version, temperature=variant.temperature,
                            top_p=variant.top_p, seed=seed)

    def generate(
        self, turns: Sequence[TurnSpec], variants: Sequence[Variant], *, seed: int
    ) -> list[ResponseSpec]:
        """One response per variant; the second is resampled (new seed) while it repeats
        the first, since a comparison of two equal texts teaches nothing."""
        messages = [{"role": turn.role, "content": turn.content} for turn in turns]
        first = self._sample(messages, variants[0], seed)
        for attempt in range(RESAMPLES):
            second = self._sample(messages, variants[1], seed + 1 + attempt * 7919)
            if second.text != first.text:
                return [first, second]
        raise RuntimeError(f"both variants gave the same response {RESAMPLES} times; "
                           "sample again or use variants that differ more")
