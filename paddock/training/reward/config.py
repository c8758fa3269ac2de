"""What a reward-model run is, as one serialisable object (TRL-style config/trainer pair).

Defaults are the Llama 2 paper's (section 3.2.2, via :mod:`paddock.training.recipe`)
except where a small model on a CPU needs otherwise; the config is saved next to every
checkpoint, so a result always says how it was made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from paddock.kernel.vocabulary import MARGINS
from paddock.training import recipe
from paddock.training.config_files import JsonConfig
from paddock.training.devices import BF16_CHOICES
from paddock.training.engines import check_parallelism


@dataclass
class LoraSettings:
    """Low-rank adapters (peft) instead of full fine-tuning; the score head stays trained."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"


@dataclass
class RewardConfig(JsonConfig):
    file_name = "reward_config.json"
    label = "reward config"

    model_path: str
    output_dir: str
    margin: str = "small"  # "none", "small" or "large" (kernel MARGINS)
    pooling: str = "auto"  # "auto", "mean" or "model": see paddock.training.reward.modeling
    max_length: int = 512
    min_context_tokens: int = 32  # kept even when a response fills the budget by itself
    epochs: int = recipe.RM_EPOCHS
    learning_rate: float = recipe.RM_LEARNING_RATE
    min_lr_ratio: float = recipe.RM_MIN_LR_RATIO
    warmup_ratio: float = recipe.RM_WARMUP_RATIO
    min_warmup_steps: int = recipe.RM_MIN_WARMUP_STEPS
    batch_pairs: int = recipe.RM_BATCH_PAIRS  # effective batch: pairs per optimizer step
    micro_batch_pairs: int = 8  # pairs per forward pass; batch_pairs is accumulated
    weight_decay: float = 0.0
    adam_betas: tuple[float, float] = (0.9, 0.999)
    max_grad_norm: float = 1.0
    group_by_length: bool = True  # fewer pad tokens; order still random between groups
    disable_dropout: bool = True  # the two sides of a pair must see the same network
    seed: int = 0
    bf16: str = "auto"  # "auto", "cuda", "yes" or "no": see paddock.training.devices
    gradient_checkpointing: str = "auto"  # "auto": on CUDA only
    lora: LoraSettings | None = None
    # Scale each pair's loss by its weight (annotator reliability): the step's loss is
    # sum(weight * loss) / sum(weight). Off: every pair counts 1, as in the paper.
    weighted_loss: bool = False
    parallelism: str = "auto"  # under torchrun: "auto", "ddp" or "fsdp" (training.engines)
    save_every_steps: int = 0  # 0: only at the end
    eval_batch_pairs: int = 32
    extra: dict = field(default_factory=dict)  # recorded, not interpreted (mix records...)

    def __post_init__(self) -> None:
        if self.margin not in MARGINS:
            raise ValueError(f"margin {self.margin!r} is not one of {sorted(MARGINS)}")
        if self.batch_pairs % self.micro_batch_pairs:
            raise ValueError(
                f"batch_pairs {self.batch_pairs} is not a multiple of micro_batch_pairs "
                f"{self.micro_batch_pairs}"
            )
        if self.bf16 not in BF16_CHOICES:
            raise ValueError(f"bf16 {self.bf16!r} is not one of {', '.join(BF16_CHOICES)}")
        if isinstance(self.lora, dict):
            self.lora = LoraSettings(**self.lora)
        check_parallelism(self.parallelism, lora=self.lora is not None)
        self.adam_betas = tuple(self.adam_betas)

    @property
    def accumulation_steps(self) -> int:
        return self.batch_pairs // self.micro_batch_pairs
