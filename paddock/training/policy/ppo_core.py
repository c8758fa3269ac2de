"""PPO's arithmetic on token sequences, as pure tensor functions.

Everything here works on ``(batch, response_length)`` tensors: one row per sampled
response, one column per response token, and a ``mask`` that is true on real response
tokens and false on padding. The formulation is the standard one for language models
(Ziegler et al. 2019, InstructGPT, Llama 2 section 3.2.3): a sequence-level reward paid
on the last token, a per-token KL penalty against the initial policy, GAE advantages
from a value head, and the clipped surrogate objective.

Padding never contributes: every function selects with ``torch.where`` on the mask
instead of multiplying by it, so that whatever sits under padding (even NaN or inf from
a padded forward pass) reaches neither a result nor a gradient.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from paddock.training import recipe

WHITEN_EPS = 1e-8


def _check_same_shape(**tensors: torch.Tensor) -> None:
    shapes = {name: tuple(tensor.shape) for name, tensor in tensors.items()}
    if len(set(shapes.values())) > 1:
        described = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"shapes differ: {described}")


def _zero_padding(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, values, torch.zeros((), dtype=values.dtype, device=values.device))


def logprobs_from_logits(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log p(tokens[..., t]) = logits[..., t, token] - logsumexp(logits[..., t, :]).

    ``logits[:, t]`` must already be the distribution *of* ``tokens[:, t]``: a causal LM's
    logits at position t predict token t + 1, so shift before calling. Computed in float32
    without materialising the full log-softmax (the vocabulary is the big dimension).
    """
    if logits.shape[:-1] != tokens.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not match tokens "
                         f"{tuple(tokens.shape)} (expected tokens.shape + (vocab,))")
    logits = logits.float()
    picked = torch.gather(logits, -1, tokens.long().unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """H = logsumexp(z) - sum_v softmax(z)_v * z_v, per position (float32)."""
    logits = logits.float()
    return torch.logsumexp(logits, dim=-1) - (torch.softmax(logits, dim=-1) * logits).sum(-1)


def masked_sum(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None,
               ) -> torch.Tensor:
    """sum over the unmasked entries (all of them, or along ``dim``)."""
    _check_same_shape(values=values, mask=mask)
    kept = _zero_padding(values, mask.bool())
    return kept.sum() if dim is None else kept.sum(dim)


def masked_mean(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None,
                ) -> torch.Tensor:
    """sum(values[mask]) / count(mask), over everything or along ``dim``.

    A mean over nothing is an error when taken over everything; along ``dim`` an empty
    row gives 0 (a row with no response tokens has nothing to average).
    """
    mask = mask.bool()
    total = masked_sum(values, mask, dim)
    if dim is None:
        count = mask.sum()
        if count == 0:
            raise ValueError("masked_mean over a mask with no true entries")
        return total / count
    return total / mask.sum(dim).clamp(min=1)


def masked_var(values: torch.Tensor, mask: torch.Tensor, unbiased: bool = True,
               ) -> torch.Tensor:
    """The variance of values[mask], with Bessel's correction unless ``unbiased=False``."""
    mask = mask.bool()
    count = int(mask.sum())
    if count < 2:
        raise ValueError(f"a variance needs at least 2 unmasked values, got {count}")
    centred = values - masked_mean(values, mask)
    return masked_sum(centred.square(), mask) / (count - 1 if unbiased else count)


def masked_whiten(values: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True,
                  ) -> torch.Tensor:
    """(v - mean) / sqrt(var + 1e-8) with mean and variance over values[mask] only.

    ``shift_mean=False`` adds the mean back (scale only). Padding comes out as 0.
    """
    mask = mask.bool()
    mean, var = masked_mean(values, mask), masked_var(values, mask)
    whitened = (values - mean) * torch.rsqrt(var + WHITEN_EPS)
    if not shift_mean:
        whitened = whitened + mean
    return _zero_padding(whitened, mask)


class PenalisedRewards(NamedTuple):
    rewards: torch.Tensor  # (batch, length): per-token reward, 0 on padding
    kl: torch.Tensor  # (batch,): sum over response tokens of logprob - ref_logprob


def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """Position of each row's last true entry; an error if a row has none."""
    mask = mask.bool()
    empty = ~mask.any(dim=-1)
    if empty.any():
        rows = empty.nonzero().flatten().tolist()
        raise ValueError(f"rows {rows} have no response tokens")
    # the running count first reaches its maximum at the last true entry
    return mask.long().cumsum(dim=-1).argmax(dim=-1)


def kl_penalised_rewards(scores: torch.Tensor, logprobs: torch.Tensor,
                         ref_logprobs: torch.Tensor, mask: torch.Tensor,
                         beta: float = recipe.PPO_KL_BETA) -> PenalisedRewards:
    """r_t = -beta * (log pi(y_t) - log pi_ref(y_t)) + [t = last response token] * score.

    ``scores`` is one reward per sequence (in Llama 2, the whitened combined reward);
    the KL term is the per-token sample estimate of KL(pi || pi_ref) on the sampled
    tokens, so the total reward of a sequence is score - beta * kl, with
    kl = sum_t (log pi(y_t) - log pi_ref(y_t)), the second value returned.
    """
    _check_same_shape(logprobs=logprobs, ref_logprobs=ref_logprobs, mask=mask)
    if scores.shape != logprobs.shape[:1]:
        raise ValueError(f"scores {tuple(scores.shape)} must hold one value per row of "
                         f"{tuple(logprobs.shape)}")
    mask = mask.bool()
    per_token_kl = _zero_padding(logprobs.float() - ref_logprobs.float(), mask)
    rewards = -beta * per_token_kl
    last = last_token_index(mask)
    rows = torch.arange(rewards.shape[0], device=rewards.device)
    rewards = rewards.index_put((rows, last), scores.float().to(rewards.device),
                                accumulate=True)
    return PenalisedRewards(rewards, per_token_kl.sum(dim=-1))


class Advantages(NamedTuple):
    advantages: torch.Tensor  # whitened over the unmasked tokens, 0 on padding
    returns: torch.Tensor  # advantage (before whitening) + value: the value head's target


def gae_advantages(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor,
                   gamma: float = 1.0, lam: float = 0.95, *, whiten: bool = True,
                   ) -> Advantages:
    """Generalised advantage estimation over each row's response tokens.

    delta_t = r_t + gamma * V_{t+1} - V_t          (V after the last token is 0)
    A_t     = delta_t + gamma * lam * A_{t+1}
    R_t     = A_t + V_t

    Masked positions are skipped as if absent (t + 1 means the next *unmasked* token),
    so padding anywhere in a row changes nothing. With gamma = lam = 1, R_t is the
    reward-to-go sum_{k >= t} r_k. The advantages are then whitened over all unmasked
    tokens of the batch (``whiten=False`` keeps them raw); the returns never are.
    """
    _check_same_shape(rewards=rewards, values=values, mask=mask)
    mask = mask.bool()
    rewards, values = rewards.detach().float(), values.detach().float()
    rows, length = rewards.shape
    advantages = torch.zeros_like(rewards)
    next_value = torch.zeros(rows, device=rewards.device)
    next_advantage = torch.zeros(rows, device=rewards.device)
    for t in reversed(range(length)):
        real = mask[:, t]
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        advantage = delta + gamma * lam * next_advantage
        advantages[:, t] = _zero_padding(advantage, real)
        next_advantage = torch.where(real, advantage, next_advantage)
        next_value = torch.where(real, values[:, t], next_value)
    returns = _zero_padding(advantages + values, mask)
    if whiten:
        advantages = masked_whiten(advantages, mask)
    return Advantages(advantages, returns)


class PolicyLoss(NamedTuple):
    loss: torch.Tensor  # scalar, differentiable in new_logprobs
    clip_fraction: torch.Tensor  # share of tokens where the clipped term was the one used
    approx_kl: torch.Tensor  # estimate of KL(old || new) on the sampled tokens


def clipped_policy_loss(new_logprobs: torch.Tensor, old_logprobs: torch.Tensor,
                        advantages: torch.Tensor, mask: torch.Tensor,
                        clip: float = recipe.PPO_CLIP) -> PolicyLoss:
    """The clipped surrogate, as a loss to minimise, averaged over unmasked tokens.

    rho_t  = exp(log pi_new(y_t) - log pi_old(y_t))
    loss   = mean_t max(-A_t * rho_t, -A_t * clip(rho_t, 1 - clip, 1 + clip))
    clip_fraction = mean_t [-A_t * clip(rho_t, ...) > -A_t * rho_t]
    approx_kl     = mean_t ((rho_t - 1) - log rho_t)     (Schulman's k3 estimator, >= 0)

    The clipped term wins only where the ratio has moved past 1 +- clip in the direction
    the advantage rewards; there its gradient is zero.
    """
    _check_same_shape(new_logprobs=new_logprobs, old_logprobs=old_logprobs,
                      advantages=advantages, mask=mask)
    if clip <= 0:
        raise ValueError(f"clip {clip} must be positive")
    mask = mask.bool()
    log_ratio = _zero_padding(new_logprobs.float() - old_logprobs.detach().float(), mask)
    advantages = _zero_padding(advantages.detach().float(), mask)
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1.0 - clip, 1.0 + clip)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        clip_fraction = masked_mean((clipped > unclipped).float(), mask)
        approx_kl = masked_mean((ratio - 1.0) - log_ratio, mask)
    return PolicyLoss(loss, clip_fraction, approx_kl)


class ValueLoss(NamedTuple):
    loss: torch.Tensor  # scalar, differentiable in new_values
    clip_fraction: torch.Tensor  # share of tokens where the clipped error was the larger


def clipped_value_loss(new_values: torch.Tensor, old_values: torch.Tensor,
                       returns: torch.Tensor, mask: torch.Tensor, clip: float,
                       ) -> ValueLoss:
    """Squared error to the returns, pessimistic about value moves beyond ``clip``.

    V_clip = V_old + clip(V_new - V_old, -clip, +clip)
    loss   = 0.5 * mean_t max((V_new - R_t)^2, (V_clip - R_t)^2)
    clip_fraction = mean_t [(V_clip - R_t)^2 > (V_new - R_t)^2]

    The Llama 2 paper gives no value clip; TRL and OpenRLHF use 0.2 (``recipe.PPO_CLIP``).
    """
    _check_same_shape(new_values=new_values, old_values=old_values, returns=returns,
                      mask=mask)
    if clip <= 0:
        raise ValueError(f"clip {clip} must be positive")
    mask = mask.bool()
    new_values = _zero_padding(new_values.float(), mask)
    old_values = _zero_padding(old_values.detach().float(), mask)
    returns = _zero_padding(returns.detach().float(), mask)
    clipped_values = old_values + (new_values - old_values).clamp(-clip, clip)
    unclipped_error = (new_values - returns).square()
    clipped_error = (clipped_values - returns).square()
    loss = 0.5 * masked_mean(torch.maximum(unclipped_error, clipped_error), mask)
    with torch.no_grad():
        clip_fraction = masked_mean((clipped_error > unclipped_error).float(), mask)
    return ValueLoss(loss, clip_fraction)
