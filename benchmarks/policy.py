"""Policy-side throughput on CPU, one section per stage of the loop.

- sampling: the seeded decode loop of ``paddock.training.policy.generation`` on a small
  random Llama (hidden 256, 4 layers, vocabulary 512; smaller with --quick): 32 prompts
  of varied length sampled in batches of 32, against the same 32 requests one at a time,
  with the same seeds and max_new_tokens. Tokens/s counts every sampled token, so the two
  rates compare even where a row stops early at EOS.

- ppo: seconds per PPO iteration on the same small Llama, against two real (tiny) reward
  models, split into generation, scoring (both RMs) and optimisation (old/reference
  log-probs, values, GAE and the minibatch steps).
- gpu: on a CUDA machine, PPO on a 1B-class Llama built from a config, in bf16, with peak
  memory; skipped (and said so) elsewhere.
Sections are independent functions registered in SECTIONS; each returns its figures,
written together under benchmarks/results/policy.json.

One torch thread by default: at these model sizes a second thread buys nothing and, on a
machine running anything else, OpenMP threads waiting on each other slow every step by an
order of magnitude, which would measure the machine rather than the code (--threads).

    python -m benchmarks.policy [--quick] [--sections sampling] [--bf16 auto|yes|no]
                                [--threads 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PROMPTS = 32
BATCH_SIZE = 32


def sampling_requests(count: int, max_new_tokens: int):
    from paddock.training.policy.generation import GenerationRequest, SamplingParams
    from paddock.training.tiny import DEFAULT_CORPUS

    requests = []
    for index in range(count):
        sentences = [DEFAULT_CORPUS[(index + k) % len(DEFAULT_CORPUS)]
                     for k in range(1 + index % 3)]  # one to three sentences: padding
        requests.append(GenerationRequest(
            f"prompt-{index}", messages=[{"role": "user", "content": " ".join(sentences)}],
            params=SamplingParams(temperature=0.7, top_p=0.9, max_new_tokens=max_new_tokens,
                                  seed=index)))
    return requests


def timed(backend, requests) -> dict:
    before = backend.stats
    started = time.perf_counter()
    generations = backend.generate(requests)
    seconds = time.perf_counter() - started
    tokens = backend.stats.tokens - before.tokens
    return {"seconds": round(seconds, 3), "tokens": tokens,
            "tokens_per_second": round(tokens / seconds, 1),
            "stopped_early": sum(g.finish_reason == "stop" for g in generations)}


def sampling_section(args: argparse.Namespace, work: Path) -> dict:
    import torch

    from paddock.training.policy.generation import TransformersBackend
    from paddock.training.tiny import build_tiny_llama

    size = ({"hidden_size": 64, "layers": 2, "heads": 4} if args.quick
            else {"hidden_size": 256, "layers": 4, "heads": 4})
    max_new_tokens = 16 if args.quick else 64
    path = build_tiny_llama(work / "sampling-model", vocab_size=512, **size)
    batched = TransformersBackend.from_pretrained(path, device="cpu", batch_size=BATCH_SIZE,
                                                  bf16=args.bf16)
    one_by_one = TransformersBackend(batched.model, batched.tokenizer, device="cpu",
                                     batch_size=1, bf16=args.bf16)
    requests = sampling_requests(PROMPTS, max_new_tokens)
    batched.generate(requests[:2])  # warm-up: first-call allocations out of the timing
    batch_figures = timed(batched, requests)
    single_figures = timed(one_by_one, requests)
    print(f"  batched {batch_figures}\n  one at a time {single_figures}", flush=True)
    return {
        "model": {"vocab_size": len(batched.tokenizer), **size},
        "prompts": PROMPTS, "batch_size": BATCH_SIZE, "max_new_tokens": max_new_tokens,
        "bf16_autocast": batched.autocast, "torch_threads": torch.get_num_threads(),
        "batched": batch_figures, "one_at_a_time": single_figures,
        "speedup": round(batch_figures["tokens_per_second"]
                         / single_figures["tokens_per_second"], 2),
    }


def tiny_reward_models(policy: Path, work: Path, device) -> dict[str, str]:
    """Two reward models on the policy's body (one optimizer step each): real scorers."""
    from paddock.kernel import vocabulary
    from paddock.training.reward.config import RewardConfig
    from paddock.training.reward.pairs import PreferencePair, Turn
    from paddock.training.reward.trainer import RewardTrainer

    pairs = [PreferencePair(id=f"p{i}", context=(Turn("user", f"Question {i}?"),),
                            chosen="A helpful answer.", rejected="No.", axis=vocabulary.HELPFULNESS,
                            strength=vocabulary.BETTER, source="bench") for i in range(8)]
    paths = {}
    for name in ("helpfulness", "safety"):
        config = RewardConfig(model_path=str(policy), output_dir=str(work / f"rm-{name}"),
                              batch_pairs=8, micro_batch_pairs=8, max_length=256)
        RewardTrainer(config, pairs, device=device).train()
        paths[name] = config.output_dir
    return paths


def ppo_figures(args: argparse.Namespace, work: Path, *, size: dict, device: str,
                batch: int, minibatch: int, micro: int, max_new_tokens: int,
                iterations: int) -> dict:
    """Seconds per PPO iteration, split into generation, scoring and optimisation."""
    import torch

    from paddock.training.policy.ppo import PPOConfig, PPOTrainer
    from paddock.training.policy.prompts import PolicyPrompt
    from paddock.training.tiny import DEFAULT_CORPUS, build_tiny_llama

    policy = build_tiny_llama(work / f"ppo-policy-{device}", vocab_size=512, **size)
    rms = tiny_reward_models(policy, work, torch.device(device))
    prompts = [PolicyPrompt(f"q{i}", ({"role": "user",
                                       "content": DEFAULT_CORPUS[i % len(DEFAULT_CORPUS)]},),
                            safety=i % 4 == 0) for i in range(batch)]
    config = PPOConfig(
        policy_path=str(policy), output_dir=str(work / f"ppo-{device}"),
        helpfulness_rm=rms["helpfulness"], safety_rm=rms["safety"], iterations=iterations,
        batch_size=batch, minibatch_size=minibatch, micro_batch_size=micro,
        max_new_tokens=max_new_tokens, eval_every=0, bf16=args.bf16, learning_rate=1e-5)
    records: list[dict] = []
    trainer = PPOTrainer(config, prompts, progress=records.append, device=torch.device(device))
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trainer.train(stop_after_iterations=iterations)
    timed = records[1:] or records  # the first iteration pays one-off allocations
    split = {part: round(sum(r["seconds"][part] for r in timed) / len(timed), 3)
             for part in ("generation", "scoring", "optimisation")}
    total = sum(split.values())
    figures = {
        "model": size, "device": device, "bf16": trainer.bf16, "batch_size": batch,
        "minibatch_size": minibatch, "max_new_tokens": max_new_tokens,
        "iterations_timed": len(timed), "seconds_per_iteration": round(total, 3),
        "split_seconds": split,
        "split_share": {part: round(value / total, 3) for part, value in split.items()},
        "mean_response_tokens": round(sum(r["response_length"] for r in timed) / len(timed), 1),
    }
    if device == "cuda":
        figures["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    print(f"  {figures}", flush=True)
    return figures


def ppo_section(args: argparse.Namespace, work: Path) -> dict:
    if args.quick:
        return ppo_figures(args, work, size={"hidden_size": 64, "layers": 2, "heads": 4},
                           device="cpu", batch=8, minibatch=4, micro=4, max_new_tokens=8,
                           iterations=2)
    return ppo_figures(args, work, size={"hidden_size": 256, "layers": 4, "heads": 4},
                       device="cpu", batch=64, minibatch=16, micro=16, max_new_tokens=64,
                       iterations=3)


def gpu_section(args: argparse.Namespace, work: Path) -> dict:
    """A 1B-class Llama (TinyLlama's shape) in bf16: sampling and a PPO iteration."""
    import torch

    if not torch.cuda.is_available():
        print("  no CUDA device: skipped", flush=True)
        return {"skipped": "no CUDA device on this machine"}
    size = {"hidden_size": 2048, "layers": 22, "heads": 32, "intermediate_size": 5632}
    return {"ppo": ppo_figures(args, work, size=size, device="cuda", batch=64, minibatch=16,
                               micro=8, max_new_tokens=128, iterations=3)}


SECTIONS: dict[str, Callable[[argparse.Namespace, Path], dict]] = {
    "sampling": sampling_section,
    "ppo": ppo_section,
    "gpu": gpu_section,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sections", nargs="+", choices=sorted(SECTIONS),
                        default=list(SECTIONS))
    parser.add_argument("--bf16", default="auto", choices=("auto", "yes", "no"))
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()

    import torch

    from benchmarks.common import write_results

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="paddock-policy-bench-"))
    figures = {}
    for name in args.sections:
        print(f"{name} ...", flush=True)
        figures[name] = SECTIONS[name](args, work)
    write_results("policy", figures, quick=args.quick)


if __name__ == "__main__":
    main()
