"""What the policy is trained to answer, and the reward interface both improvers use.

Rejection sampling and PPO score sampled responses the same way: a reward function maps
(prompt, response text) to one raw, logit-scale score per response. The real one is the
two reward models under the paper's combination rule (:class:`CombinedReward`); tests
and benchmarks plug synthetic ones in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch


@dataclass(frozen=True)
class PolicyPrompt:
    id: str
    messages: tuple[dict, ...]  # ends with the user turn the policy answers
    safety: bool = False  # tagged as a safety prompt: its reward is the safety score


@dataclass
class RewardBatch:
    scores: torch.Tensor  # one raw (logit-scale) reward per response, before whitening
    metrics: dict[str, float] = field(default_factory=dict)  # e.g. mean score per RM


class RewardFunction(Protocol):
    def __call__(self, prompts: Sequence[PolicyPrompt], responses: Sequence[str]
                 ) -> RewardBatch: ...


class CombinedReward:
    """The two reward models as a reward function (the paper's combination rule)."""

    def __init__(self, scorer) -> None:
        self.scorer = scorer

    def __call__(self, prompts: Sequence[PolicyPrompt], responses: Sequence[str]
                 ) -> RewardBatch:
        items = [(list(p.messages), text) for p, text in zip(prompts, responses, strict=True)]
        scores = self.scorer.score(items, safety_tagged=torch.tensor([p.safety for p in prompts]))
        return RewardBatch(scores.chosen, {
            "helpfulness_score": scores.helpfulness.float().mean().item(),
            "safety_score": scores.safety.float().mean().item(),
            "safety_share": scores.used_safety.float().mean().item(),
        })
