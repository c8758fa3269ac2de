"""The reward PPO maximises: two reward models combined by the Llama 2 rule.

Llama 2 (section 3.2.3) scores a generation ``g`` for prompt ``p`` with the safety reward
model where the prompt is tagged unsafe or the safety score is low, and with the
helpfulness model otherwise::

    R_c = R_s(g|p)  if is_safety(p) or R_s(g|p) < 0.15  else  R_h(g|p)
    R~_c = WHITEN(LOGIT(R_c))

The paper's scores are *sigmoid-scaled* (in [0, 1]): the 0.15 threshold applies to
``sigmoid(r)`` and LOGIT takes the score back to the raw scale. Our reward models output
the raw scalar head's logit ``r``, so here the rule reads ``sigmoid(r_s) < 0.15`` and
``LOGIT(sigmoid(r)) = r`` exactly, except that a sigmoid computed in floating point
saturates to 0 or 1 (to 1 from r = 17 in float32) and the logit of that is infinite. The
stable form clamps the sigmoid to [eps, 1 - eps], which is the same as clamping ``r`` to
[-logit(1 - eps), logit(1 - eps)]; :func:`combined_reward` does the latter directly.
Whitening is a separate step (:func:`whiten`) because it is over the batch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from paddock.training import recipe
from paddock.training.devices import pick_device, use_bf16
from paddock.training.reward.encoding import EncodedSide, PairEncoder
from paddock.training.reward.pairs import Turn

SIGMOID_EPS = 1e-6  # the sigmoid is clamped to [eps, 1 - eps]: raw rewards to about +-13.8
WHITEN_EPS = 1e-8
ROLES = ("system", "user", "assistant")

Message = Mapping[str, str]  # {"role": ..., "content": ...}, the Hugging Face convention
ScoreItem = tuple[Sequence[Message], str]  # (context messages oldest first, response text)


def _logit(probability: float) -> float:
    if probability <= 0.0:
        return -math.inf
    if probability >= 1.0:
        return math.inf
    return math.log(probability / (1.0 - probability))


def combined_reward(helpfulness: torch.Tensor, safety: torch.Tensor,
                    safety_tagged: torch.Tensor, *,
                    threshold: float = recipe.SAFETY_SCORE_THRESHOLD,
                    eps: float = SIGMOID_EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """(reward, used_safety) per sequence, from raw scores of the two reward models.

    used_safety = safety_tagged | (sigmoid(safety) < threshold)
    reward      = logit(clamp(sigmoid(where(used_safety, safety, helpfulness)), eps, 1 - eps))
                = clamp(chosen raw score, -logit(1 - eps), logit(1 - eps))

    The threshold test is made on the raw scale (``safety < logit(threshold)``, the same
    test since sigmoid is increasing) so that the boundary is exact: a score whose sigmoid
    is exactly the threshold is *not* below it and gets the helpfulness score. The reward
    is on the raw scale and not yet whitened (:func:`whiten` does that over the batch).
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold {threshold} is not a probability in [0, 1]")
    if not 0.0 < eps < 0.5:
        raise ValueError(f"eps {eps} is not in (0, 0.5)")
    if helpfulness.ndim != 1 or helpfulness.shape != safety.shape:
        raise ValueError(f"helpfulness {tuple(helpfulness.shape)} and safety "
                         f"{tuple(safety.shape)} must be 1-D tensors of the same length")
    if safety_tagged.shape != safety.shape:
        raise ValueError(f"safety_tagged {tuple(safety_tagged.shape)} does not match the "
                         f"scores {tuple(safety.shape)}")
    for name, scores in (("helpfulness", helpfulness), ("safety", safety)):
        if torch.isnan(scores).any():
            raise ValueError(f"{name} scores contain NaN: the reward model is broken")
    unsafe = safety < torch.tensor(_logit(threshold), dtype=safety.dtype, device=safety.device)
    used_safety = safety_tagged.to(torch.bool) | unsafe
    chosen = torch.where(used_safety, safety, helpfulness)
    bound = _logit(1.0 - eps)
    return chosen.clamp(-bound, bound), used_safety


def whiten(values: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """(v - mean) / sqrt(var + 1e-8) over the whole batch (unbiased variance).

    ``shift_mean=False`` scales only: the batch mean is added back, as TRL does for
    advantages it wants to keep the sign of on average.
    """
    if values.numel() < 2:
        raise ValueError(f"whitening needs at least 2 values, got {values.numel()}")
    values = values.float()
    mean, var = values.mean(), values.var()
    whitened = (values - mean) * torch.rsqrt(var + WHITEN_EPS)
    return whitened if shift_mean else whitened + mean


class Scorer(Protocol):
    """Anything that gives one raw reward per (context messages, response) item."""

    def score(self, items: Sequence[ScoreItem]) -> torch.Tensor: ...


def to_turns(messages: Sequence[Message], *, item: int = 0) -> tuple[Turn, ...]:
    """Hugging Face-style messages as the reward code's turns, with a clear error."""
    turns = []
    for index, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise ValueError(f"item {item}, message {index}: unknown role {role!r}")
        if not isinstance(content, str):
            raise ValueError(f"item {item}, message {index}: content must be a string")
        turns.append(Turn(role, content))
    return tuple(turns)


class RewardScorer:
    """A trained reward model scoring responses as it was trained to read them.

    The ids come from :meth:`PairEncoder.encode_response`, the layout of each side of a
    training pair, with the run's own ``max_length`` and ``min_context_tokens`` (read from
    ``reward_config.json`` by :meth:`load`): a reward model scores reliably only the
    inputs it was trained on.
    """

    def __init__(self, model: torch.nn.Module, tokenizer, *, max_length: int,
                 min_context_tokens: int = 32, batch_size: int = 32,
                 device: torch.device | None = None, bf16: bool = False) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size {batch_size} must be at least 1")
        self.device = device or next(model.parameters()).device
        self.model = model.to(self.device).eval().requires_grad_(False)
        if getattr(self.model.config, "pad_token_id", None) is None:
            # a decoder's head finds the last real token by the pad id
            self.model.config.pad_token_id = tokenizer.pad_token_id
        self.tokenizer = tokenizer
        self.encoder = PairEncoder(tokenizer, max_length, min_context_tokens=min_context_tokens)
        self.batch_size = batch_size
        self.bf16 = bf16

    @classmethod
    def load(cls, path: str | Path, *, device: torch.device | None = None,
             batch_size: int = 32, bf16: str = "cuda", max_length: int | None = None,
             min_context_tokens: int | None = None) -> RewardScorer:
        """A reward model folder written by the reward trainer.

        ``max_length`` and ``min_context_tokens`` default to the run's; a folder without a
        ``reward_config.json`` needs ``max_length``. ``bf16`` is a
        :func:`paddock.training.devices.use_bf16` setting ("cuda": on GPUs only).
        """
        from paddock.training.reward.modeling import load_reward_model
        from paddock.training.reward.trainer import load_tokenizer

        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"no reward model folder at {path}")
        saved = path / "reward_config.json"
        settings = json.loads(saved.read_text()) if saved.is_file() else {}
        if max_length is None:
            max_length = settings.get("max_length")
        if max_length is None:
            raise ValueError(f"{path} has no reward_config.json: pass max_length")
        if min_context_tokens is None:
            min_context_tokens = settings.get("min_context_tokens", 32)
        device = device or pick_device()
        return cls(load_reward_model(path), load_tokenizer(str(path)), max_length=max_length,
                   min_context_tokens=min_context_tokens, batch_size=batch_size,
                   device=device, bf16=use_bf16(bf16, device))

    @property
    def truncation(self) -> dict:
        """How many scored responses lost context or were cut, since this scorer was made."""
        return self.encoder.report.as_dict()

    def encode(self, items: Sequence[ScoreItem]) -> list[EncodedSide]:
        return [self.encoder.encode_response(to_turns(messages, item=index), response)
                for index, (messages, response) in enumerate(items)]

    @torch.no_grad()
    def score(self, items: Sequence[ScoreItem]) -> torch.Tensor:
        """Raw scores (the head's logits), float32 on the CPU, in the order given."""
        from paddock.training.reward.trainer import forward_scores, pad_sides

        sides = self.encode(items)
        scores = torch.zeros(len(sides), dtype=torch.float32)
        # similar lengths share a batch: little padding
        order = sorted(range(len(sides)), key=lambda i: len(sides[i].input_ids))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            batch = pad_sides([sides[i] for i in chunk], self.tokenizer.pad_token_id, self.device)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                values = forward_scores(self.model, batch)
            scores[chunk] = values.cpu()
        return scores


@dataclass(frozen=True)
class CombinedScores:
    """Raw scores of both models, the reward the rule chose, and which model it used."""

    helpfulness: torch.Tensor
    safety: torch.Tensor
    chosen: torch.Tensor  # raw scale, clamped (logit of the clamped sigmoid), not whitened
    used_safety: torch.Tensor  # bool

    @property
    def safety_fraction(self) -> float:
        return self.used_safety.float().mean().item() if self.used_safety.numel() else 0.0


class CombinedScorer:
    """The helpfulness and safety reward models combined by :func:`combined_reward`."""

    def __init__(self, helpfulness: Scorer, safety: Scorer, *,
                 threshold: float = recipe.SAFETY_SCORE_THRESHOLD,
                 eps: float = SIGMOID_EPS) -> None:
        self.helpfulness = helpfulness
        self.safety = safety
        self.threshold = threshold
        self.eps = eps

    def score(self, items: Sequence[ScoreItem],
              safety_tagged: Sequence[bool] | torch.Tensor) -> CombinedScores:
        tagged = torch.as_tensor(safety_tagged, dtype=torch.bool).cpu()
        if tagged.shape != (len(items),):
            raise ValueError(f"{len(items)} items but safety_tagged has shape "
                             f"{tuple(tagged.shape)}")
        helpfulness = self._checked(self.helpfulness, items, "helpfulness")
        safety = self._checked(self.safety, items, "safety")
        chosen, used_safety = combined_reward(helpfulness, safety, tagged,
                                              threshold=self.threshold, eps=self.eps)
        return CombinedScores(helpfulness, safety, chosen, used_safety)

    @staticmethod
    def _checked(scorer: Scorer, items: Sequence[ScoreItem], name: str) -> torch.Tensor:
        scores = torch.as_tensor(scorer.score(items)).detach().float().cpu()
        if scores.shape != (len(items),):
            raise ValueError(f"the {name} scorer returned shape {tuple(scores.shape)} for "
                             f"{len(items)} items")
        return scores
