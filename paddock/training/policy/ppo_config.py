"""What a PPO run is, as one serialisable object (the reward config's conventions).

Defaults are the Llama 2 paper's (section 3.2.3, via :mod:`paddock.training.recipe`):
AdamW (0.9, 0.95, eps 1e-5), weight decay 0.1, gradient clip 1.0, constant learning rate
1e-6, batch 512 with minibatches of 64 and one gradient step per minibatch, clip 0.2,
KL penalty 0.01 to the round's starting policy, early stopping on held-out prompts. A CPU
run with a tiny model overrides the sizes, never the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from paddock.training import recipe
from paddock.training.config_files import JsonConfig
from paddock.training.devices import BF16_CHOICES
from paddock.training.engines import check_parallelism
from paddock.training.reward.config import LoraSettings

REFERENCE_CHOICES = ("copy", "cpu", "lora-base")


@dataclass
class PPOConfig(JsonConfig):
    file_name = "ppo_config.json"
    label = "PPO config"

    policy_path: str
    output_dir: str
    helpfulness_rm: str | None = None  # reward model folders; a caller may pass a reward
    safety_rm: str | None = None  # function instead (tests, synthetic rewards)
    value_model_path: str | None = None  # None: the policy's own weights with a new head
    reference: str = "copy"  # "copy": frozen copy on the device; "cpu"; "lora-base"
    iterations: int = recipe.PPO_ITERATIONS[1]
    batch_size: int = recipe.PPO_BATCH  # responses sampled per iteration
    minibatch_size: int = recipe.PPO_MINIBATCH  # one optimizer step per minibatch
    micro_batch_size: int = 8  # sequences per forward pass, accumulated to a minibatch
    ppo_epochs: int = 1  # passes over each batch ("one gradient step per minibatch")
    learning_rate: float = recipe.PPO_LEARNING_RATE  # constant
    value_learning_rate: float | None = None  # None: learning_rate
    adam_betas: tuple[float, float] = recipe.PPO_ADAM_BETAS
    adam_eps: float = recipe.PPO_ADAM_EPS
    weight_decay: float = recipe.PPO_WEIGHT_DECAY
    max_grad_norm: float = recipe.PPO_MAX_GRAD_NORM
    clip: float = recipe.PPO_CLIP
    value_clip: float = recipe.PPO_CLIP
    kl_beta: float = recipe.PPO_KL_BETA
    gamma: float = 1.0
    lam: float = 0.95
    whiten_rewards: bool = True  # "logit then whitening" (section 3.2.3)
    safety_threshold: float = recipe.SAFETY_SCORE_THRESHOLD
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 128
    eval_every: int = 10  # iterations between held-out evaluations; 0: never
    patience: int = 3  # evaluations without improvement before stopping early
    seed: int = 0
    bf16: str = "auto"
    gradient_checkpointing: str = "auto"  # "auto": on CUDA only
    lora: LoraSettings | None = None
    parallelism: str = "auto"  # under torchrun: "auto", "ddp" or "fsdp" (training.engines)
    save_every_iterations: int = 0  # 0: only at the end
    extra: dict = field(default_factory=dict)  # recorded, not interpreted

    def __post_init__(self) -> None:
        if self.reference not in REFERENCE_CHOICES:
            raise ValueError(f"reference {self.reference!r} is not one of "
                             f"{', '.join(REFERENCE_CHOICES)}")
        if isinstance(self.lora, dict):
            self.lora = LoraSettings(**self.lora)
        check_parallelism(self.parallelism, lora=self.lora is not None)
        if self.reference == "lora-base" and self.lora is None:
            raise ValueError("reference 'lora-base' needs lora settings: the reference is "
                             "the policy with its adapters disabled")
        if self.bf16 not in BF16_CHOICES:
            raise ValueError(f"bf16 {self.bf16!r} is not one of {', '.join(BF16_CHOICES)}")
        if self.batch_size % self.minibatch_size:
            raise ValueError(f"batch_size {self.batch_size} is not a multiple of "
                             f"minibatch_size {self.minibatch_size}")
        if self.minibatch_size % self.micro_batch_size:
            raise ValueError(f"minibatch_size {self.minibatch_size} is not a multiple of "
                             f"micro_batch_size {self.micro_batch_size}")
        self.adam_betas = tuple(self.adam_betas)
