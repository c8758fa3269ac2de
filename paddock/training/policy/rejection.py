"""Rejection sampling (Llama 2, section 3.2.3): K samples per prompt, keep the best.

Each prompt gets K responses from the newest policy at a high temperature (1.2 by
default: the paper's best at 10-100 samples; the paper tunes it per round, so it is a
parameter, recorded in the round's report), each scored with the combined reward; the
argmax is kept. Keeping only the last round's best caused regressions in the paper, so
the best samples of all earlier rounds stay in a pool: an earlier round's best is
re-scored with the current reward models (scores of different RM versions are not
comparable) and the pool keeps, per prompt, whichever now scores higher. SFT then trains
on the pool.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from paddock.kernel.atomic_write import write_atomically
from paddock.kernel.jsonl import LineProblem, read_jsonl
from paddock.training import recipe
from paddock.training.policy.generation import GenerationRequest, SamplingParams
from paddock.training.policy.prompts import PolicyPrompt, RewardFunction


@dataclass(frozen=True)
class PoolEntry:
    prompt_id: str
    messages: list[dict]  # the prompt conversation, ending with the user turn
    response: str
    score: float  # under the reward models of the round that wrote the pool
    round: str  # which round (policy version) sampled it
    seed: int
    safety: bool = False


@dataclass
class RoundReport:
    prompts: int
    samples: int
    mean_sample_score: float
    mean_best_score: float  # the argmax per prompt, this round
    kept_from_earlier_rounds: int  # prompts whose earlier best still scores higher
    pool_size: int
    temperature: float = recipe.REJECTION_TEMPERATURE  # this round's sampling temperature
    k: int = 0  # samples per prompt
    top_p: float = 1.0

    def as_dict(self) -> dict:
        return asdict(self)


def sample_candidates(backend, prompts: Sequence[PolicyPrompt], prompt_ids: dict[str, list[int]],
                      *, k: int, temperature: float = recipe.REJECTION_TEMPERATURE,
                      top_p: float = 1.0, max_new_tokens: int = 256, seed: int = 0
                      ) -> list[list[tuple[str, int]]]:
    """K (text, seed) samples per prompt; seed = seed + prompt position * k + sample."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    requests = [
        GenerationRequest(
            id=f"{index}:{sample}", prompt_ids=prompt_ids[prompt.id],
            params=SamplingParams(temperature=temperature, top_p=top_p,
                                  max_new_tokens=max_new_tokens,
                                  seed=seed + index * k + sample))
        for index, prompt in enumerate(prompts) for sample in range(k)
    ]
    generations = backend.generate(requests)
    return [[(g.text, g.seed) for g in generations[index * k:(index + 1) * k]]
            for index in range(len(prompts))]


def pick_best(prompts: Sequence[PolicyPrompt], candidates: Sequence[Sequence[tuple[str, int]]],
              reward: RewardFunction, *, round_name: str) -> tuple[list[PoolEntry], list[float]]:
    """The argmax of the reward per prompt (first one on ties), and every sample's score."""
    flat_prompts = [p for p, samples in zip(prompts, candidates, strict=True) for _ in samples]
    flat_texts = [text for samples in candidates for text, _ in samples]
    scores = reward(flat_prompts, flat_texts).scores.float().cpu().tolist()
    best, position = [], 0
    for prompt, samples in zip(prompts, candidates, strict=True):
        block = scores[position:position + len(samples)]
        winner = max(range(len(samples)), key=lambda i: (block[i], -i))
        text, sample_seed = samples[winner]
        best.append(PoolEntry(prompt.id, list(prompt.messages), text, block[winner],
                              round_name, sample_seed, prompt.safety))
        position += len(samples)
    return best, scores


def merge_pool(new_best: Sequence[PoolEntry], earlier: Sequence[PoolEntry],
               reward: RewardFunction) -> tuple[list[PoolEntry], int]:
    """Per prompt, the higher of this round's best and the earlier best, both scored by
    the current reward models. Prompts only in the earlier pool stay in it."""
    rescored: dict[str, PoolEntry] = {}
    if earlier:
        prompts = [PolicyPrompt(e.prompt_id, tuple(e.messages), e.safety) for e in earlier]
        scores = reward(prompts, [e.response for e in earlier]).scores.float().cpu().tolist()
        rescored = {e.prompt_id: PoolEntry(**{**asdict(e), "score": score})
                    for e, score in zip(earlier, scores, strict=True)}
    merged = dict(rescored)
    kept_earlier = 0
    for entry in new_best:
        previous = rescored.get(entry.prompt_id)
        if previous is not None and previous.score > entry.score:
            kept_earlier += 1
            continue
        merged[entry.prompt_id] = entry
    return [merged[key] for key in sorted(merged)], kept_earlier


def rejection_round(backend, prompts: Sequence[PolicyPrompt], prompt_ids: dict[str, list[int]],
                    reward: RewardFunction, *, k: int, round_name: str,
                    earlier_pool: Sequence[PoolEntry] = (),
                    temperature: float = recipe.REJECTION_TEMPERATURE, top_p: float = 1.0,
                    max_new_tokens: int = 256, seed: int = 0
                    ) -> tuple[list[PoolEntry], RoundReport]:
    candidates = sample_candidates(backend, prompts, prompt_ids, k=k, temperature=temperature,
                                   top_p=top_p, max_new_tokens=max_new_tokens, seed=seed)
    best, scores = pick_best(prompts, candidates, reward, round_name=round_name)
    pool, kept = merge_pool(best, earlier_pool, reward)
    report = RoundReport(
        prompts=len(prompts), samples=len(scores),
        mean_sample_score=round(float(torch.tensor(scores).mean()), 5) if scores else 0.0,
        mean_best_score=round(sum(b.score for b in best) / len(best), 5) if best else 0.0,
        kept_from_earlier_rounds=kept, pool_size=len(pool), temperature=temperature, k=k,
        top_p=top_p)
    return pool, report


def read_pool(path: str | Path) -> list[PoolEntry]:
    """A pool file from an earlier round; a missing file is an empty pool (round one)."""
    path = Path(path)
    if not path.exists():
        return []
    entries = []
    for item in read_jsonl(path):
        if isinstance(item, LineProblem):
            raise ValueError(f"{path}, line {item.line}: not a pool entry ({item.message})")
        try:
            entries.append(PoolEntry(**item.record))
        except TypeError as error:
            raise ValueError(f"{path}, line {item.line}: not a pool entry ({error})") from None
    return entries


def write_pool(path: str | Path, entries: Sequence[PoolEntry]) -> Path:
    """Written aside and renamed: a reader never sees half a pool."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, (json.dumps(asdict(entry), sort_keys=True,
                                              ensure_ascii=False) + "\n" for entry in entries))


def pool_messages(entry: PoolEntry) -> list[dict]:
    """The pool entry as an SFT conversation: the prompt and its best answer."""
    return [*entry.messages, {"role": "assistant", "content": entry.response}]
