"""The network that turns a conversation into one score.

Two shapes, chosen per checkpoint:

- ``"model"``: the checkpoint's own sequence-classification head
  (``AutoModelForSequenceClassification`` with one label). For a decoder such as Llama it
  reads the last token, which is what the Llama 2 reward models do.
- ``"mean"``: the mean of the final hidden states over the real tokens, then a linear
  head. Sentence-embedding checkpoints (all-MiniLM-L6-v2 among them) were trained to be
  read that way; their BERT pooler (a tanh layer over [CLS]) was never tuned, and a
  reward model built on it starts from a worse representation.

``"auto"`` takes ``"mean"`` where the checkpoint declares sentence-transformers mean
pooling (``1_Pooling/config.json``) and ``"model"`` otherwise. A mean-pooled reward model
is saved as the backbone's ordinary Hugging Face folder plus ``reward_head.safetensors``
and ``reward_head.json``; :func:`load_reward_model` reads either shape back.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from paddock.training.checkpoints import ANY_MODEL, REWARD_MODEL, check_model_folder

HEAD_CONFIG = "reward_head.json"
HEAD_WEIGHTS = "reward_head.safetensors"
POOLINGS = ("auto", "mean", "model")


def checkpoint_pooling(path: str | Path) -> str:
    """"mean" when the checkpoint says it is read by mean pooling, else "model"."""
    pooling = Path(path) / "1_Pooling" / "config.json"
    if pooling.is_file() and json.loads(pooling.read_text()).get("pooling_mode_mean_tokens"):
        return "mean"
    return "model"


class MeanPooledRewardModel(nn.Module):
    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.config = backbone.config
        self.score = nn.Linear(backbone.config.hidden_size, 1)
        nn.init.normal_(self.score.weight, std=backbone.config.hidden_size ** -0.5)
        nn.init.zeros_(self.score.bias)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask,
                               **extra).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        from transformers.modeling_outputs import SequenceClassifierOutput

        return SequenceClassifierOutput(logits=self.score(pooled))

    def gradient_checkpointing_enable(self, **kwargs) -> None:
        self.backbone.gradient_checkpointing_enable(**kwargs)

    def save_pretrained(self, directory: str | Path, *, state_dict: dict | None = None,
                        **kwargs) -> None:
        """The backbone's Hugging Face folder plus the head; ``state_dict`` (whole weights
        gathered from FSDP shards) replaces the module's own tensors."""
        from safetensors.torch import save_file

        directory = Path(directory)
        if state_dict is None:
            self.backbone.save_pretrained(directory, **kwargs)
            head = self.score.state_dict()
        else:
            self.backbone.save_pretrained(
                directory, state_dict=_strip(state_dict, "backbone."), **kwargs)
            head = _strip(state_dict, "score.")
        save_file({k: v.detach().cpu().contiguous() for k, v in head.items()},
                  str(directory / HEAD_WEIGHTS))
        (directory / HEAD_CONFIG).write_text(json.dumps({"pooling": "mean"}) + "\n")


def _strip(state_dict: dict, prefix: str) -> dict:
    """The entries under ``prefix``, keyed without it."""
    return {key[len(prefix):]: value for key, value in state_dict.items()
            if key.startswith(prefix)}


def build_reward_model(path: str, pooling: str = "auto") -> nn.Module:
    """A base checkpoint with a fresh scalar head (seed the RNG before calling)."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling {pooling!r} is not one of {POOLINGS}")
    check_model_folder(path, ANY_MODEL)
    if pooling == "auto":
        pooling = checkpoint_pooling(path)
    if pooling == "mean":
        from transformers import AutoModel

        return MeanPooledRewardModel(AutoModel.from_pretrained(path, dtype=torch.float32))
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(path, num_labels=1,
                                                              dtype=torch.float32)


def load_reward_model(path: str | Path) -> nn.Module:
    """A trained reward model, whichever shape it was saved in."""
    path = check_model_folder(path, REWARD_MODEL)
    if not (path / HEAD_CONFIG).is_file():
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification.from_pretrained(path)
    from safetensors.torch import load_file
    from transformers import AutoModel

    model = MeanPooledRewardModel(AutoModel.from_pretrained(path))
    model.score.load_state_dict(load_file(str(path / HEAD_WEIGHTS)))
    return model
