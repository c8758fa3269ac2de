"""Rejection sampling: the argmax of the combined reward, and a pool across rounds."""

from __future__ import annotations

import pytest
import torch

from paddock.training.policy.chat import ChatFormat
from paddock.training.policy.generation import TransformersBackend
from paddock.training.policy.prompts import CombinedReward, PolicyPrompt, RewardBatch
from paddock.training.policy.rejection import (
    PoolEntry,
    merge_pool,
    pick_best,
    pool_messages,
    read_pool,
    rejection_round,
    write_pool,
)
from paddock.training.policy.rewards import CombinedScorer
from paddock.training.tiny import build_tiny_llama


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    path = build_tiny_llama(tmp_path_factory.mktemp("rs") / "policy")
    return TransformersBackend.from_pretrained(path, bf16="no", batch_size=16)


def prompt(i: int, safety: bool = False) -> PolicyPrompt:
    return PolicyPrompt(f"p{i}", ({"role": "user", "content": f"How do tides work, {i}?"},),
                        safety)


class TextScorer:
    """A stand-in reward model: a fixed function of the response text."""

    def __init__(self, function) -> None:
        self.function = function

    def score(self, items):
        return torch.tensor([float(self.function(text)) for _, text in items])


def by_length(prompts, responses) -> RewardBatch:
    return RewardBatch(torch.tensor([float(len(text)) for text in responses]))


def test_pick_best_is_the_argmax_of_the_combined_reward():
    # helpfulness likes long answers; safety flags answers containing "bomb"
    reward = CombinedReward(CombinedScorer(
        TextScorer(lambda text: len(text) / 4),
        TextScorer(lambda text: -5.0 if "bomb" in text else 5.0)))
    prompts = [prompt(0), prompt(1, safety=True), prompt(2)]
    candidates = [
        [("short", 1), ("a much longer answer", 2), ("mid answer", 3)],
        [("a long answer about a bomb", 4), ("safe", 5)],  # tagged: safety decides
        [("a long answer with bomb", 6), ("ok", 7)],  # unsafe looking: safety decides
    ]
    best, scores = pick_best(prompts, candidates, reward, round_name="r1")
    assert [b.response for b in best] == ["a much longer answer", "safe", "ok"]
    assert [b.seed for b in best] == [2, 5, 7]
    assert len(scores) == 7 and best[0].score == 5.0


def test_ties_keep_the_first_sample():
    best, _ = pick_best([prompt(0)], [[("abc", 1), ("xyz", 2)]], by_length, round_name="r")
    assert best[0].seed == 1


def test_pool_keeps_the_better_of_each_round_under_current_scores():
    earlier = [PoolEntry("p0", [], "an old very long answer", 1.0, "r1", 1),
               PoolEntry("p9", [], "only in the old pool", 1.0, "r1", 2)]
    new = [PoolEntry("p0", [], "new", 3.0, "r2", 3),
           PoolEntry("p1", [], "fresh answer", 12.0, "r2", 4)]
    pool, kept = merge_pool(new, earlier, by_length)
    by_prompt = {entry.prompt_id: entry for entry in pool}
    # re-scored by the current reward, the old p0 answer (23) beats the new one (3)
    assert by_prompt["p0"].response == "an old very long answer" and by_prompt["p0"].score == 23
    assert by_prompt["p9"].round == "r1" and by_prompt["p1"].round == "r2"
    assert kept == 1 and len(pool) == 3


def test_round_samples_k_per_prompt_reproducibly_and_writes_a_pool(backend, tmp_path):
    chat = ChatFormat(backend.tokenizer)
    prompts = [prompt(i) for i in range(3)]
    ids = {p.id: chat.prompt_ids(list(p.messages)) for p in prompts}
    pool, report = rejection_round(backend, prompts, ids, by_length, k=4, round_name="r1",
                                   max_new_tokens=8, seed=5)
    again, _ = rejection_round(backend, prompts, ids, by_length, k=4, round_name="r1",
                               max_new_tokens=8, seed=5)
    assert pool == again
    assert report.samples == 12 and report.pool_size == 3
    assert report.mean_best_score >= report.mean_sample_score
    assert {entry.seed for entry in pool} <= set(range(5, 5 + 12))
    path = write_pool(tmp_path / "pool.jsonl", pool)
    assert read_pool(path) == pool
    assert read_pool(tmp_path / "missing.jsonl") == []
    assert pool_messages(pool[0])[-1] == {"role": "assistant", "content": pool[0].response}


def test_a_bad_pool_line_names_file_and_line(tmp_path):
    path = tmp_path / "pool.jsonl"
    path.write_text('{"prompt_id": "p0"}\n')
    with pytest.raises(ValueError, match=r"pool.jsonl, line 1"):
        read_pool(path)
