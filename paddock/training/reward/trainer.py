"""Train a scalar-head reward model with the Llama 2 margin loss.

loss = -log sigmoid(r(x, y_chosen) - r(x, y_rejected) - m(strength))   (section 3.2.2)

With ``weighted_loss`` each pair's loss is multiplied by its weight (its annotator's
reliability, :mod:`paddock.annotation.quality.reliability`) and a step's loss is
sum(weight * loss) / sum(weight).

Chosen and rejected go through the network in one forward pass (one batch of 2B rows),
so both sides see the same weights and, with dropout disabled, the same network. Micro
batches are accumulated to the effective batch; the learning rate warms up linearly over
3% of the steps (at least 5) and decays by a cosine to 10% of its peak.

A run can stop at any optimizer step and resume from its last checkpoint with the same
result as an uninterrupted run: the checkpoint holds the weights, the optimizer and
scheduler, the step (which fixes the data position: the batch order is a function of
the seed and the epoch) and the random number generators.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from paddock.training import checkpoints, distributed, engines, run_guard
from paddock.training.devices import pick_device, use_bf16
from paddock.training.optim import adamw
from paddock.training.reward.config import RewardConfig
from paddock.training.reward.encoding import EncodedPair, PairEncoder
from paddock.training.reward.pairs import PreferencePair

Progress = Callable[[dict], None]


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token_id is None:  # decoder-only checkpoints often have none
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(config: RewardConfig, tokenizer, device: torch.device) -> nn.Module:
    """The base checkpoint with a fresh scalar head (seeded), ready to train."""
    from paddock.training.reward.modeling import MeanPooledRewardModel, build_reward_model

    torch.manual_seed(config.seed)  # the score head's initialisation
    model = build_reward_model(config.model_path, config.pooling)
    model.config.pad_token_id = tokenizer.pad_token_id
    if config.disable_dropout:
        for module in model.modules():
            if isinstance(module, nn.Dropout):
                module.p = 0.0
    if config.lora is not None:
        from peft import LoraConfig, get_peft_model

        pooled = isinstance(model, MeanPooledRewardModel)
        lora = LoraConfig(
            task_type="FEATURE_EXTRACTION" if pooled else "SEQ_CLS", r=config.lora.r,
            lora_alpha=config.lora.alpha, target_modules=config.lora.target_modules,
            lora_dropout=0.0 if config.disable_dropout else config.lora.dropout,
        )
        if pooled:  # adapters in the backbone; the head is trained in full
            model.backbone = get_peft_model(model.backbone, lora)
        else:
            model = get_peft_model(model, lora)
    gradient_checkpointing = config.gradient_checkpointing == "yes" or (
        config.gradient_checkpointing == "auto" and device.type == "cuda"
    )
    if gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model.to(device)


def merged(model: nn.Module) -> nn.Module:
    """LoRA adapters folded into the weights: a plain checkpoint for every later reader."""
    from paddock.training.reward.modeling import MeanPooledRewardModel

    if isinstance(model, MeanPooledRewardModel):
        if hasattr(model.backbone, "merge_and_unload"):
            model.backbone = model.backbone.merge_and_unload()
        return model
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


def plan_micro_batches(encoded: list[EncodedPair], config: RewardConfig,
                       epoch: int) -> list[list[int]]:
    """The epoch's micro batches (indices into ``encoded``), a function of seed and epoch.

    With length grouping, shuffled indices are cut into mega-batches of 50 micro batches,
    each sorted by length: similar lengths share a micro batch (little padding) while the
    order of the data stays random at the scale of an optimizer step.
    """
    order = list(range(len(encoded)))
    random.Random(config.seed * 1_000_003 + epoch).shuffle(order)  # noqa: S311 - data order, not secrets
    size = config.micro_batch_pairs
    if config.group_by_length:
        mega = size * 50
        order = [
            index
            for start in range(0, len(order), mega)
            for index in sorted(order[start:start + mega], key=lambda i: -encoded[i].length)
        ]
    return [order[start:start + size] for start in range(0, len(order), size)]


def collate(pairs: list[EncodedPair], pad_id: int, device: torch.device) -> dict:
    """Chosen rows then rejected rows, right-padded to the longest of the micro batch."""
    sides = [p.chosen for p in pairs] + [p.rejected for p in pairs]
    return pad_sides(sides, pad_id, device) | {
        "margins": torch.tensor([p.margin for p in pairs], dtype=torch.float32, device=device)
    }


def pad_sides(sides, pad_id: int, device: torch.device) -> dict:
    """Encoded sides as right-padded tensors (ids, mask, segment ids where used)."""
    width = max(len(side.input_ids) for side in sides)
    ids = torch.full((len(sides), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sides), width), dtype=torch.long)
    types = torch.zeros((len(sides), width), dtype=torch.long)
    with_types = sides[0].token_type_ids is not None
    for row, side in enumerate(sides):
        n = len(side.input_ids)
        ids[row, :n] = torch.tensor(side.input_ids)
        mask[row, :n] = 1
        if with_types:
            types[row, :n] = torch.tensor(side.token_type_ids)
    batch = {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
    if with_types:
        batch["token_type_ids"] = types.to(device)
    return batch


def margin_loss(chosen: torch.Tensor, rejected: torch.Tensor,
                margins: torch.Tensor) -> torch.Tensor:
    """Per-pair -log sigmoid(r_c - r_r - m); logsigmoid is stable for large gaps."""
    return -nn.functional.logsigmoid(chosen - rejected - margins)


def forward_scores(model: nn.Module, batch: dict) -> torch.Tensor:
    inputs = {k: v for k, v in batch.items() if k != "margins"}
    return model(**inputs).logits.squeeze(-1).float()


def warmup_steps(total_steps: int, config: RewardConfig) -> int:
    """3% of the steps, at least 5 (section 3.2.2), and never the whole run."""
    warmup = max(config.min_warmup_steps, math.ceil(config.warmup_ratio * total_steps))
    return min(warmup, max(total_steps - 1, 0))


def lr_lambda(total_steps: int, config: RewardConfig) -> Callable[[int], float]:
    """Linear warm-up, then cosine decay from the peak to ``min_lr_ratio`` of it."""
    warmup = warmup_steps(total_steps, config)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = (step - warmup) / max(total_steps - warmup - 1, 1)
        cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        return config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine

    return factor


@dataclass
class TrainResult:
    output_dir: Path
    steps: int
    metrics: dict


class RewardTrainer(checkpoints.StepCheckpointing):
    """Train on a list of pairs; ``train()`` resumes from the output folder's checkpoint."""

    def __init__(self, config: RewardConfig, train_pairs: list[PreferencePair], *,
                 progress: Progress | None = None, device: torch.device | None = None) -> None:
        self.config = config
        self.pairs = train_pairs
        self.world = distributed.init()
        # Only rank 0 reports and writes; the other ranks only compute their share.
        self.progress = (progress if self.world.is_main else None) or (lambda record: None)
        self.device = device or (distributed.device(self.world) if self.world.distributed
                                 else pick_device())
        self.output_dir = Path(config.output_dir)
        self.tokenizer = load_tokenizer(config.model_path)
        encoder = PairEncoder(self.tokenizer, config.max_length,
                              min_context_tokens=config.min_context_tokens,
                              margin_table=config.margin)
        self.encoded = encoder.encode(train_pairs)
        self.truncation = encoder.report.as_dict()
        if not self.encoded:
            raise ValueError("no training pairs")
        self.bf16 = use_bf16(config.bf16, self.device)
        model = load_model(config, self.tokenizer, self.device)
        self.strategy = engines.choose_strategy(config.parallelism, model, self.world,
                                                self.device)
        self.model = engines.wrap(model, self.strategy, self.world, self.device, bf16=self.bf16)
        self.micro_per_epoch = math.ceil(len(self.encoded) / config.micro_batch_pairs)
        self.steps_per_epoch = math.ceil(self.micro_per_epoch / config.accumulation_steps)
        self.total_steps = self.steps_per_epoch * config.epochs
        self.optimizer = adamw(self.model, learning_rate=config.learning_rate,
                               weight_decay=config.weight_decay, betas=config.adam_betas)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(self.total_steps, config)
        )
        self.step = 0
        self.losses: list[float] = []

    # -- the loop ---------------------------------------------------------------------

    def train(self, *, stop_after_steps: int | None = None, checkpoint_on_stop: bool = True,
              should_stop: Callable[[], bool] | None = None,
              save_every_seconds: float | None = None) -> TrainResult:
        """Run to the end, or ``stop_after_steps`` more steps and then checkpoint and stop
        (benchmarks that only time steps pass ``checkpoint_on_stop=False``).

        ``should_stop`` is polled before every step (a SIGTERM flag: see
        :mod:`paddock.training.run_guard`); when it says stop, the run checkpoints and
        returns early. ``save_every_seconds`` adds a checkpoint whenever that much wall
        time has passed since the last one. Under torchrun the ranks agree on both.
        """
        self._resume()
        config = self.config
        self.model.train()
        started, first_step = time.perf_counter(), self.step
        stop_at = self.total_steps if stop_after_steps is None else min(
            self.total_steps, self.step + stop_after_steps)
        plans: dict[int, list[list[int]]] = {}  # one plan per epoch, not one per step
        clock = run_guard.CheckpointClock(save_every_seconds)
        saved_at = first_step  # the step of the newest checkpoint (a resumed run's own)
        while self.step < stop_at:
            if should_stop is not None:
                stop, = distributed.sum_values([float(should_stop())], self.world)
                if stop:
                    break
            epoch, step_in_epoch = divmod(self.step, self.steps_per_epoch)
            if epoch not in plans:
                plans = {epoch: plan_micro_batches(self.encoded, config, epoch)}
            plan = plans[epoch]
            micro = plan[step_in_epoch * config.accumulation_steps:
                         (step_in_epoch + 1) * config.accumulation_steps]
            loss, accuracy = self._optimizer_step(micro)
            self.step += 1
            self.losses.append(loss)
            elapsed = time.perf_counter() - started
            done = self.step - first_step
            self.progress({
                "step": self.step, "total_steps": self.total_steps, "epoch": epoch,
                "loss": round(loss, 5), "accuracy": round(accuracy, 4),
                "lr": self.scheduler.get_last_lr()[0],
                "pairs_per_second": round(done * config.batch_pairs / elapsed, 2),
                "eta_seconds": round(elapsed / done * (self.total_steps - self.step), 1),
            })
            due = clock.due()
            if clock.seconds is not None:  # every rank checkpoints, or none does
                due, = distributed.sum_values([float(due)], self.world)
            if due or (config.save_every_steps and self.step % config.save_every_steps == 0):
                self._checkpoint()
                clock.reset()
                saved_at = self.step
        if self.step < self.total_steps:
            if checkpoint_on_stop and self.step != saved_at:
                self._checkpoint()
            return TrainResult(self.output_dir, self.step, self.metrics(started))
        metrics = self.save_final(started)
        distributed.barrier(self.world)
        return TrainResult(self.output_dir, self.step, metrics)

    def _checkpoint(self) -> None:
        self.save_checkpoint()  # every rank writes its shards; rank 0 the small files

    def _optimizer_step(self, micro: list[list[int]]) -> tuple[float, float]:
        """One optimizer step over ``micro``; under torchrun each rank runs its share of the
        micro batches and the engine averages gradients once, after the last."""
        pairs_in_step = sum(len(indices) for indices in micro)
        weighted = self.config.weighted_loss
        # The step's loss is a mean over its pairs, weighted by each pair's weight when
        # the run weighs judgements (a step of weight 0 learns nothing from them).
        total_weight = (sum(self.encoded[i].weight for indices in micro for i in indices)
                        if weighted else float(pairs_in_step))
        scale = engines.loss_scale(self.world) / (total_weight or 1.0)
        total_loss, correct = 0.0, 0
        share = self.world.lockstep_share(micro)
        for position, (indices, real) in enumerate(share):
            batch = collate([self.encoded[i] for i in indices],
                            self.tokenizer.pad_token_id, self.device)
            with engines.sync_on([self.model], last=position == len(share) - 1):
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                    scores = forward_scores(self.model, batch)
                chosen, rejected = scores.split(len(indices))
                losses = margin_loss(chosen, rejected, batch["margins"])
                if weighted:
                    losses = losses * torch.tensor([self.encoded[i].weight for i in indices],
                                                   dtype=losses.dtype, device=losses.device)
                (losses.sum() * (scale if real else 0.0)).backward()
            if real:
                total_loss += losses.detach().sum().item()
                correct += (chosen > rejected).sum().item()
        total_loss, correct = distributed.sum_values([total_loss, correct], self.world)
        if self.config.max_grad_norm:
            engines.clip_gradients(self.model, self.config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        # the reported loss is the (weighted) mean the step optimised
        return total_loss / (total_weight or 1.0), correct / pairs_in_step

    # -- checkpoints ------------------------------------------------------------------

    def metrics(self, started: float) -> dict:
        return {
            "steps": self.step,
            "total_steps": self.total_steps,
            "pairs": len(self.encoded),
            "final_loss": self.losses[-1] if self.losses else None,
            "mean_loss_last_10_steps": (sum(self.losses[-10:]) / len(self.losses[-10:])
                                        if self.losses else None),
            "truncation": self.truncation,
            "bf16": self.bf16,
            "device": str(self.device),
            "parallelism": self.strategy,
            "ranks": self.world.world_size,
            "seconds": round(time.perf_counter() - started, 2),
        }

    def save_final(self, started: float) -> dict:
        """The trained model as a plain Hugging Face checkpoint (LoRA merged in), written
        by rank 0; under FSDP every rank first sends it its shards."""
        gathered = engines.full_state_dict(self.model) if engines.is_sharded(self.model) else None
        if not self.world.is_main:
            return self.metrics(started)
        module = engines.unwrap(self.model)
        if gathered is not None:
            module.save_pretrained(self.output_dir, state_dict=gathered, safe_serialization=True)
        else:
            model = merged(module) if self.config.lora is not None else module
            model.save_pretrained(self.output_dir, safe_serialization=True)
        self.tokenizer.save_pretrained(self.output_dir)
        self.config.save(self.output_dir)
        metrics = self.metrics(started)
        (self.output_dir / "train_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        checkpoints.remove_checkpoints(self.output_dir)
        return metrics


@torch.no_grad()
def score_pairs(model: nn.Module, tokenizer, pairs: list[PreferencePair], *,
                max_length: int, min_context_tokens: int = 32, batch_pairs: int = 32,
                device: torch.device | None = None, bf16: bool = False,
                ) -> tuple[list[tuple[float, float]], dict]:
    """(chosen score, rejected score) per pair, in the order given, and the truncations."""
    device = device or next(model.parameters()).device
    encoder = PairEncoder(tokenizer, max_length, min_context_tokens=min_context_tokens)
    encoded = encoder.encode(pairs)
    model.eval()
    scores: list[tuple[float, float]] = [(0.0, 0.0)] * len(encoded)
    order = sorted(range(len(encoded)), key=lambda i: encoded[i].length)
    for start in range(0, len(order), batch_pairs):
        chunk = [encoded[i] for i in order[start:start + batch_pairs]]
        batch = collate(chunk, tokenizer.pad_token_id, device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            values = forward_scores(model, batch)
        chosen, rejected = values.split(len(chunk))
        for pair, c, r in zip(chunk, chosen.tolist(), rejected.tolist(), strict=True):
            scores[pair.index] = (c, r)
    return scores, encoder.report.as_dict()
