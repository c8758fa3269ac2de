"""PPO on a tiny Llama against synthetic rewards: it learns, the KL term binds, it resumes."""

from __future__ import annotations

import json
import math

import pytest
import torch

from paddock.training.policy.ppo import PPOConfig, PPOTrainer
from paddock.training.policy.prompts import PolicyPrompt, RewardBatch
from paddock.training.tiny import build_tiny_llama

LIKED = "e"


@pytest.fixture(scope="module")
def tiny_policy(tmp_path_factory) -> str:
    return str(build_tiny_llama(tmp_path_factory.mktemp("ppo") / "policy"))


def prompts(count: int, prefix: str = "p") -> list[PolicyPrompt]:
    return [PolicyPrompt(f"{prefix}{i}", ({"role": "user", "content": f"Tell me about tide {i}"},))
            for i in range(count)]


def likes_letter(prompts, responses) -> RewardBatch:
    """Share of the response's characters that are the liked letter."""
    scores = torch.tensor([text.count(LIKED) / max(len(text), 1) for text in responses])
    return RewardBatch(scores * 10, {"liked_share": scores.mean().item()})


def constant(prompts, responses) -> RewardBatch:
    return RewardBatch(torch.zeros(len(responses)))


def config(tiny_policy: str, output, **overrides) -> PPOConfig:
    settings = dict(policy_path=tiny_policy, output_dir=str(output), iterations=6,
                    batch_size=16, minibatch_size=8, micro_batch_size=8, learning_rate=3e-3,
                    max_new_tokens=12, kl_beta=0.01, eval_every=0, bf16="no", seed=0)
    return PPOConfig(**(settings | overrides))


def test_ppo_raises_a_synthetic_reward_with_bounded_kl(tiny_policy, tmp_path):
    records = []
    trainer = PPOTrainer(config(tiny_policy, tmp_path / "run", iterations=12), prompts(16),
                         reward=likes_letter, progress=records.append)
    result = trainer.train()
    first = sum(r["mean_score"] for r in records[:3]) / 3
    last = sum(r["mean_score"] for r in records[-3:]) / 3
    assert last > first + 0.5, (first, last)
    assert all(r["kl"] < 10 for r in records)
    for key in ("kl", "entropy", "clip_fraction", "value_loss", "response_length", "liked_share"):
        assert key in records[-1]
    assert set(records[-1]["seconds"]) == {"generation", "scoring", "optimisation"}
    assert (result.output_dir / "model.safetensors").exists()
    assert (result.output_dir / "value" / "value_head.safetensors").exists()
    log = (result.output_dir / "ppo_log.jsonl").read_text().splitlines()
    assert len(log) == 12 and json.loads(log[-1])["iteration"] == 12


def exact_kl(policy, reference, ids: torch.Tensor) -> float:
    """Mean KL(policy || reference) of the next-token distributions over fixed text."""
    with torch.no_grad():
        log_p = torch.log_softmax(policy(input_ids=ids).logits.float(), -1)
        log_q = torch.log_softmax(reference(input_ids=ids).logits.float(), -1)
    return (log_p.exp() * (log_p - log_q)).sum(-1).mean().item()


def test_kl_term_alone_pulls_a_perturbed_policy_back_to_the_reference(tiny_policy, tmp_path):
    trainer = PPOTrainer(config(tiny_policy, tmp_path / "run", iterations=10, kl_beta=1.0,
                                batch_size=32, minibatch_size=16),
                         prompts(16), reward=constant)
    torch.manual_seed(1)
    with torch.no_grad():
        head = trainer.policy.lm_head.weight
        head.add_(torch.randn_like(head) * head.std() * 4)
    probe = torch.tensor([trainer.prompt_ids["p0"] + trainer.prompt_ids["p1"]])
    before = exact_kl(trainer.policy, trainer.reference, probe)
    trainer.train()
    after = exact_kl(trainer.policy, trainer.reference, probe)
    assert before > 0.05
    assert after < before * 0.7, (before, after)


def test_without_reward_or_kl_pressure_the_policy_stays_at_the_reference(tiny_policy, tmp_path):
    records = []
    trainer = PPOTrainer(config(tiny_policy, tmp_path / "run", iterations=3, weight_decay=0.0),
                         prompts(16), reward=constant, progress=records.append)
    trainer.train()
    assert all(abs(r["kl"]) < 1e-4 for r in records)


def test_resumed_run_equals_uninterrupted(tiny_policy, tmp_path):
    whole = PPOTrainer(config(tiny_policy, tmp_path / "whole", iterations=4), prompts(16),
                       reward=likes_letter)
    whole.train()
    first = PPOTrainer(config(tiny_policy, tmp_path / "split", iterations=4), prompts(16),
                       reward=likes_letter)
    partial = first.train(stop_after_iterations=2)
    assert partial.iterations == 2 and list((tmp_path / "split").glob("checkpoint-2"))
    second = PPOTrainer(config(tiny_policy, tmp_path / "split", iterations=4), prompts(16),
                        reward=likes_letter)
    second.train()
    for (name, a), (_, b) in zip(whole.policy.state_dict().items(),
                                 second.policy.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    def timeless(history):
        return [{k: v for k, v in record.items() if k != "seconds"} for record in history]

    assert timeless(whole.history) == timeless(second.history)


def test_early_stopping_keeps_the_best_policy(tiny_policy, tmp_path):
    records = []
    trainer = PPOTrainer(config(tiny_policy, tmp_path / "run", iterations=20, eval_every=1,
                                patience=2),
                         prompts(16), eval_prompts=prompts(4, "held-out"), reward=constant,
                         progress=records.append)
    result = trainer.train()
    assert result.metrics["stopped_early"] and result.iterations == 3
    assert [r["eval_score"] for r in records] == [0.0, 0.0, 0.0]
    best = json.loads((tmp_path / "run" / "best" / "best.json").read_text())
    assert best["iteration"] == 1


def test_config_rejects_inconsistent_sizes(tiny_policy, tmp_path):
    with pytest.raises(ValueError, match="multiple of minibatch_size"):
        config(tiny_policy, tmp_path, batch_size=10, minibatch_size=8)
    with pytest.raises(ValueError, match="lora-base"):
        config(tiny_policy, tmp_path, reference="lora-base")


@pytest.mark.parametrize("reference", ["lora-base", "cpu"])
def test_memory_saving_references_learn_and_save_a_plain_checkpoint(tiny_policy, tmp_path,
                                                                    reference):
    from transformers import AutoModelForCausalLM

    lora = {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    records = []
    trainer = PPOTrainer(config(tiny_policy, tmp_path / "run", iterations=3, reference=reference,
                                lora=lora if reference == "lora-base" else None),
                         prompts(16), reward=likes_letter, progress=records.append)
    if reference == "lora-base":
        assert trainer.reference is None
        trainable = [n for n, p in trainer.policy.named_parameters() if p.requires_grad]
        assert trainable and all("lora" in name for name in trainable)
    else:
        assert next(trainer.reference.parameters()).device.type == "cpu"
    assert records == [] and trainer.train().iterations == 3
    assert records[0]["kl"] == pytest.approx(0.0, abs=1e-5)  # starts at the reference
    saved = AutoModelForCausalLM.from_pretrained(tmp_path / "run")  # merged: no adapters
    assert not any("lora" in name for name, _ in saved.named_parameters())


class FixedScorer:
    """A reward model stand-in: the given raw scores, in the order of the items."""

    def __init__(self, values: list[float]) -> None:
        self.values = torch.tensor(values)

    def score(self, items) -> torch.Tensor:
        return self.values[:len(items)].clone()


# Raw scores of the two reward models for a batch of 8. "wide": one helpfulness score past
# the logit clamp (the sigmoid saturates), one low safety score that switches the rule to
# the safety model. "narrow": a spread so small that the whitening epsilon shows, so that
# whitening twice gives other values than whitening once.
SCORES = {
    "wide": ([0.5, -1.0, 30.0, 2.0, -0.3, 1.1, 0.0, -2.5], [4.0] * 7 + [-3.0]),
    "narrow": ([x * 1e-4 for x in (-3, -1, 1, 3, -2, 2, 0, 0.5)], [4.0] * 8),
}


def scores_reaching_the_advantages(tiny_policy, output, monkeypatch, scores, **overrides):
    from paddock.training.policy import ppo_core
    from paddock.training.policy.prompts import CombinedReward
    from paddock.training.policy.rewards import CombinedScorer

    helpfulness, safety = scores
    reward = CombinedReward(CombinedScorer(FixedScorer(helpfulness), FixedScorer(safety)))
    fed: list[torch.Tensor] = []
    real_gae = ppo_core.gae_advantages

    def spy(rewards, values, mask, *args, **kwargs):
        # kl_beta is 0: a row's rewards sum to the sequence score it was paid
        fed.append(ppo_core.masked_sum(rewards, mask, dim=1).detach().cpu())
        return real_gae(rewards, values, mask, *args, **kwargs)

    monkeypatch.setattr(ppo_core, "gae_advantages", spy)
    trainer = PPOTrainer(config(tiny_policy, output, iterations=1, batch_size=8,
                                minibatch_size=8, max_new_tokens=4, kl_beta=0.0, **overrides),
                         prompts(8), reward=reward)
    trainer.train()
    assert len(fed) == 1
    return fed[0]


@pytest.mark.parametrize("spread", sorted(SCORES))
def test_rewards_are_logit_then_whitened_once_before_the_advantages(tiny_policy, tmp_path,
                                                                    monkeypatch, spread):
    from paddock.training.policy.rewards import SIGMOID_EPS

    helpfulness, safety = (torch.tensor(v) for v in SCORES[spread])
    bound = math.log((1 - SIGMOID_EPS) / SIGMOID_EPS)  # logit(clamped sigmoid), by hand
    unsafe = safety < math.log(0.15 / 0.85)
    logit = torch.where(unsafe, safety, helpfulness).clamp(-bound, bound)
    once = (logit - logit.mean()) / torch.sqrt(logit.var() + 1e-8)  # unbiased variance

    whitened = scores_reaching_the_advantages(tiny_policy, tmp_path / "on", monkeypatch,
                                              SCORES[spread])
    torch.testing.assert_close(whitened, once, atol=1e-5, rtol=1e-5)
    twice = (once - once.mean()) / torch.sqrt(once.var() + 1e-8)
    if spread == "narrow":  # whitening twice would be caught
        assert (twice - once).abs().max() > 1e-2
    else:  # zero mean, unit variance over the batch
        assert abs(whitened.mean().item()) < 1e-5
        assert whitened.std().item() == pytest.approx(1.0, abs=1e-4)
        assert whitened[2] < 13.9 / logit.std()  # the clamp came before the whitening

    raw = scores_reaching_the_advantages(tiny_policy, tmp_path / "off", monkeypatch,
                                         SCORES[spread], whiten_rewards=False)
    torch.testing.assert_close(raw, logit, atol=1e-6, rtol=1e-6)
    assert (raw - once).abs().max() > 0.1  # not whitened
