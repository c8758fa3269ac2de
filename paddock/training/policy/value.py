"""The PPO value model: a causal LM's body with a scalar head on every position.

It reads the policy's own tokens (a reward model may use another tokenizer), so it is
built from a checkpoint of the policy's family: by default the policy itself, whose body
already understands the text; the head starts at zero so the first advantages are the
rewards themselves rather than noise.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

HEAD_FILE = "value_head.safetensors"


class ValueModel(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.head = nn.Linear(body.config.hidden_size, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @property
    def config(self):
        return self.body.config

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Values of shape (batch, length): the expected return from each position."""
        hidden = self.body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(hidden.to(self.head.weight.dtype)).squeeze(-1)

    def gradient_checkpointing_enable(self, **kwargs) -> None:
        self.body.gradient_checkpointing_enable(**kwargs)

    def save_pretrained(self, directory: str | Path, *, state_dict: dict | None = None,
                        **kwargs) -> None:
        """The body's Hugging Face folder plus the head; ``state_dict`` (whole weights
        gathered from FSDP shards) replaces the module's own tensors."""
        from safetensors.torch import save_file, save_model

        directory = Path(directory)
        if state_dict is None:
            body = (self.body.merge_and_unload() if hasattr(self.body, "merge_and_unload")
                    else self.body)
            body.save_pretrained(directory, **kwargs)
            save_model(self.head, str(directory / HEAD_FILE))
        else:
            self.body.save_pretrained(directory, state_dict={
                key[len("body."):]: value for key, value in state_dict.items()
                if key.startswith("body.")}, **kwargs)
            save_file({key[len("head."):]: value.contiguous() for key, value in state_dict.items()
                       if key.startswith("head.")}, str(directory / HEAD_FILE))
        (directory / "value_model.json").write_text(json.dumps({"head": HEAD_FILE}) + "\n")


def load_value_model(path: str | Path) -> ValueModel:
    """A saved value model, or a new head on any causal LM checkpoint's body."""
    from safetensors.torch import load_model
    from transformers import AutoModel
    from transformers.utils import logging

    path = Path(path)
    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()  # a causal LM's lm_head is "unexpected" here, by design
    try:
        body = AutoModel.from_pretrained(path)
    finally:
        logging.set_verbosity(verbosity)
    model = ValueModel(body)
    if (path / HEAD_FILE).exists():
        load_model(model.head, str(path / HEAD_FILE))
    return model
