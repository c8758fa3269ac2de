"""Training past one process on PyTorch's own engines: DDP or FSDP2, picked per run.

Every trainer of this package (reward models, SFT, PPO) hands its model to :func:`wrap`
and runs its micro batches through :func:`sync_on`; the rest is PyTorch's:

- ``"ddp"``: ``DistributedDataParallel``. Each rank holds the whole model, its gradients
  and the optimizer state, and gradients are averaged in buckets while backward runs.
  The fastest choice for any model whose training state fits one GPU.
- ``"fsdp"``: FSDP2 (``torch.distributed.fsdp.fully_shard``), each transformer block a
  unit and the root around them. Parameters, gradients and AdamW's state are sharded over
  the ranks (a rank keeps 1/N of each), a block's weights are gathered just before it
  runs and freed after, and gradients are reduce-scattered. bf16 runs use FSDP's mixed
  precision (bf16 compute and all-gathers, fp32 master weights and gradient reduction).
  The choice for models whose training state does not fit one GPU.
- ``"none"``: one process, the model as it is.

``"auto"`` (the default) takes ``none`` for one process, and otherwise ``ddp`` when the
training state estimated by :func:`memory_plan` fits in ``AUTO_DDP_SHARE`` of a GPU, else
``fsdp``; on CPUs (gloo) it takes ``ddp``.

Both engines average gradients over the ranks, so a rank scales its loss by the world size
(:func:`loss_scale`) and N ranks compute the update one process would, up to the order of
float sums (the CPU tests check weights against one process after several steps).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from paddock.training.distributed import World

STRATEGIES = ("auto", "none", "ddp", "fsdp")
AUTO_DDP_SHARE = 0.6  # of a GPU's memory; the rest is left to activations and the allocator
GIB = 1024 ** 3


# --------------------------------------------------------------------------- memory


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes per GPU for a model's weights, gradients and AdamW state (no activations).

    Trained weights are fp32 master copies (4 bytes), their gradients 4, AdamW's two
    moments 8; frozen weights (LoRA's base, PPO's reference and reward models) take 2 in
    bf16 or 4 in fp32. FSDP divides the trained part and the frozen weights it shards by
    the number of ranks and adds the largest block, gathered while it runs (in bf16 under
    mixed precision).
    """

    strategy: str
    world_size: int
    trained_parameters: int
    frozen_parameters: int
    largest_block_parameters: int
    frozen_bytes_per_parameter: int = 4

    @property
    def bytes_per_gpu(self) -> int:
        trained = self.trained_parameters * 16
        frozen = self.frozen_parameters * self.frozen_bytes_per_parameter
        if self.strategy != "fsdp":
            return trained + frozen
        gathered = self.largest_block_parameters * 2 * 2  # the block and its prefetch, bf16
        return (trained + frozen) // self.world_size + gathered

    @property
    def gib_per_gpu(self) -> float:
        return round(self.bytes_per_gpu / GIB, 2)


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trained, frozen) parameter counts, each shared tensor counted once."""
    seen: set[int] = set()
    trained = frozen = 0
    for parameter in model.parameters():
        if id(parameter) in seen:
            continue
        seen.add(id(parameter))
        if parameter.requires_grad:
            trained += parameter.numel()
        else:
            frozen += parameter.numel()
    return trained, frozen


def memory_plan(model: nn.Module, strategy: str, world_size: int, *,
                frozen_bf16: bool = False) -> MemoryPlan:
    trained, frozen = count_parameters(model)
    blocks = [sum(p.numel() for p in block.parameters()) for block in shard_units(model)]
    return MemoryPlan(strategy, world_size, trained, frozen, max(blocks, default=0),
                      2 if frozen_bf16 else 4)


def gpu_memory_bytes(device: torch.device) -> int | None:
    if device.type != "cuda":
        return None
    return torch.cuda.get_device_properties(device).total_memory


def check_parallelism(setting: str, *, lora: bool = False) -> None:
    """A config's ``parallelism`` value, checked where the config is read."""
    if setting not in STRATEGIES:
        raise ValueError(f"parallelism {setting!r} is not one of {', '.join(STRATEGIES)}")
    if lora and setting == "fsdp":
        raise ValueError("parallelism 'fsdp' with LoRA: adapters train few parameters and "
                         "need no sharded optimizer state; use 'ddp' (or 'auto')")


def choose_strategy(setting: str, model: nn.Module, world: World,
                    device: torch.device, *, extra_bytes: int = 0) -> str:
    """The engine for this run: the setting, or for ``"auto"`` the cheapest that fits.

    ``extra_bytes``: what else each GPU must hold beside ``model`` (PPO's value model and
    reference). LoRA runs (few trained parameters) never pick FSDP: their adapters would
    be merged into sharded weights, which peft cannot do.
    """
    check_parallelism(setting)
    if not world.distributed:
        return "none"
    if setting == "none":
        raise ValueError(f"parallelism 'none' under {world.world_size} ranks: every rank "
                         "would train its own copy; use 'ddp', 'fsdp' or 'auto'")
    if setting != "auto":
        return setting
    capacity = gpu_memory_bytes(device)
    # CPU ranks: the memory is the host's, sharding buys nothing there.
    if capacity is None or _has_peft(model):
        return "ddp"
    needed = memory_plan(model, "ddp", world.world_size).bytes_per_gpu + extra_bytes
    return "ddp" if needed <= AUTO_DDP_SHARE * capacity else "fsdp"


def _has_peft(model: nn.Module) -> bool:
    return any(getattr(module, "peft_config", None) for module in model.modules())


# --------------------------------------------------------------------------- wrapping


def shard_units(model: nn.Module) -> list[nn.Module]:
    """The transformer blocks FSDP shards one by one: the modules whose class a Hugging
    Face model lists in ``_no_split_modules`` (LlamaDecoderLayer, BertLayer...)."""
    names: set[str] = set()
    for module in model.modules():
        names.update(getattr(module, "_no_split_modules", None) or ())
    return [module for module in model.modules() if type(module).__name__ in names]


def wrap(model: nn.Module, strategy: str, world: World, device: torch.device, *,
         bf16: bool = False) -> nn.Module:
    """``model`` (already on ``device``) under the chosen engine."""
    if strategy == "none":
        return model
    if strategy == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            # A base model's pooler or an unused head gets no gradient; DDP must not wait
            # for it. Buffers (rotary tables) are constants: no broadcast on every forward.
            find_unused_parameters=True, broadcast_buffers=False)
    if strategy == "fsdp":
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        mesh = init_device_mesh(device.type, (world.world_size,))
        precision = (MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
                     if bf16 else MixedPrecisionPolicy())
        for unit in shard_units(model):
            fully_shard(unit, mesh=mesh, mp_policy=precision)
        fully_shard(model, mesh=mesh, mp_policy=precision)
        return model
    raise ValueError(f"strategy {strategy!r} is not one of none, ddp, fsdp")


def unwrap(model: nn.Module) -> nn.Module:
    """The user's module (DDP wraps it; FSDP2 changes it in place)."""
    from torch.nn.parallel import DistributedDataParallel

    return model.module if isinstance(model, DistributedDataParallel) else model


def is_sharded(model: nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def loss_scale(world: World) -> float:
    """Both engines average gradients over the ranks; a rank's loss is multiplied by the
    world size so the average is the one-process sum."""
    return float(world.world_size)


@contextlib.contextmanager
def sync_on(models: list[nn.Module], last: bool) -> Iterator[None]:
    """Run a micro batch's backward with the gradient exchange only on the last micro
    batch of an optimizer step (gradient accumulation without N-1 wasted exchanges)."""
    from torch.nn.parallel import DistributedDataParallel

    with contextlib.ExitStack() as stack:
        for model in models:
            if isinstance(model, DistributedDataParallel):
                if not last:
                    stack.enter_context(model.no_sync())
            elif is_sharded(model):
                model.set_requires_gradient_sync(last)
        yield


@contextlib.contextmanager
def gathered_for_inference(model: nn.Module) -> Iterator[nn.Module]:
    """The model with whole weights on every rank, for sampling: the shards are gathered
    once, before the first token, and stay gathered until the context exits (a decode loop
    makes one forward per token and ranks stop at different lengths, so a forward must not
    need the other ranks). DDP and one process: the plain module, nothing to gather."""
    if not is_sharded(model):
        yield unwrap(model)
        return
    units = [module for module in model.modules() if is_sharded(module)]
    for unit in units:
        unit.set_reshard_after_forward(False, recurse=False)
    for unit in units:  # unshard() gathers one unit's own parameters, not its children's
        unit.unshard()
    try:
        yield model
    finally:
        for unit in units:  # FSDP's defaults: blocks reshard after forward, the root not
            unit.set_reshard_after_forward(unit is not model, recurse=False)
            unit.reshard()


def clip_gradients(model: nn.Module, max_norm: float) -> None:
    """Clip by the global gradient norm (FSDP: over every rank's shard, via DTensor)."""
    parameters = [p for p in model.parameters() if p.grad is not None]
    if not parameters:
        return
    norm = torch.nn.utils.clip_grad_norm_(parameters, max_norm)
    if hasattr(norm, "full_tensor"):  # a DTensor: materialise so every rank agrees
        norm.full_tensor()


def full_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Whole weights on the CPU, keyed as the user's module names them (no ``module.``
    prefix), ready for ``save_pretrained(state_dict=...)``. Under FSDP every rank must call
    it (the shards are gathered) and only rank 0 gets the tensors (an empty dict
    elsewhere); otherwise each rank reads its own whole copy."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    if not is_sharded(model):
        return {key: value.detach().cpu() for key, value in unwrap(model).state_dict().items()}
    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True,
                                                                cpu_offload=True))
