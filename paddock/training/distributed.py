"""The ranks of a training run launched by ``torchrun``, and the few values they exchange.

A GPU worker starts a training CLI under ``torch.distributed.run``: one process per GPU of
its machine, and with ``--nnodes`` on several machines (see
``paddock.workers.pipeline.child``). Without it everything here is a no-op and a trainer
runs as one process. The models themselves are shared through PyTorch's engines (DDP or
FSDP, :mod:`paddock.training.engines`); this module only knows who is who, joins the
process group and moves small Python values (loss sums, stop flags, rollouts) between
ranks.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")
# How long a rank waits for the others at a collective before failing (a dead machine
# must end the step with an error, not hang the worker for NCCL's default of 10 minutes
# times every pending collective).
TIMEOUT_ENV = "PADDOCK_TRAINING_TIMEOUT_SECONDS"


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

    def share(self, items: list[T]) -> list[T]:
        """This rank's part of ``items``: every world_size-th, from its rank."""
        return items[self.rank::self.world_size] if self.distributed else items

    def lockstep_share(self, items: list[T]) -> list[tuple[T, bool]]:
        """This rank's part of ``items`` as ``(item, real)``, padded with ``(items[0],
        False)`` so every rank gets the same count.

        A DDP or FSDP model runs collectives inside forward and backward, so every rank
        must make the same number of passes; a rank short of work runs a pass whose loss is
        multiplied by zero (same collectives, no contribution).
        """
        if not self.distributed:
            return [(item, True) for item in items]
        count = -(-len(items) // self.world_size)
        mine = [(item, True) for item in items[self.rank::self.world_size]]
        return mine + [(items[0], False)] * (count - len(mine))


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
        seconds = float(os.environ.get(TIMEOUT_ENV, 1800))
        dist.init_process_group("nccl" if cuda else "gloo",
                                timeout=datetime.timedelta(seconds=seconds))
    return current


def device(current: World) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", current.local_rank)
    return torch.device("cpu")


def sum_values(values: list[float], current: World) -> list[float]:
    """Element-wise sums over the ranks (float64, so counts stay exact)."""
    if not current.distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64,
                          device=device(current) if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def gather_objects(value: Any, current: World) -> list[Any]:
    """Every rank's ``value``, in rank order, on every rank (picklable values only)."""
    if not current.distributed:
        return [value]
    gathered: list[Any] = [None] * current.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def barrier(current: World) -> None:
    if current.distributed:
        dist.barrier()
