"""PPO's tensor arithmetic against hand computations on literal tensors."""

from __future__ import annotations

import math

import pytest
import torch

from paddock.training.policy.ppo_core import (
    clipped_policy_loss,
    clipped_value_loss,
    entropy_from_logits,
    gae_advantages,
    kl_penalised_rewards,
    last_token_index,
    logprobs_from_logits,
    masked_mean,
    masked_whiten,
)

NAN = float("nan")


def approx(expected: list[float]):
    """Tensors compute in float32."""
    return pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_logprobs_and_entropy_match_torch():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 7)
    tokens = torch.randint(0, 7, (2, 3))
    expected = logits.log_softmax(-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(logprobs_from_logits(logits, tokens), expected, atol=1e-6)
    entropy = torch.distributions.Categorical(logits=logits).entropy()
    assert torch.allclose(entropy_from_logits(logits), entropy, atol=1e-6)
    with pytest.raises(ValueError, match="do not match"):
        logprobs_from_logits(logits, tokens[:, :2])


def test_masked_mean_ignores_padding_even_nan():
    values = torch.tensor([[1.0, 3.0, NAN], [5.0, NAN, NAN]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert masked_mean(values, mask).item() == pytest.approx(3.0)
    assert masked_mean(values, mask, dim=1).tolist() == pytest.approx([2.0, 5.0])
    assert masked_mean(values, torch.tensor([[1, 1, 0], [0, 0, 0]]), dim=1).tolist() == [2.0, 0.0]
    with pytest.raises(ValueError, match="no true entries"):
        masked_mean(values, torch.zeros_like(mask))


def test_masked_whiten_over_real_tokens_only():
    values = torch.tensor([[1.0, 2.0, 100.0], [3.0, 4.0, NAN]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 0]], dtype=torch.bool)
    whitened = masked_whiten(values, mask)
    real = whitened[mask]
    assert real.mean().item() == pytest.approx(0.0, abs=1e-6)
    assert real.std().item() == pytest.approx(1.0, abs=1e-4)
    assert whitened[~mask].tolist() == [0.0, 0.0]
    assert masked_whiten(values, mask, shift_mean=False)[mask].mean().item() == pytest.approx(2.5)
    with pytest.raises(ValueError, match="at least 2"):
        masked_whiten(values, torch.tensor([[1, 0, 0], [0, 0, 0]]))


def test_kl_penalised_rewards_by_hand():
    scores = torch.tensor([1.0, 2.0])
    logprobs = torch.tensor([[-1.0, -2.0, -3.0], [-1.0, -1.0, NAN]])
    ref = torch.tensor([[-1.5, -2.0, -2.0], [-2.0, -1.0, NAN]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    rewards, kl = kl_penalised_rewards(scores, logprobs, ref, mask, beta=0.1)
    # row 0: kl per token (0.5, 0, -1); the score lands on the last token
    # row 1: kl per token (1, 0); its last real token is column 1, column 2 is padding
    expected = torch.tensor([[-0.05, 0.0, 0.1 + 1.0], [-0.1, 2.0, 0.0]])
    assert torch.allclose(rewards, expected, atol=1e-6)
    assert kl.tolist() == pytest.approx([-0.5, 1.0])


def test_kl_penalised_rewards_needs_a_token_per_row():
    with pytest.raises(ValueError, match=r"rows \[1\]"):
        last_token_index(torch.tensor([[1, 0], [0, 0]]))
    with pytest.raises(ValueError, match="one value per row"):
        kl_penalised_rewards(torch.zeros(3), torch.zeros(2, 2), torch.zeros(2, 2),
                             torch.ones(2, 2), beta=0.1)
    assert last_token_index(torch.tensor([[1, 0, 1, 0], [1, 1, 1, 1]])).tolist() == [2, 3]


def test_gae_with_gamma_and_lambda_one_is_reward_to_go():
    rewards = torch.tensor([[1.0, 2.0, 3.0]])
    values = torch.tensor([[0.5, 0.25, 1.0]])
    advantages, returns = gae_advantages(rewards, values, torch.ones(1, 3), gamma=1.0,
                                         lam=1.0, whiten=False)
    assert returns.tolist() == [[6.0, 5.0, 3.0]]
    assert advantages.tolist() == [[5.5, 4.75, 2.0]]


def hand_gae(rewards: list[float], values: list[float], gamma: float, lam: float):
    advantages, next_advantage = [0.0] * len(rewards), 0.0
    for t in reversed(range(len(rewards))):
        next_value = values[t + 1] if t + 1 < len(rewards) else 0.0
        delta = rewards[t] + gamma * next_value - values[t]
        next_advantage = advantages[t] = delta + gamma * lam * next_advantage
    return advantages, [a + v for a, v in zip(advantages, values, strict=True)]


def test_gae_matches_a_hand_computation_and_skips_padding():
    gamma, lam = 0.9, 0.8
    short, short_values = [0.1, -0.2], [0.3, 0.4]
    full, full_values = [0.5, 0.0, 1.0], [0.2, -0.1, 0.6]
    # the short row is padded at the end with garbage that must change nothing
    rewards = torch.tensor([[*short, NAN], full])
    values = torch.tensor([[*short_values, NAN], full_values])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    advantages, returns = gae_advantages(rewards, values, mask, gamma, lam, whiten=False)
    short_adv, short_ret = hand_gae(short, short_values, gamma, lam)
    full_adv, full_ret = hand_gae(full, full_values, gamma, lam)
    assert advantages.tolist() == [approx([*short_adv, 0.0]), approx(full_adv)]
    assert returns.tolist() == [approx([*short_ret, 0.0]), approx(full_ret)]
    # padding in the middle of a row is skipped as if absent
    gapped, _ = gae_advantages(torch.tensor([[0.1, 9.0, -0.2]]), torch.tensor([[0.3, 9.0, 0.4]]),
                               torch.tensor([[1, 0, 1]]), gamma, lam, whiten=False)
    assert gapped.tolist() == [approx([short_adv[0], 0.0, short_adv[1]])]
    # whitened advantages: mean 0 and std 1 over the real tokens, 0 on padding
    whitened, same_returns = gae_advantages(rewards, values, mask, gamma, lam)
    real = whitened[mask.bool()]
    assert real.mean().item() == pytest.approx(0.0, abs=1e-6)
    assert real.std().item() == pytest.approx(1.0, abs=1e-4)
    assert whitened[0, 2].item() == 0.0
    assert torch.equal(same_returns, returns)


def test_policy_loss_uses_the_clipped_term_past_the_clip_range():
    ratios = [1.5, 0.5, 1.5, 0.5, 1.0]
    advantages = torch.tensor([[1.0, 1.0, -1.0, -1.0, 2.0, NAN]])
    old = torch.tensor([[-1.0] * 5 + [NAN]])
    new = (old + torch.tensor([[math.log(r) for r in ratios] + [NAN]])).requires_grad_()
    mask = torch.tensor([[1, 1, 1, 1, 1, 0]])
    result = clipped_policy_loss(new, old, advantages, mask, clip=0.2)
    # per token: max(-A r, -A clip(r)): -1.2 (clipped), -0.5, 1.5, 0.8 (clipped), -2.0
    assert result.loss.item() == pytest.approx((-1.2 - 0.5 + 1.5 + 0.8 - 2.0) / 5)
    assert result.clip_fraction.item() == pytest.approx(2 / 5)
    expected_kl = sum((r - 1) - math.log(r) for r in ratios) / 5
    assert result.approx_kl.item() == pytest.approx(expected_kl, rel=1e-5)
    result.loss.backward()
    # d/d log pi of -A r / 5 is -A r / 5 where unclipped; 0 where clipped and on padding
    expected_grad = [0.0, -0.5 / 5, 1.5 / 5, 0.0, -2.0 / 5, 0.0]
    assert new.grad.tolist() == [pytest.approx(expected_grad, abs=1e-6)]


def test_policy_loss_at_ratio_one_is_minus_the_mean_advantage():
    logprobs = torch.tensor([[-1.0, -2.0], [-0.5, 0.0]])
    advantages = torch.tensor([[1.0, -3.0], [2.0, 100.0]])
    mask = torch.tensor([[1, 1], [1, 0]])
    result = clipped_policy_loss(logprobs, logprobs, advantages, mask)
    assert result.loss.item() == pytest.approx(-(1.0 - 3.0 + 2.0) / 3)
    assert result.clip_fraction.item() == 0.0
    assert result.approx_kl.item() == 0.0


def test_value_loss_clipping():
    old = torch.tensor([[0.0, 0.0, 0.0, NAN]])
    new = torch.tensor([[0.5, -0.1, 0.3, NAN]], requires_grad=True)
    returns = torch.tensor([[1.0, 0.0, -1.0, NAN]])
    mask = torch.tensor([[1, 1, 1, 0]])
    result = clipped_value_loss(new, old, returns, mask, clip=0.2)
    # token 0: clipped value 0.2 has error 0.64 > 0.25; token 1: 0.01 either way;
    # token 2: unclipped error 1.69 > clipped 1.44
    assert result.loss.item() == pytest.approx(0.5 * (0.64 + 0.01 + 1.69) / 3)
    assert result.clip_fraction.item() == pytest.approx(1 / 3)
    result.loss.backward()
    # gradient 0.5 * 2 (V - R) / 3 where the unclipped error counts; 0 where clipped
    assert new.grad.tolist() == [pytest.approx([0.0, -0.1 / 3, 1.3 / 3, 0.0], abs=1e-6)]


def test_shapes_must_agree():
    with pytest.raises(ValueError, match="shapes differ"):
        clipped_policy_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 2),
                            torch.ones(2, 3))
    with pytest.raises(ValueError, match="shapes differ"):
        gae_advantages(torch.zeros(1, 3), torch.zeros(1, 3), torch.ones(1, 2))
