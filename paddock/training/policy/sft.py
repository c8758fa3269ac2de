"""Supervised fine-tuning of the chat policy on answer tokens only (Llama 2, section 3.1).

loss = sum of -log p(answer token | everything before it) / answer tokens in the batch

Only answer tokens (and the end-of-sequence token closing each answer) count: prompts
and system text are context, never targets ("we zero-out the loss on tokens from the
user prompt"). The sum runs over the whole effective batch and is divided once by its
answer-token count, which is what one big batch computes; averaging per micro batch and
then over micro batches would weigh a token of a short answer above one of a long answer.

The paper packs all prompts and answers into full 4096-token rows. Packing without a
block-diagonal attention mask lets an example attend to the unrelated one before it, so
here each example is its own row, right-padded, and rows of similar length share a micro
batch (length grouping), which removes most of the padding packing would have saved.

An example longer than ``max_length`` keeps its beginning and is cut on the right (the
prompt must stay whole for its answer to mean anything); cuts are counted, and an example
left without a single answer token is skipped, counted and listed by id in the metrics.

Resumable exactly as the reward trainer is (see :mod:`paddock.training.checkpoints`).
The schedule is the reward trainer's too: the paper gives SFT a cosine schedule but no
warm-up, and the same warm-up (3% of the steps, at least 5) keeps the first steps of a
small run from overshooting.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from paddock.kernel.jsonl import LineProblem, read_jsonl
from paddock.training import checkpoints, distributed, engines, recipe, run_guard
from paddock.training.config_files import JsonConfig
from paddock.training.devices import BF16_CHOICES, pick_device, use_bf16
from paddock.training.engines import check_parallelism
from paddock.training.optim import adamw
from paddock.training.policy.chat import (
    IGNORE_INDEX,
    ROLES,
    ChatFormat,
    ConversationError,
    check_conversation,
)
from paddock.training.reward.config import LoraSettings
from paddock.training.reward.trainer import TrainResult, load_tokenizer, lr_lambda

Progress = Callable[[dict], None]
CONFIG_FILE = "sft_config.json"
METRICS_FILE = "metrics.json"
GRADIENT_CHECKPOINTING_CHOICES = ("auto", "yes", "no")
MAX_LISTED_SKIPS = 100  # skipped examples beyond this are counted, not listed


# --------------------------------------------------------------------------- config


@dataclass
class SFTConfig(JsonConfig):
    file_name = CONFIG_FILE
    label = "SFT config"

    model_path: str
    output_dir: str
    max_length: int = 2048  # the paper's 4096 where memory allows
    epochs: int = recipe.SFT_EPOCHS
    learning_rate: float = recipe.SFT_LEARNING_RATE
    min_lr_ratio: float = recipe.RM_MIN_LR_RATIO  # see the module docstring on the schedule
    warmup_ratio: float = recipe.RM_WARMUP_RATIO
    min_warmup_steps: int = recipe.RM_MIN_WARMUP_STEPS
    batch_sequences: int = recipe.SFT_BATCH_SEQUENCES  # effective batch per optimizer step
    micro_batch_sequences: int = 8  # sequences per forward pass; accumulated to the batch
    weight_decay: float = recipe.SFT_WEIGHT_DECAY
    adam_betas: tuple[float, float] = (0.9, 0.95)  # pretraining's (section 2.2)
    max_grad_norm: float = 1.0
    group_by_length: bool = True  # less padding; order still random between groups
    seed: int = 0
    bf16: str = "auto"  # "auto", "cuda", "yes" or "no": see paddock.training.devices
    gradient_checkpointing: str = "auto"  # "auto": on CUDA only
    lora: LoraSettings | None = None
    parallelism: str = "auto"  # under torchrun: "auto", "ddp" or "fsdp" (training.engines)
    save_every_steps: int = 0  # 0: only when stopped early, and the final model
    extra: dict = field(default_factory=dict)  # recorded, not interpreted

    def __post_init__(self) -> None:
        if self.micro_batch_sequences < 1 or self.batch_sequences % self.micro_batch_sequences:
            raise ValueError(
                f"batch_sequences {self.batch_sequences} is not a multiple of "
                f"micro_batch_sequences {self.micro_batch_sequences}")
        if self.max_length < 2:
            raise ValueError(f"max_length {self.max_length} leaves no token to predict")
        if self.bf16 not in BF16_CHOICES:
            raise ValueError(f"bf16 {self.bf16!r} is not one of {', '.join(BF16_CHOICES)}")
        if self.gradient_checkpointing not in GRADIENT_CHECKPOINTING_CHOICES:
            raise ValueError(f"gradient_checkpointing {self.gradient_checkpointing!r} is not "
                             f"one of {', '.join(GRADIENT_CHECKPOINTING_CHOICES)}")
        if isinstance(self.lora, dict):
            self.lora = LoraSettings(**self.lora)
        check_parallelism(self.parallelism, lora=self.lora is not None)
        self.adam_betas = tuple(self.adam_betas)

    @property
    def accumulation_steps(self) -> int:
        return self.batch_sequences // self.micro_batch_sequences


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class SFTExample:
    """A conversation ending with an answer; the loss covers answers ``loss_from_answer``
    onwards (0: all; Ghost Attention and rejection sampling train on later ones only)."""

    messages: Sequence[Mapping[str, str]]
    loss_from_answer: int = 0
    id: str = ""


class SFTDataError(ValueError):
    """A malformed SFT record; says file, line and field."""

    def __init__(self, path: str | Path, line: int, field: str | None, problem: str):
        self.path, self.line, self.field, self.problem = str(path), line, field, problem
        where = f"{path}, line {line}" + (f", field {field!r}" if field else "")
        super().__init__(f"{where}: {problem}")


_RECORD_FIELDS = ("id", "messages", "loss_from_answer", "meta")


def read_sft_jsonl(path: str | Path) -> list[SFTExample]:
    """Examples from JSON lines ``{"id"?, "messages", "loss_from_answer"?, "meta"?}``.

    Plain, gzip'd or zstd'd (told by the magic bytes), read by the kernel's JSONL reader.
    Blank lines are allowed; anything else that is not a valid example raises
    :class:`SFTDataError`, and so does an unknown field: a misspelt ``loss_from_answer``
    would otherwise silently train on every answer. ``meta`` is free-form and ignored. An
    example without ``id`` is named ``{file}:{line}``.
    """
    path = Path(path)
    examples: list[SFTExample] = []
    seen: dict[str, int] = {}
    for item in read_jsonl(path):
        if isinstance(item, LineProblem):
            raise SFTDataError(path, item.line, None, _line_problem(item))
        example = _parse_record(path, item.line, item.record)
        if example.id in seen:
            raise SFTDataError(path, item.line, "id",
                               f"{example.id!r} already used on line {seen[example.id]}")
        seen[example.id] = item.line
        examples.append(example)
    return examples


# How the kernel reader's line problems are worded here (tests and users grep for these).
_LINE_PROBLEMS = {
    "not_utf8": "not UTF-8",
    "malformed_json": "not JSON",
    "not_an_object": "not a JSON object",
}


def _line_problem(problem: LineProblem) -> str:
    label = _LINE_PROBLEMS.get(problem.code, f"unreadable ({problem.code})")
    return f"{label} ({problem.message})"


def _parse_record(path: Path, number: int, record: dict) -> SFTExample:
    def bad(field_name: str | None, problem: str) -> SFTDataError:
        return SFTDataError(path, number, field_name, problem)

    unknown = sorted(set(record) - set(_RECORD_FIELDS))
    if unknown:
        raise bad(unknown[0], f"unknown field (known: {', '.join(_RECORD_FIELDS)})")
    if "messages" not in record:
        raise bad("messages", "missing")
    messages = record["messages"]
    if not isinstance(messages, list):
        raise bad("messages", f"expected a list, got {type(messages).__name__}")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise bad(where, f"expected an object, got {type(message).__name__}")
        if message.get("role") not in ROLES:
            raise bad(f"{where}.role", f"{message.get('role')!r} is not one of {ROLES}")
        if not isinstance(message.get("content"), str):
            raise bad(f"{where}.content",
                      f"expected a string, got {type(message.get('content')).__name__}")
    try:
        check_conversation(messages, ends_with="assistant")
    except ConversationError as error:
        raise bad("messages", str(error)) from None
    loss_from = record.get("loss_from_answer", 0)
    answers = sum(m["role"] == "assistant" for m in messages)
    if isinstance(loss_from, bool) or not isinstance(loss_from, int):
        raise bad("loss_from_answer", f"expected an integer, got {loss_from!r:.40}")
    if not 0 <= loss_from < answers:
        raise bad("loss_from_answer", f"{loss_from} is outside the {answers} answers")
    example_id = record.get("id", f"{path.name}:{number}")
    if not isinstance(example_id, str) or not example_id:
        raise bad("id", f"expected a non-empty string, got {example_id!r:.40}")
    messages = [{"role": m["role"], "content": m["content"]} for m in messages]
    return SFTExample(messages, loss_from, example_id)


# --------------------------------------------------------------------------- encoding


@dataclass(frozen=True)
class EncodedExample:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]  # IGNORE_INDEX where there is no loss
    index: int  # position in the list of examples given to the encoder

    @property
    def length(self) -> int:
        return len(self.input_ids)

    @property
    def loss_tokens(self) -> int:
        """Tokens predicted with a loss (the first token is never predicted)."""
        return sum(label != IGNORE_INDEX for label in self.labels[1:])


@dataclass
class EncodingReport:
    """What the right-hand cut did to the data."""

    examples: int = 0
    truncated: int = 0  # kept, with their end cut off
    skipped: int = 0  # no answer token left after the cut
    skipped_ids: list[str] = field(default_factory=list)
    answer_tokens: int = 0  # kept, with a loss
    answer_tokens_cut: int = 0  # lost to truncation, skipped examples included

    def as_dict(self) -> dict:
        return {
            "examples": self.examples,
            "examples_trained": self.examples - self.skipped,
            "examples_truncated": self.truncated,
            "examples_skipped_no_answer_tokens": self.skipped,
            "skipped_ids": list(self.skipped_ids),
            "answer_tokens": self.answer_tokens,
            "answer_tokens_cut": self.answer_tokens_cut,
        }


def encode_examples(examples: Sequence[SFTExample], chat: ChatFormat, max_length: int
                    ) -> tuple[list[EncodedExample], EncodingReport]:
    """Token ids and answer-only labels, cut on the right to ``max_length``."""
    report = EncodingReport(examples=len(examples))
    encoded: list[EncodedExample] = []
    for index, example in enumerate(examples):
        try:
            conversation = chat.training_ids(example.messages,
                                             loss_from_answer=example.loss_from_answer)
        except ConversationError as error:
            name = example.id or f"#{index}"
            raise ConversationError(f"example {name}: {error}") from None
        whole = EncodedExample(tuple(conversation.input_ids), tuple(conversation.labels), index)
        kept = whole
        if whole.length > max_length:
            kept = EncodedExample(whole.input_ids[:max_length], whole.labels[:max_length], index)
        report.answer_tokens_cut += whole.loss_tokens - kept.loss_tokens
        if kept.loss_tokens == 0:
            report.skipped += 1
            if len(report.skipped_ids) < MAX_LISTED_SKIPS:
                report.skipped_ids.append(example.id or f"#{index}")
            continue
        report.truncated += kept is not whole
        report.answer_tokens += kept.loss_tokens
        encoded.append(kept)
    return encoded, report


def plan_micro_batches(lengths: Sequence[int], micro_batch: int, *, seed: int, epoch: int,
                       group_by_length: bool = True) -> list[list[int]]:
    """The epoch's micro batches (indices into ``lengths``), a function of seed and epoch.

    As for the reward model: shuffled indices are cut into mega-batches of 50 micro
    batches, each sorted by length, so a micro batch holds similar lengths while the
    order of the data stays random at the scale of an optimizer step.
    """
    order = list(range(len(lengths)))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)  # noqa: S311 - data order, not secrets
    if group_by_length:
        mega = micro_batch * 50
        order = [index for start in range(0, len(order), mega)
                 for index in sorted(order[start:start + mega], key=lambda i: -lengths[i])]
    return [order[start:start + micro_batch] for start in range(0, len(order), micro_batch)]


def collate(examples: Sequence[EncodedExample], pad_id: int, device: torch.device) -> dict:
    """Right-padded ids, attention mask and labels (IGNORE_INDEX on padding)."""
    width = max(example.length for example in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    for row, example in enumerate(examples):
        ids[row, :example.length] = torch.tensor(example.input_ids)
        mask[row, :example.length] = 1
        labels[row, :example.length] = torch.tensor(example.labels)
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device),
            "labels": labels.to(device)}


def answer_loss_sum(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Summed cross-entropy of every labelled token given the tokens before it."""
    predicted = logits[:, :-1].float()
    return nn.functional.cross_entropy(
        predicted.reshape(-1, predicted.shape[-1]), labels[:, 1:].reshape(-1),
        ignore_index=IGNORE_INDEX, reduction="sum")


# --------------------------------------------------------------------------- model


def load_policy(config: SFTConfig, tokenizer, device: torch.device) -> nn.Module:
    """The base causal LM, with LoRA adapters (seeded) if configured, ready to train."""
    from transformers import AutoModelForCausalLM

    checkpoints.check_model_folder(config.model_path, checkpoints.CAUSAL_LM)
    model = AutoModelForCausalLM.from_pretrained(config.model_path, dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.config.use_cache = False  # no generation while training
    if config.lora is not None:
        from peft import LoraConfig, get_peft_model

        torch.manual_seed(config.seed)  # the adapters' initialisation
        model = get_peft_model(model, LoraConfig(
            task_type="CAUSAL_LM", r=config.lora.r, lora_alpha=config.lora.alpha,
            target_modules=config.lora.target_modules, lora_dropout=config.lora.dropout))
    if config.gradient_checkpointing == "yes" or (
            config.gradient_checkpointing == "auto" and device.type == "cuda"):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model.to(device)


# --------------------------------------------------------------------------- trainer


class SFTTrainer(checkpoints.StepCheckpointing):
    """Train on a list of examples; ``train()`` resumes from the output folder's checkpoint."""

    def __init__(self, config: SFTConfig, examples: Sequence[SFTExample], *,
                 progress: Progress | None = None, device: torch.device | None = None) -> None:
        self.config = config
        self.world = distributed.init()
        # Only rank 0 reports and writes; the other ranks only compute their share.
        self.progress = (progress if self.world.is_main else None) or (lambda record: None)
        self.device = device or (distributed.device(self.world) if self.world.distributed
                                 else pick_device())
        self.output_dir = Path(config.output_dir)
        self.tokenizer = load_tokenizer(config.model_path)
        self.chat = ChatFormat(self.tokenizer)
        self.encoded, self.report = encode_examples(examples, self.chat, config.max_length)
        if not self.encoded:
            raise ValueError(f"no training examples left: {self.report.as_dict()}")
        torch.manual_seed(config.seed)
        self.bf16 = use_bf16(config.bf16, self.device)
        model = load_policy(config, self.tokenizer, self.device)
        self.strategy = engines.choose_strategy(config.parallelism, model, self.world,
                                                self.device)
        self.model = engines.wrap(model, self.strategy, self.world, self.device, bf16=self.bf16)
        micro_per_epoch = math.ceil(len(self.encoded) / config.micro_batch_sequences)
        self.steps_per_epoch = math.ceil(micro_per_epoch / config.accumulation_steps)
        self.total_steps = self.steps_per_epoch * config.epochs
        self.optimizer = adamw(self.model, learning_rate=config.learning_rate,
                               weight_decay=config.weight_decay, betas=config.adam_betas)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(self.total_steps, config))
        self.step = 0
        self.losses: list[float] = []

    def plan(self, epoch: int) -> list[list[int]]:
        return plan_micro_batches([e.length for e in self.encoded],
                                  self.config.micro_batch_sequences, seed=self.config.seed,
                                  epoch=epoch, group_by_length=self.config.group_by_length)

    # -- the loop ---------------------------------------------------------------------

    def train(self, *, stop_after_steps: int | None = None, checkpoint_on_stop: bool = True,
              should_stop: Callable[[], bool] | None = None,
              save_every_seconds: float | None = None) -> TrainResult:
        """Run to the end, or ``stop_after_steps`` more steps and then checkpoint and stop
        (benchmarks that only time steps pass ``checkpoint_on_stop=False``).

        ``should_stop`` (polled before every step) and ``save_every_seconds`` work as in
        :meth:`paddock.training.reward.trainer.RewardTrainer.train`.
        """
        self._resume()
        config = self.config
        self.model.train()
        started, first_step, tokens = time.perf_counter(), self.step, 0
        stop_at = self.total_steps if stop_after_steps is None else min(
            self.total_steps, self.step + stop_after_steps)
        plans: dict[int, list[list[int]]] = {}
        clock = run_guard.CheckpointClock(save_every_seconds)
        saved_at = first_step  # the step of the newest checkpoint (a resumed run's own)
        while self.step < stop_at:
            if should_stop is not None:
                stop, = distributed.sum_values([float(should_stop())], self.world)
                if stop:  # every rank stops at the same step, or none does
                    break
            epoch, step_in_epoch = divmod(self.step, self.steps_per_epoch)
            if epoch not in plans:
                plans = {epoch: self.plan(epoch)}
            micro = plans[epoch][step_in_epoch * config.accumulation_steps:
                                 (step_in_epoch + 1) * config.accumulation_steps]
            loss = self._optimizer_step(micro)
            self.step += 1
            self.losses.append(loss)
            tokens += sum(self.encoded[i].length for indices in micro for i in indices)
            elapsed = time.perf_counter() - started
            done = self.step - first_step
            self.progress({
                "step": self.step, "total_steps": self.total_steps, "epoch": epoch,
                "loss": round(loss, 5), "lr": self.scheduler.get_last_lr()[0],
                "tokens_per_second": round(tokens / elapsed, 1),
                "sequences_per_second": round(done * config.batch_sequences / elapsed, 2),
                "eta_seconds": round(elapsed / done * (self.total_steps - self.step), 1),
            })
            due = clock.due()
            if clock.seconds is not None:  # every rank checkpoints, or none does
                due, = distributed.sum_values([float(due)], self.world)
            if due or (config.save_every_steps and self.step % config.save_every_steps == 0):
                self.save_checkpoint()
                clock.reset()
                saved_at = self.step
        if self.step < self.total_steps:
            if checkpoint_on_stop and self.step != saved_at:
                self.save_checkpoint()
            return TrainResult(self.output_dir, self.step, self.metrics(started))
        metrics = self.save_final(started)
        distributed.barrier(self.world)
        return TrainResult(self.output_dir, self.step, metrics)

    def accumulate(self, micro: Sequence[Sequence[int]]) -> tuple[float, int]:
        """Gradients of one optimizer step's micro batches, normalised by the answer
        tokens of them all; returns (mean loss per answer token, answer tokens). Under
        torchrun each rank runs its share and the engine averages gradients once."""
        tokens = sum(self.encoded[i].loss_tokens for indices in micro for i in indices)
        scale = engines.loss_scale(self.world) / tokens
        total = 0.0
        share = self.world.lockstep_share(list(micro))
        for position, (indices, real) in enumerate(share):
            batch = collate([self.encoded[i] for i in indices], self.tokenizer.pad_token_id,
                            self.device)
            with engines.sync_on([self.model], last=position == len(share) - 1):
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                    logits = self.model(input_ids=batch["input_ids"],
                                        attention_mask=batch["attention_mask"]).logits
                loss_sum = answer_loss_sum(logits, batch["labels"])
                (loss_sum * (scale if real else 0.0)).backward()
            if real:
                total += loss_sum.item()
        total, = distributed.sum_values([total], self.world)
        return total / tokens, tokens

    def _optimizer_step(self, micro: Sequence[Sequence[int]]) -> float:
        loss, _ = self.accumulate(micro)
        if self.config.max_grad_norm:
            engines.clip_gradients(self.model, self.config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss

    # -- checkpoints and results --------------------------------------------------------

    def metrics(self, started: float) -> dict:
        recent = self.losses[-10:]
        return {
            "steps": self.step,
            "total_steps": self.total_steps,
            "final_loss": self.losses[-1] if self.losses else None,
            "mean_loss_last_10_steps": sum(recent) / len(recent) if recent else None,
            "data": self.report.as_dict(),
            "bf16": self.bf16,
            "device": str(self.device),
            "parallelism": self.strategy,
            "ranks": self.world.world_size,
            "seconds": round(time.perf_counter() - started, 2),
        }

    def save_final(self, started: float) -> dict:
        """The policy as a plain Hugging Face checkpoint (LoRA merged in) that samplers,
        rejection sampling and PPO load like any base model; written by rank 0, to which
        FSDP ranks first send their shards."""
        gathered = engines.full_state_dict(self.model) if engines.is_sharded(self.model) else None
        if not self.world.is_main:
            return self.metrics(started)
        model = engines.unwrap(self.model)
        if self.config.lora is not None:
            model = self.model = model.merge_and_unload()
        model.config.use_cache = True  # for whoever generates with it next
        if gathered is not None:
            model.save_pretrained(self.output_dir, state_dict=gathered, safe_serialization=True)
        else:
            model.save_pretrained(self.output_dir, safe_serialization=True)
        self.tokenizer.save_pretrained(self.output_dir)
        self.config.save(self.output_dir)
        metrics = self.metrics(started)
        (self.output_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
        checkpoints.remove_checkpoints(self.output_dir)
        return metrics
