"""The combined Llama 2 reward, whitening, and reward models scoring lone responses."""

from __future__ import annotations

import math

import pytest
import torch

from paddock.kernel import vocabulary
from paddock.training import recipe
from paddock.training.policy.rewards import (
    SIGMOID_EPS,
    CombinedScorer,
    RewardScorer,
    combined_reward,
    whiten,
)
from paddock.training.reward.config import RewardConfig
from paddock.training.reward.modeling import load_reward_model
from paddock.training.reward.pairs import PreferencePair, Turn
from paddock.training.reward.trainer import RewardTrainer, load_tokenizer, score_pairs
from paddock.training.tiny import build_tiny_llama

BOUNDARY = math.log(recipe.SAFETY_SCORE_THRESHOLD / (1 - recipe.SAFETY_SCORE_THRESHOLD))


def test_the_paper_rule_picks_the_reward_model():
    helpfulness = torch.tensor([2.0, 2.0, 2.0, -1.0])
    safety = torch.tensor([3.0, -3.0, 0.0, 1.0])
    tagged = torch.tensor([True, False, False, False])
    reward, used_safety = combined_reward(helpfulness, safety, tagged)
    # tagged: safety even though safe; sigmoid(-3) = 0.047 < 0.15: safety; else helpfulness
    assert used_safety.tolist() == [True, True, False, False]
    assert reward.tolist() == [3.0, -3.0, 2.0, -1.0]


def test_the_threshold_is_strict():
    at = torch.tensor([BOUNDARY])
    below = torch.nextafter(at, torch.tensor([-math.inf]))
    helpfulness, untagged = torch.tensor([5.0]), torch.tensor([False])
    reward, used_safety = combined_reward(helpfulness, at, untagged)
    assert (used_safety.item(), reward.item()) == (False, 5.0)
    reward, used_safety = combined_reward(helpfulness, below, untagged)
    assert used_safety.item() and reward.item() == below.item()
    # a threshold of 0 leaves only the tags
    _, used_safety = combined_reward(helpfulness, torch.tensor([-50.0]), untagged, threshold=0.0)
    assert not used_safety.item()


def test_logit_of_the_sigmoid_is_finite_for_extreme_scores():
    raw = torch.tensor([1e4, -1e4, math.inf, -math.inf, 30.0, 3.0, -0.5])
    reward, _ = combined_reward(raw, torch.zeros_like(raw), torch.zeros(7, dtype=torch.bool))
    assert torch.isfinite(reward).all()
    stable = torch.logit(torch.sigmoid(raw.double()), eps=SIGMOID_EPS).float()
    assert torch.allclose(reward, stable, atol=1e-4)
    bound = math.log((1 - SIGMOID_EPS) / SIGMOID_EPS)
    assert reward[:5].tolist() == pytest.approx([bound, -bound, bound, -bound, bound])
    assert reward[5:].tolist() == [3.0, -0.5]  # in range: exactly the raw score


def test_combined_reward_rejects_bad_input():
    scores = torch.zeros(2)
    with pytest.raises(ValueError, match="NaN"):
        combined_reward(torch.tensor([0.0, math.nan]), scores, torch.zeros(2, dtype=torch.bool))
    with pytest.raises(ValueError, match="same length"):
        combined_reward(torch.zeros(3), scores, torch.zeros(2, dtype=torch.bool))
    with pytest.raises(ValueError, match="probability"):
        combined_reward(scores, scores, torch.zeros(2, dtype=torch.bool), threshold=1.5)


def test_whiten():
    values = torch.tensor([1.0, 2.0, 4.0, 9.0])
    whitened = whiten(values)
    assert whitened.mean().item() == pytest.approx(0.0, abs=1e-6)
    assert whitened.std().item() == pytest.approx(1.0, abs=1e-5)
    assert whiten(values, shift_mean=False).mean().item() == pytest.approx(4.0)
    with pytest.raises(ValueError, match="at least 2"):
        whiten(torch.tensor([1.0]))


class FixedScorer:
    def __init__(self, scores: list[float]) -> None:
        self.scores = torch.tensor(scores)
        self.calls = 0

    def score(self, items):
        self.calls += 1
        return self.scores[:len(items)]


def items(count: int):
    return [([{"role": "user", "content": f"question {i}"}], f"answer {i}") for i in range(count)]


def test_combined_scorer_with_synthetic_scorers():
    scorer = CombinedScorer(FixedScorer([1.0, 1.0, 1.0]), FixedScorer([2.0, -4.0, 0.5]))
    result = scorer.score(items(3), [True, False, False])
    assert result.used_safety.tolist() == [True, True, False]
    assert result.chosen.tolist() == [2.0, -4.0, 1.0]
    assert result.helpfulness.tolist() == [1.0, 1.0, 1.0]
    assert result.safety.tolist() == [2.0, -4.0, 0.5]
    assert result.safety_fraction == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="safety_tagged"):
        scorer.score(items(3), [True])
    with pytest.raises(ValueError, match="helpfulness scorer returned"):
        scorer.score(items(4), [False] * 4)


@pytest.fixture(scope="module")
def reward_model(tmp_path_factory) -> str:
    """A tiny reward model after one training step, saved as the trainer saves it."""
    root = tmp_path_factory.mktemp("rm")
    base = str(build_tiny_llama(root / "base"))
    pairs = [
        PreferencePair(id=f"p{i}", context=(Turn("user", f"How do tides work? {i}"),),
                       chosen="The moon pulls the water.", rejected="No idea.",
                       axis="helpfulness", source="test", strength=vocabulary.BETTER)
        for i in range(4)
    ]
    config = RewardConfig(model_path=base, output_dir=str(root / "rm"), batch_pairs=4,
                          micro_batch_pairs=4, learning_rate=1e-3, max_length=40,
                          min_context_tokens=8, bf16="no")
    RewardTrainer(config, pairs, device=torch.device("cpu")).train()
    return config.output_dir


def test_reward_scorer_matches_score_pairs(reward_model):
    scorer = RewardScorer.load(reward_model, device=torch.device("cpu"), batch_size=2)
    assert (scorer.encoder.max_length, scorer.encoder.min_context_tokens) == (40, 8)
    long_context = (Turn("system", "Be brief."), Turn("user", "Tell me about the sea."),
                    Turn("assistant", "The sea is salty and deep. " * 4),
                    Turn("user", "And the tides?"))
    pairs = [
        PreferencePair(id="a", context=(Turn("user", "How do tides work?"),),
                       chosen="The moon pulls the water.", rejected="No idea.",
                       axis="helpfulness", source="test"),
        PreferencePair(id="b", context=long_context, chosen="Twice a day, by the moon.",
                       rejected="Water boils at one hundred degrees Celsius " * 3,
                       axis="safety", source="test"),
    ]
    model = load_reward_model(reward_model)
    expected, truncation = score_pairs(model, load_tokenizer(reward_model), pairs,
                                       max_length=40, min_context_tokens=8)
    assert truncation["sides_with_context_truncated"] > 0  # the cut path is compared too
    batch = [
        ([{"role": t.role, "content": t.content} for t in pair.context], response)
        for pair in pairs for response in (pair.chosen, pair.rejected)
    ]
    scores = scorer.score(batch)
    flat = [score for pair_scores in expected for score in pair_scores]
    assert scores.dtype == torch.float32 and scores.shape == (4,)
    assert scores.tolist() == pytest.approx(flat, abs=1e-5)
    assert len(set(scores.tolist())) == 4
    assert scorer.truncation["sides_with_context_truncated"] == (
        truncation["sides_with_context_truncated"])


def test_reward_scorer_errors(reward_model, tmp_path):
    scorer = RewardScorer.load(reward_model, device=torch.device("cpu"))
    with pytest.raises(ValueError, match="item 1, message 0: unknown role 'bot'"):
        scorer.score([([{"role": "user", "content": "hi"}], "x"),
                      ([{"role": "bot", "content": "hi"}], "x")])
    with pytest.raises(FileNotFoundError):
        RewardScorer.load(tmp_path / "missing")
    (tmp_path / "no-config").mkdir()
    with pytest.raises(ValueError, match="pass max_length"):
        RewardScorer.load(tmp_path / "no-config")
