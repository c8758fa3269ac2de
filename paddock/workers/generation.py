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

from django.conf import settings

from paddock.annotation.generation import Variant
from paddock.annotation.services.comparisons import ResponseSpec, TurnSpec
from paddock.kernel.origin import is_tiny
from paddock.kernel.registry import POLICY, UnknownVersionError
from paddock.workers.registry import model_registry

MAX_NEW_TOKENS = 256
RESAMPLES = 4


@lru_cache(maxsize=4)
def _backend(path: str):
    # Lazy: torch loads in the generation worker that samples, not in whatever imports this.
    from paddock.training.policy.generation import load_backend

    return load_backend(None, path, batch_size=2)


class NoPolicyRegistered(RuntimeError):
    """Nothing to sample with yet: no policy is registered."""


class TinyModelRefused(RuntimeError):
    """A tiny random test model was about to answer an annotator."""


class PolicyGenerator:
    def _path(self, version: str) -> tuple[str, str]:
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

    def _sample(self, messages: list[dict], variants: Sequence[Variant],
                seeds: Sequence[int]) -> list[ResponseSpec]:
        """One response per (variant, seed); variants of one model share a batch, so the
        two sides of a comparison cost about one response's time."""
        # Lazy: torch loads only once a generation worker samples (see _backend).
        from paddock.training.policy.generation import GenerationRequest, SamplingParams

        by_path: dict[str, list[int]] = {}
        resolved = [self._path(variant.model_version) for variant in variants]
        for index, (_, path) in enumerate(resolved):
            by_path.setdefault(path, []).append(index)
        texts: dict[int, str] = {}
        for path, indices in by_path.items():
            requests = [GenerationRequest(
                f"prompt-{seeds[i]}-{i}", messages=messages,
                params=SamplingParams(temperature=variants[i].temperature,
                                      top_p=variants[i].top_p,
                                      max_new_tokens=MAX_NEW_TOKENS, seed=seeds[i]))
                for i in indices]
            for i, generation in zip(indices, _backend(path).generate(requests), strict=True):
                texts[i] = generation.text
        return [ResponseSpec(text=texts[i].strip() or "(the model answered nothing)",
                             model_version=resolved[i][0], temperature=variant.temperature,
                             top_p=variant.top_p, seed=seeds[i])
                for i, variant in enumerate(variants)]

    def generate(
        self, turns: Sequence[TurnSpec], variants: Sequence[Variant], *, seed: int
    ) -> list[ResponseSpec]:
        """One response per variant; the second is resampled (new seed) while it repeats
        the first, since a comparison of two equal texts teaches nothing."""
        messages = [{"role": turn.role, "content": turn.content} for turn in turns]
        first, second = self._sample(messages, variants[:2], [seed, seed + 1])
        for attempt in range(1, RESAMPLES):
            if second.text != first.text:
                return [first, second]
            (second,) = self._sample(messages, variants[1:2], [seed + 1 + attempt * 7919])
        if second.text != first.text:
            return [first, second]
        raise RuntimeError(f"both variants gave the same response {RESAMPLES} times; "
                           "sample again or use variants that differ more")
