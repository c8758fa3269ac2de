"""Data parallelism over the GPUs of one machine, for a trainer launched by ``torchrun``.

A GPU worker on a machine with several GPUs starts the training CLI under
``torch.distributed.run`` (see ``paddock.workers.pipeline.child``); without it everything
here is a no-op and a trainer runs as one process. Each rank takes its share of the micro
batches of every optimizer step; their gradients are summed across ranks before the step,
so N ranks compute the same update as one process would (up to float summation order),
and a checkpoint written by rank 0 resumes under any number of ranks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def share(self, items: list) -> list:
        """This rank's part of ``items``: every world_size-th, from its rank."""
        return items[self.rank::self.world_size] if self.distributed else items


def world() -> World:
    """The ranks torchrun started (RANK, WORLD_SIZE, LOCAL_RANK); one process otherwise."""
    return World(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                 int(os.environ.get("LOCAL_RANK", 0)))


def init() -> World:
    """Join the process group (NCCL on GPUs, gloo on CPUs) when launched by torchrun."""
    current = world()
    if current.distributed and not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(current.local_rank)
        dist.init_process_group("nccl" if cuda else "gloo")
    return current


def device(current: World) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", current.local_rank)
    return torch.device("cpu")


def sum_gradients(model: torch.nn.Module, current: World) -> None:
    """Sum every trainable parameter's gradient over the ranks (a rank that had no micro
    batch this step contributes zeros)."""
    if not current.distributed:
        return
    for parameter in model.parameters():
        if not parameter.requires_grad:
            continue
        if parameter.grad is None:
            parameter.grad = torch.zeros_like(parameter)
        dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM)


def sum_values(values: list[float], current: World) -> list[float]:
    if not current.distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def barrier(current: World) -> None:
    if current.distributed:
        dist.barrier()
