"""PPO for the chat policy against the two reward models (Llama 2, section 3.2.3).

Each iteration samples ``batch_size`` responses from the current policy, scores them
with the combined reward (safety score for safety-tagged prompts or unsafe-looking
responses, else helpfulness; logit, then whitened over the batch), subtracts
``kl_beta`` times the per-token KL to the round's starting policy, estimates advantages
with GAE against a value model, and takes one clipped-objective optimizer step per
minibatch. Every ``eval_every`` iterations the mean reward on held-out prompts decides
whether this is the best policy so far; ``patience`` evaluations without improvement
stop the run, and the best policy is what is saved.

The trainer is resumable at iteration boundaries like the reward trainer: sampling seeds
are a function of (seed, iteration, position), so a resumed run samples what an
uninterrupted one would have.

Under ``torchrun`` the policy and the value model are trained under DDP or FSDP
(:mod:`paddock.training.engines`, the config's ``parallelism``). Each rank samples its
share of the batch (whole generation batches, so every response is sampled beside the
neighbours it would have in one process) with the policy's weights gathered once per
rollout, the rollouts are exchanged, every rank scores the whole batch with its copy of the
reward models, and the forward passes and minibatch updates are shared out by micro batch.
With bf16 on a GPU the frozen models (the reference policy and the two reward models) are
held in bf16; under FSDP the reference is also sharded like the policy, otherwise each rank
holds a whole copy (``reference="cpu"`` keeps it on the CPU instead).
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from paddock.training import checkpoints, distributed, engines, run_guard
from paddock.training.devices import pick_device, use_bf16
from paddock.training.optim import adamw
from paddock.training.policy import ppo_core
from paddock.training.policy.chat import ChatFormat
from paddock.training.policy.generation import (
    GenerationRequest,
    SamplingParams,
    TransformersBackend,
    length_batches,
)
from paddock.training.policy.ppo_config import PPOConfig
from paddock.training.policy.prompts import CombinedReward, PolicyPrompt, RewardFunction
from paddock.training.policy.rewards import whiten
from paddock.training.policy.value import ValueModel, load_value_model

Progress = Callable[[dict], None]
BEST_DIR = "best"
EVAL_SEED_OFFSET = 7_919  # held-out sampling uses its own seeds, the same at every eval


@dataclass
class Rollout:
    prompt_ids: list[int]
    response_ids: list[int]
    text: str


@dataclass
class PPOResult:
    output_dir: Path
    iterations: int
    metrics: dict


class PPOTrainer:
    def __init__(self, config: PPOConfig, prompts: Sequence[PolicyPrompt], *,
                 eval_prompts: Sequence[PolicyPrompt] = (), reward: RewardFunction | None = None,
                 progress: Progress | None = None, device: torch.device | None = None) -> None:
        from transformers import AutoModelForCausalLM

        from paddock.training.reward.trainer import load_tokenizer

        if not prompts:
            raise ValueError("no training prompts")
        checkpoints.check_model_folder(config.policy_path, checkpoints.CAUSAL_LM)
        self.config = config
        self.world = distributed.init()
        # Only rank 0 reports and writes; the other ranks only compute their share.
        self.progress = (progress if self.world.is_main else None) or (lambda record: None)
        self.device = device or (distributed.device(self.world) if self.world.distributed
                                 else pick_device())
        self.bf16 = use_bf16(config.bf16, self.device)
        self.output_dir = Path(config.output_dir)
        self.tokenizer = load_tokenizer(config.policy_path)
        self.chat = ChatFormat(self.tokenizer)
        self.prompts = list(prompts)
        self.eval_prompts = list(eval_prompts)
        self.prompt_ids = {p.id: self.chat.prompt_ids(list(p.messages))
                           for p in self.prompts + self.eval_prompts}
        self.reward = reward or self._reward_models()

        torch.manual_seed(config.seed)
        policy = self._prepare(AutoModelForCausalLM.from_pretrained(config.policy_path))
        self.strategy = engines.choose_strategy(config.parallelism, policy, self.world,
                                                self.device, extra_bytes=self._companions(policy))
        self.policy = self._wrap(policy)
        self.reference = self._reference(AutoModelForCausalLM)
        self.value = self._wrap(self._prepare(load_value_model(config.value_model_path
                                                               or config.policy_path),
                                              lora=False))
        self.policy_optimizer = self._optimizer(self.policy, config.learning_rate)
        self.value_optimizer = self._optimizer(
            self.value, config.value_learning_rate or config.learning_rate)
        self.iteration = 0
        self.history: list[dict] = []
        self.best_score: float | None = None
        self.evals_since_best = 0
        self.stopped_early = False

    # -- set-up -----------------------------------------------------------------------

    def _prepare(self, model: nn.Module, *, lora: bool = True) -> nn.Module:
        config = self.config
        for module in model.modules():  # old and new log-probs must come from one network
            if isinstance(module, nn.Dropout):
                module.p = 0.0
        if lora and config.lora is not None:
            from peft import LoraConfig, get_peft_model

            model = get_peft_model(model, LoraConfig(
                task_type="CAUSAL_LM", r=config.lora.r, lora_alpha=config.lora.alpha,
                target_modules=config.lora.target_modules, lora_dropout=0.0))
        if config.gradient_checkpointing == "yes" or (
                config.gradient_checkpointing == "auto" and self.device.type == "cuda"):
            model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False})
        return model.to(self.device)

    def _companions(self, policy: nn.Module) -> int:
        """Bytes a GPU holds beside the policy, for ``parallelism="auto"``: the value model
        (the policy's size, trained: 16 bytes a parameter) and the reference (frozen, bf16
        on a GPU). The reward models are not counted: a worker sized for PPO has room for
        them, or the deployment sets ``fsdp``."""
        parameters = sum(p.numel() for p in policy.parameters())
        reference = 0 if self.config.reference in ("cpu", "lora-base") else parameters * (
            2 if self.bf16 and self.device.type == "cuda" else 4)
        return parameters * 16 + reference

    def _wrap(self, model: nn.Module) -> nn.Module:
        return engines.wrap(model, self.strategy, self.world, self.device, bf16=self.bf16)

    def _reference(self, auto_class) -> nn.Module | None:
        """The frozen starting policy; None for "lora-base" (the policy, adapters off).

        On a GPU with bf16 on it is held in bf16 (half the memory; its log-probs are
        computed under bf16 autocast anyway); under FSDP it is also sharded like the policy
        (its forward runs in lockstep with the others)."""
        if self.config.reference == "lora-base":
            return None
        reference = auto_class.from_pretrained(self.config.policy_path)
        reference.requires_grad_(False)
        reference.eval()
        if self.config.reference == "cpu":
            return reference
        reference = reference.to(self.device)
        if self.bf16 and self.device.type == "cuda":
            reference = reference.to(torch.bfloat16)  # half the memory, same bf16 compute
        return self._wrap(reference) if self.strategy == "fsdp" else reference

    def _optimizer(self, model: nn.Module, learning_rate: float) -> torch.optim.Optimizer:
        return adamw(model, learning_rate=learning_rate, weight_decay=self.config.weight_decay,
                     betas=self.config.adam_betas, eps=self.config.adam_eps)

    def _reward_models(self) -> RewardFunction:
        from paddock.training.policy.rewards import CombinedScorer, RewardScorer

        config = self.config
        if not (config.helpfulness_rm and config.safety_rm):
            raise ValueError("PPO needs helpfulness_rm and safety_rm (or a reward function)")
        scorers = [RewardScorer.load(path, device=self.device, bf16=config.bf16)
                   for path in (config.helpfulness_rm, config.safety_rm)]
        for scorer in scorers:  # frozen: held in bf16 where it runs under bf16 anyway
            if scorer.bf16 and self.device.type == "cuda":
                scorer.model.to(torch.bfloat16)
        return CombinedReward(CombinedScorer(*scorers, threshold=config.safety_threshold))

    # -- the loop ---------------------------------------------------------------------

    def train(self, *, stop_after_iterations: int | None = None,
              should_stop: Callable[[], bool] | None = None,
              save_every_seconds: float | None = None) -> PPOResult:
        """Run to the end (or early stop); or ``stop_after_iterations`` more, checkpoint
        and return. ``should_stop`` is polled before every iteration (a SIGTERM flag):
        when it says stop, the run checkpoints and returns; ``save_every_seconds`` adds a
        checkpoint whenever that much wall time has passed since the last one."""
        self._resume()
        config = self.config
        started, first = time.perf_counter(), self.iteration
        stop_at = config.iterations if stop_after_iterations is None else min(
            config.iterations, self.iteration + stop_after_iterations)
        clock = run_guard.CheckpointClock(save_every_seconds)
        saved_at = first  # the iteration of the newest checkpoint (a resumed run's own)
        while self.iteration < stop_at and not self.stopped_early:
            if should_stop is not None:
                stop, = distributed.sum_values([float(should_stop())], self.world)
                if stop:  # every rank stops at the same iteration, or none does
                    break
            record = self._iteration()
            self.iteration += 1
            if config.eval_every and self.eval_prompts and (
                    self.iteration % config.eval_every == 0
                    or self.iteration == config.iterations):
                record |= self._evaluate()
            self.history.append(record)
            done = self.iteration - first
            elapsed = time.perf_counter() - started
            self.progress(record | {
                "total_iterations": config.iterations,
                "eta_seconds": round(elapsed / done * (config.iterations - self.iteration), 1),
            })
            due = clock.due()
            if clock.seconds is not None:  # every rank checkpoints, or none does
                due, = distributed.sum_values([float(due)], self.world)
            if due or (config.save_every_iterations
                       and self.iteration % config.save_every_iterations == 0):
                self.save_checkpoint()
                clock.reset()
                saved_at = self.iteration
        if self.iteration < config.iterations and not self.stopped_early:
            if self.iteration != saved_at:
                self.save_checkpoint()
            return PPOResult(self.output_dir, self.iteration, self.summary())
        metrics = self.save_final()
        distributed.barrier(self.world)
        return PPOResult(self.output_dir, self.iteration, metrics)

    def _iteration(self) -> dict:
        config = self.config
        prompts = self._batch_prompts(self.iteration)
        clock = time.perf_counter()
        rollouts = self.sample(prompts, seed_base=self._seed(self.iteration))
        generation_seconds = time.perf_counter() - clock

        clock = time.perf_counter()
        rewarded = self.reward(prompts, [r.text for r in rollouts])
        raw = rewarded.scores.detach().float().cpu()
        scores = (whiten(raw) if config.whiten_rewards and len(raw) > 1 else raw).to(self.device)
        scoring_seconds = time.perf_counter() - clock

        clock = time.perf_counter()
        with torch.no_grad():
            old = self._forward_all(rollouts)
        mask = old["mask"]
        rewards, kl = ppo_core.kl_penalised_rewards(
            scores, old["logprobs"], old["ref_logprobs"], mask, config.kl_beta)
        advantages, returns = ppo_core.gae_advantages(
            rewards, old["values"] * mask, mask, gamma=config.gamma, lam=config.lam)
        stats = self._optimise(rollouts, old, advantages, returns)
        optimisation_seconds = time.perf_counter() - clock
        return {
            "iteration": self.iteration + 1,
            "mean_score": round(raw.mean().item(), 5),
            **{key: round(value, 5) for key, value in rewarded.metrics.items()},
            "kl": round(kl.mean().item(), 5),
            "entropy": round(ppo_core.masked_mean(old["entropy"], mask).item(), 5),
            "response_length": round(mask.sum(1).float().mean().item(), 2),
            **stats,
            "seconds": {"generation": round(generation_seconds, 3),
                        "scoring": round(scoring_seconds, 3),
                        "optimisation": round(optimisation_seconds, 3)},
        }

    def _batch_prompts(self, iteration: int) -> list[PolicyPrompt]:
        """The iteration's prompts: epochs over a seeded shuffle, wrapping around."""
        size = self.config.batch_size
        chosen: list[PolicyPrompt] = []
        position = iteration * size
        while len(chosen) < size:
            epoch, offset = divmod(position, len(self.prompts))
            order = list(range(len(self.prompts)))
            random.Random(self.config.seed * 1_000_003 + epoch).shuffle(order)  # noqa: S311
            take = min(size - len(chosen), len(self.prompts) - offset)
            chosen += [self.prompts[i] for i in order[offset:offset + take]]
            position += take
        return chosen

    def _seed(self, iteration: int) -> int:
        return (self.config.seed * 1_000_003 + iteration) * 100_003

    # -- sampling -----------------------------------------------------------------------

    @torch.no_grad()
    def sample(self, prompts: Sequence[PolicyPrompt], *, seed_base: int) -> list[Rollout]:
        """One response per prompt (seed ``seed_base + position``). Under torchrun each
        rank samples whole generation batches (every world_size-th) and every rank gets
        all the rollouts back, in prompt order."""
        config = self.config
        requests = [
            GenerationRequest(
                id=str(index), prompt_ids=self.prompt_ids[prompt.id],
                params=SamplingParams(temperature=config.temperature, top_p=config.top_p,
                                      max_new_tokens=config.max_new_tokens,
                                      seed=seed_base + index))
            for index, prompt in enumerate(prompts)
        ]
        batch_size = config.micro_batch_size * 4
        mine = [index for batch in self.world.share(length_batches(
            [len(r.prompt_ids) for r in requests], batch_size)) for index in batch]
        with engines.gathered_for_inference(self.policy) as policy:
            policy.eval()
            backend = TransformersBackend(policy, self.tokenizer, device=self.device,
                                          batch_size=batch_size, bf16=config.bf16)
            generations = backend.generate([requests[i] for i in mine]) if mine else []
            policy.train()
        sampled = {index: Rollout(list(g.prompt_ids), list(g.output_ids), g.text)
                   for index, g in zip(mine, generations, strict=True)}
        for part in distributed.gather_objects(sampled, self.world):
            sampled |= part
        return [sampled[index] for index in range(len(requests))]

    # -- forward passes -----------------------------------------------------------------

    def _pad(self, rollouts: Sequence[Rollout]) -> dict:
        """Right-padded prompt+response rows and, per row, where its response sits."""
        rows = [r.prompt_ids + r.response_ids for r in rollouts]
        width = max(map(len, rows))
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([row + [pad] * (width - len(row)) for row in rows])
        attention = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows])
        span = max(len(r.response_ids) for r in rollouts)
        offsets = torch.arange(span)
        starts = torch.tensor([len(r.prompt_ids) - 1 for r in rollouts])
        # logits at position t predict token t+1: response token j is read at start + j
        index = (starts[:, None] + offsets[None, :]).clamp(max=width - 2)
        mask = offsets[None, :] < torch.tensor([len(r.response_ids) for r in rollouts])[:, None]
        return {"input_ids": ids.to(self.device), "attention_mask": attention.to(self.device),
                "index": index.to(self.device), "mask": mask.to(self.device)}

    def _policy_outputs(self, model: nn.Module, batch: dict, *, entropy: bool = False
                        ) -> tuple[torch.Tensor, torch.Tensor | None]:
        device = next(model.parameters()).device
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.bf16):
            logits = model(input_ids=batch["input_ids"].to(device),
                           attention_mask=batch["attention_mask"].to(device)).logits
        index = batch["index"].to(device)
        logits = logits.float().gather(
            1, index[..., None].expand(-1, -1, logits.shape[-1]))
        targets = batch["input_ids"].to(device).gather(1, index + 1)
        logprobs = ppo_core.logprobs_from_logits(logits, targets).to(self.device)
        return logprobs, (ppo_core.entropy_from_logits(logits).to(self.device)
                          if entropy else None)

    def _values(self, batch: dict) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            values = self.value(batch["input_ids"], batch["attention_mask"])
        return values.float().gather(1, batch["index"])

    def _forward_all(self, rollouts: list[Rollout]) -> dict:
        """Old log-probs, reference log-probs, values and entropy for the whole batch;
        under torchrun each rank computes every world_size-th micro batch and every rank
        gets them all."""
        span = max(len(r.response_ids) for r in rollouts)
        size = self.config.micro_batch_size
        starts = list(range(0, len(rollouts), size))
        computed: dict[int, dict[str, torch.Tensor]] = {}
        self.policy.eval()
        for start, real in self.world.lockstep_share(starts):
            batch = self._pad(rollouts[start:start + size])
            logprobs, entropy = self._policy_outputs(self.policy, batch, entropy=True)
            if self.reference is None:
                with engines.unwrap(self.policy).disable_adapter():
                    reference, _ = self._policy_outputs(self.policy, batch)
            else:
                reference, _ = self._policy_outputs(self.reference, batch)
            values = self._values(batch)
            if real:
                computed[start] = {
                    key: _pad_columns(value, span).cpu()
                    for key, value in (("logprobs", logprobs), ("ref_logprobs", reference),
                                       ("values", values), ("entropy", entropy),
                                       ("mask", batch["mask"]))}
        self.policy.train()
        if self.world.distributed:
            for part in distributed.gather_objects(computed, self.world):
                computed |= part
        return {key: torch.cat([computed[start][key] for start in starts]).to(self.device)
                for key in ("logprobs", "ref_logprobs", "values", "entropy", "mask")}

    # -- optimisation -------------------------------------------------------------------

    def _optimise(self, rollouts: list[Rollout], old: dict, advantages: torch.Tensor,
                  returns: torch.Tensor) -> dict:
        config = self.config
        generator = torch.Generator().manual_seed(self._seed(self.iteration) + 1)
        totals = {"policy_loss": 0.0, "value_loss": 0.0, "clip_fraction": 0.0,
                  "approx_kl": 0.0}
        steps = 0
        self.policy.train()
        self.value.train()
        models = [self.policy, self.value]
        scale = engines.loss_scale(self.world)
        for _ in range(config.ppo_epochs):
            order = torch.randperm(len(rollouts), generator=generator).tolist()
            for start in range(0, len(order), config.minibatch_size):
                minibatch = order[start:start + config.minibatch_size]
                tokens = old["mask"][minibatch].sum().clamp(min=1)
                micro = [minibatch[at:at + config.micro_batch_size]
                         for at in range(0, len(minibatch), config.micro_batch_size)]
                share = self.world.lockstep_share(micro)
                for position, (rows, real) in enumerate(share):
                    batch = self._pad([rollouts[i] for i in rows])
                    span = batch["mask"].shape[1]
                    mask = old["mask"][rows][:, :span]
                    weight = mask.sum() / tokens  # token-weighted mean over the minibatch
                    with engines.sync_on(models, last=position == len(share) - 1):
                        logprobs, _ = self._policy_outputs(self.policy, batch)
                        policy_loss, clip_fraction, approx_kl = ppo_core.clipped_policy_loss(
                            logprobs, old["logprobs"][rows][:, :span],
                            advantages[rows][:, :span], mask, clip=config.clip)
                        values = self._values(batch)
                        value_loss, _ = ppo_core.clipped_value_loss(
                            values, old["values"][rows][:, :span], returns[rows][:, :span],
                            mask, clip=config.value_clip)
                        ((policy_loss + value_loss) * (weight * scale if real else 0.0)
                         ).backward()
                    if real:
                        totals["policy_loss"] += policy_loss.item() * weight.item()
                        totals["value_loss"] += value_loss.item() * weight.item()
                        totals["clip_fraction"] += float(clip_fraction) * weight.item()
                        totals["approx_kl"] += float(approx_kl) * weight.item()
                for model, optimizer in ((self.policy, self.policy_optimizer),
                                         (self.value, self.value_optimizer)):
                    if config.max_grad_norm:
                        engines.clip_gradients(model, config.max_grad_norm)
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                steps += 1
        names = list(totals)
        totals = dict(zip(names, distributed.sum_values([totals[k] for k in names], self.world),
                          strict=True))
        return {key: round(value / steps, 5) for key, value in totals.items()} | {
            "optimizer_steps": steps}

    # -- held-out evaluation ------------------------------------------------------------

    def _evaluate(self) -> dict:
        """Mean raw reward on the held-out prompts; keeps the best policy on disk."""
        rollouts = self.sample(self.eval_prompts,
                               seed_base=self.config.seed * 1_000_003 + EVAL_SEED_OFFSET)
        score = self.reward(self.eval_prompts, [r.text for r in rollouts]).scores.float()
        mean = score.mean().item()
        improved = self.best_score is None or mean > self.best_score
        if improved:
            self.best_score, self.evals_since_best = mean, 0
            self._save_weights(self.policy, self.output_dir / BEST_DIR, name="policy")
            if self.world.is_main:
                _write_json(self.output_dir / BEST_DIR / "best.json",
                            {"iteration": self.iteration, "eval_score": mean})
        else:
            self.evals_since_best += 1
            self.stopped_early = self.evals_since_best >= self.config.patience
        return {"eval_score": round(mean, 5), "best_eval_score": round(self.best_score, 5),
                "stopped_early": self.stopped_early}

    # -- checkpoints --------------------------------------------------------------------

    def _save_weights(self, model: nn.Module, directory: Path, *, name: str) -> None:
        """``{name}.safetensors`` in ``directory``, written by rank 0 (FSDP ranks first
        send it their shards)."""
        from safetensors.torch import save_file, save_model

        gathered = engines.full_state_dict(model) if engines.is_sharded(model) else None
        if self.world.is_main:
            scratch = directory.with_name(directory.name + ".partial")
            if directory.exists():
                shutil.copytree(directory, scratch, dirs_exist_ok=True)
            scratch.mkdir(parents=True, exist_ok=True)
            if gathered is None:
                save_model(engines.unwrap(model), str(scratch / f"{name}.safetensors"))
            else:  # tied weights arrive as one tensor under two names: store each
                save_file({key: value.clone().contiguous() for key, value in gathered.items()},
                          str(scratch / f"{name}.safetensors"))
            shutil.rmtree(directory, ignore_errors=True)
            scratch.rename(directory)
        distributed.barrier(self.world)

    def _load_weights(self, model: nn.Module, path: Path) -> None:
        """Whole weights from ``path`` into ``model`` (sharded as it is, under FSDP)."""
        from safetensors.torch import load_file, load_model

        if not engines.is_sharded(model):
            load_model(engines.unwrap(model), str(path), device=str(self.device))
            return
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_model_state_dict,
        )

        set_model_state_dict(model, load_file(str(path)),
                             options=StateDictOptions(full_state_dict=True))

    def save_checkpoint(self) -> Path:
        """Both models, both optimizers, the iteration, the history and the RNG."""
        return checkpoints.save_checkpoint(
            self.output_dir, self.iteration,
            models={"policy": self.policy, "value": self.value},
            optimizers={"policy": self.policy_optimizer, "value": self.value_optimizer},
            world=self.world,
            state={"iteration": self.iteration, "history": self.history,
                   "best_score": self.best_score, "evals_since_best": self.evals_since_best,
                   "stopped_early": self.stopped_early},
            config=self.config)

    def _resume(self) -> None:
        latest = checkpoints.latest_checkpoint(self.output_dir)
        if latest is None or self.iteration:
            return
        state = checkpoints.load_checkpoint(
            latest, models={"policy": self.policy, "value": self.value}, device=self.device,
            optimizers={"policy": self.policy_optimizer, "value": self.value_optimizer},
            legacy_optimizer_keys={"policy": "policy_optimizer", "value": "value_optimizer"})
        self.iteration = state["iteration"]
        self.history = state["history"]
        self.best_score = state["best_score"]
        self.evals_since_best = state["evals_since_best"]
        self.stopped_early = state["stopped_early"]

    def summary(self) -> dict:
        last = self.history[-1] if self.history else {}
        return {"iterations": self.iteration, "stopped_early": self.stopped_early,
                "best_eval_score": self.best_score, "last": last, "bf16": self.bf16,
                "device": str(self.device), "parallelism": self.strategy,
                "ranks": self.world.world_size}

    def save_final(self) -> dict:
        """The best policy (or the last, without held-out prompts), merged, as a plain
        Hugging Face checkpoint, with the value model beside it for the next round; written
        by rank 0, to which FSDP ranks first send their shards."""
        best = self.output_dir / BEST_DIR / "policy.safetensors"
        if best.exists():
            self._load_weights(self.policy, best)
        sharded = engines.is_sharded(self.policy)
        policy_state = engines.full_state_dict(self.policy) if sharded else None
        value_state = engines.full_state_dict(self.value) if sharded else None
        metrics = self.summary()
        if not self.world.is_main:
            return metrics
        policy = engines.unwrap(self.policy)
        if self.config.lora is not None:
            policy = policy.merge_and_unload()
        policy.save_pretrained(self.output_dir, state_dict=policy_state, safe_serialization=True)
        self.tokenizer.save_pretrained(self.output_dir)
        engines.unwrap(self.value).save_pretrained(self.output_dir / "value",
                                                   state_dict=value_state,
                                                   safe_serialization=True)
        self.config.save(self.output_dir)
        _write_json(self.output_dir / "ppo_metrics.json", metrics)
        with (self.output_dir / "ppo_log.jsonl").open("w") as log:
            for record in self.history:
                log.write(json.dumps(record, sort_keys=True) + "\n")
        checkpoints.remove_checkpoints(self.output_dir)
        return metrics


def _pad_columns(values: torch.Tensor, width: int) -> torch.Tensor:
    if values.shape[1] == width:
        return values
    padding = torch.zeros(values.shape[0], width - values.shape[1], dtype=values.dtype,
                          device=values.device)
    return torch.cat([values, padding], dim=1)


def _write_json(path: Path, data: dict) -> None:
    scratch = path.with_name(path.name + ".partial")
    scratch.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    scratch.rename(path)


__all__ = ["PPOConfig", "PPOTrainer", "ValueModel"]
