"""The optimizer every trainer here uses: AdamW with decay on weight matrices only."""

from __future__ import annotations

import torch
from torch import nn


def adamw(model: nn.Module, *, learning_rate: float, weight_decay: float,
          betas: tuple[float, float], eps: float = 1e-8) -> torch.optim.AdamW:
    """Norms and biases are not pulled towards zero: decaying them only hurts (the usual
    practice, and what the Llama 2 recipe's weight decay is applied to)."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (no_decay if parameter.ndim < 2 or "norm" in name.lower() else decay).append(
                parameter)
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=learning_rate, betas=betas, eps=eps)
