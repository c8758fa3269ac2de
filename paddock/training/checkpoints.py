"""Resumable training checkpoints, shared by every trainer of this package.

A run that stops at an optimizer step and resumes from its checkpoint must end exactly
where an uninterrupted run ends, so a checkpoint holds everything that decides the next
step: the weights, whatever trainer state the caller passes (optimizer and scheduler
state dicts, the step, which also fixes the data position, loss history) and the random
number generators (torch, CUDA, Python's). It is written to ``checkpoint-N.partial`` and
renamed when complete, so a run killed while saving leaves the previous checkpoint
intact; only the newest one is kept.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

CHECKPOINT_PREFIX = "checkpoint-"
STATE_FILE = "trainer_state.pt"


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints under ``output_dir``, oldest first."""
    output_dir = Path(output_dir)
    if not output_dir.exists():
        return []
    found = [p for p in output_dir.glob(f"{CHECKPOINT_PREFIX}*")
             if p.is_dir() and p.name[len(CHECKPOINT_PREFIX):].isdigit()]
    return sorted(found, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]))


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    found = list_checkpoints(output_dir)
    return found[-1] if found else None


def rng_state() -> dict:
    return {
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "python_rng": random.getstate(),
    }


def restore_rng(state: Mapping) -> None:
    torch.set_rng_state(state["torch_rng"])
    if state.get("cuda_rng") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    random.setstate(state["python_rng"])


def save_checkpoint(output_dir: str | Path, step: int, *, models: Mapping[str, nn.Module],
                    state: Mapping, config) -> Path:
    """``checkpoint-{step}``: ``{name}.safetensors`` per model, ``trainer_state.pt``
    (``state`` plus the RNG) and the run's config (``config.save(directory)``)."""
    from safetensors.torch import save_model

    final = Path(output_dir) / f"{CHECKPOINT_PREFIX}{step}"
    scratch = final.with_name(final.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        for name, model in models.items():
            save_model(model, str(scratch / f"{name}.safetensors"))
        torch.save(dict(state) | rng_state(), scratch / STATE_FILE)
        config.save(scratch)
    except BaseException:
        # A full disk: give the space back; the previous checkpoint stays the latest.
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    shutil.rmtree(final, ignore_errors=True)
    scratch.rename(final)
    for older in list_checkpoints(output_dir)[:-1]:  # keep the newest only
        shutil.rmtree(older, ignore_errors=True)
    return final


def load_checkpoint(path: str | Path, *, models: Mapping[str, nn.Module],
                    device: torch.device) -> dict:
    """Load the weights into ``models`` and restore the RNG; return the trainer state for
    the caller to apply (optimizer, scheduler, step...)."""
    from safetensors.torch import load_model

    path = Path(path)
    for name, model in models.items():
        load_model(model, str(path / f"{name}.safetensors"), device=str(device))
    state = torch.load(path / STATE_FILE, weights_only=False)  # our own file, not user input
    restore_rng(state)
    return state


def remove_checkpoints(output_dir: str | Path) -> None:
    """Once the final model is saved the checkpoints are only disk space."""
    for checkpoint in list_checkpoints(output_dir):
        shutil.rmtree(checkpoint, ignore_errors=True)


class StepCheckpointing:
    """Checkpoint and resume for a one-model trainer counted in optimizer steps.

    The trainer provides ``output_dir``, ``step``, ``model``, ``optimizer``, ``scheduler``,
    ``losses``, ``config`` and ``device``; the data position follows from ``step``.
    """

    def save_checkpoint(self) -> Path:
        return save_checkpoint(
            self.output_dir, self.step, models={"model": self.model}, config=self.config,
            state={"optimizer": self.optimizer.state_dict(),
                   "scheduler": self.scheduler.state_dict(),
                   "step": self.step, "losses": self.losses},
        )

    def _resume(self) -> None:
        latest = latest_checkpoint(self.output_dir)
        if latest is None or self.step:
            return
        state = load_checkpoint(latest, models={"model": self.model}, device=self.device)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = state["step"]
        self.losses = state["losses"]
