"""Run a trainer in one process or under torchrun with gloo ranks, for the tests that
check N ranks learn what one process learns.

``python -m tests.training.ranks SPEC.json`` builds the trainer the spec names (reward,
sft or ppo) on deterministic data, trains (``stop_after`` more steps, or to the end) and,
on rank 0, writes the per-step losses to ``spec["report"]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def torchrun(ranks: int) -> list[str]:
    if ranks == 1:
        return [sys.executable]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            "--nproc_per_node", str(ranks)]


def launch(spec: dict, spec_path: Path, ranks: int) -> dict:
    """Run the spec on ``ranks`` processes; rank 0's report."""
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([*torchrun(ranks), "-m", "tests.training.ranks", str(spec_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(Path(spec["report"]).read_text())


def _reward(spec: dict):
    from paddock.training.reward.config import RewardConfig
    from paddock.training.reward.pairs import PreferencePair, Turn
    from paddock.training.reward.trainer import RewardTrainer

    pairs = [PreferencePair(
        id=f"pair-{i}", context=(Turn("user", f"Question {i}: how do tides work?"),),
        chosen=f"The moon pulls the water, answer {i}, with details." + " more" * (i % 5),
        rejected=f"No idea {i}.", axis="helpfulness", source="test", strength="better")
        for i in range(spec["count"])]
    return RewardTrainer(RewardConfig.from_dict(spec["config"]), pairs)


def _sft(spec: dict):
    from paddock.training.policy.sft import SFTConfig, SFTExample, SFTTrainer

    examples = [SFTExample([{"role": "user", "content": f"How do tides work? ({i})"},
                            {"role": "assistant",
                             "content": "The moon pulls the water." + " yes" * (i % 4)}],
                           id=f"ex-{i}") for i in range(spec["count"])]
    return SFTTrainer(SFTConfig.from_dict(spec["config"]), examples)


def likes_letter(prompts, responses):
    """Ten times the share of a response's characters that are "e"."""
    import torch

    from paddock.training.policy.prompts import RewardBatch

    scores = torch.tensor([text.count("e") / max(len(text), 1) for text in responses])
    return RewardBatch(scores * 10, {"liked_share": scores.mean().item()})


def _ppo(spec: dict):
    from paddock.training.policy.ppo import PPOConfig, PPOTrainer
    from paddock.training.policy.prompts import PolicyPrompt

    prompts = [PolicyPrompt(f"p{i}", ({"role": "user",
                                       "content": f"Tell me about tide {i}" + "!" * (i % 3)},))
               for i in range(spec["count"])]
    return PPOTrainer(PPOConfig.from_dict(spec["config"]), prompts, reward=likes_letter)


def main(path: str) -> None:
    spec = json.loads(Path(path).read_text())
    records: list[dict] = []
    trainer = {"reward": _reward, "sft": _sft, "ppo": _ppo}[spec["kind"]](spec)
    if trainer.world.is_main:
        trainer.progress = records.append
    stop = spec.get("stop_after")
    if spec["kind"] == "ppo":
        result = trainer.train(stop_after_iterations=stop)
        done = result.iterations
    else:
        result = trainer.train(stop_after_steps=stop)
        done = result.steps
    if trainer.world.is_main:
        Path(spec["report"]).write_text(json.dumps({
            "done": done, "strategy": trainer.strategy, "ranks": trainer.world.world_size,
            "losses": [r.get("loss", r.get("policy_loss")) for r in records],
            "scores": [r.get("mean_score") for r in records]}))


if __name__ == "__main__":
    main(sys.argv[1])
