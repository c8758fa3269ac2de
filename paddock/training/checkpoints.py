"""Resumable training checkpoints, shared by every trainer of this package.

A run that stops at an optimizer step and resumes from its checkpoint must end exactly
where an uninterrupted run ends, so a checkpoint holds everything that decides the next
step: the weights and optimizer state of every trained model, whatever trainer state the
caller passes (scheduler state, the step, which also fixes the data position, loss
history) and the random number generators (torch, CUDA, Python's).

Weights and optimizer state go through ``torch.distributed.checkpoint`` (DCP), one folder
per model: under FSDP every rank writes its own shards in parallel and no rank ever holds
the whole model; under DDP or one process the same format holds whole tensors. DCP
reshards on load, so a checkpoint written by 8 ranks on 2 machines resumes on 1 process,
4 ranks or 16, under DDP or FSDP. Several machines must write to one shared folder.

A checkpoint is written to ``checkpoint-N.partial`` and renamed when complete, so a run
killed while saving leaves the previous checkpoint intact; only the newest one is kept.
Checkpoints written before the switch to DCP (``{name}.safetensors`` beside
``trainer_state.pt``) still resume, on one process or under DDP.
"""

from __future__ import annotations

import json
import random
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from paddock.training.distributed import World, barrier

CHECKPOINT_PREFIX = "checkpoint-"
STATE_FILE = "trainer_state.pt"
_SINGLE_PROCESS_WARNING = "torch.distributed is disabled, unavailable or uninitialized"


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
        cuda = state["cuda_rng"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
    random.setstate(state["python_rng"])


def _dcp_state(model: nn.Module, optimizer: torch.optim.Optimizer | None) -> dict:
    """The model's (and optimizer's) state as DCP reads and writes it: keyed by the
    user's parameter names, sharded tensors under FSDP, whole tensors otherwise."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_state_dict

    if optimizer is None:
        return {"model": get_model_state_dict(model)}
    model_state, optimizer_state = get_state_dict(model, optimizer)
    return {"model": model_state, "optimizer": optimizer_state}


class CheckpointWriteError(OSError):
    """A checkpoint could not be written; the message names it, the first failing rank's
    error and the free space left."""


def _rank_error(error: BaseException) -> BaseException:
    """The first failing rank's own exception inside DCP's ``CheckpointException``, which
    derives from BaseException and so slips past every ``except Exception``; any other
    error as it is."""
    from torch.distributed.checkpoint.api import CheckpointException

    if isinstance(error, CheckpointException) and error.failures:
        first = error.failures[min(error.failures)]
        return first[0] if isinstance(first, tuple) else first
    return error


def _free_bytes(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0


def _single_process() -> bool:
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized())


def save_checkpoint(output_dir: str | Path, step: int, *, models: Mapping[str, nn.Module],
                    state: Mapping, config,
                    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
                    world: World | None = None) -> Path:
    """``checkpoint-{step}``: a DCP folder per model (its weights and, where given, its
    optimizer's state), ``trainer_state.pt`` (``state`` plus the RNG) and the run's config
    (``config.save(directory)``). Every rank calls it; rank 0 writes the small files."""
    import torch.distributed.checkpoint as dcp

    world = world or World()
    optimizers = optimizers or {}
    final = Path(output_dir) / f"{CHECKPOINT_PREFIX}{step}"
    scratch = final.with_name(final.name + ".partial")
    if world.is_main:
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
    barrier(world)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_SINGLE_PROCESS_WARNING)
            for name, model in models.items():
                dcp.save(_dcp_state(model, optimizers.get(name)), checkpoint_id=scratch / name,
                         no_dist=_single_process())
        if world.is_main:
            torch.save(dict(state) | rng_state(), scratch / STATE_FILE)
            config.save(scratch)
    except BaseException as error:
        # A full disk: give the space back; the previous checkpoint stays the latest.
        if world.is_main:
            shutil.rmtree(scratch, ignore_errors=True)
        original = _rank_error(error)
        if original is error:
            raise
        raise CheckpointWriteError(
            f"{final}: the checkpoint could not be written ({type(original).__name__}: "
            f"{original}); {_free_bytes(final.parent):,} bytes free on its disk") from original
    barrier(world)  # every rank's shards are on disk before the folder counts as complete
    if world.is_main:
        shutil.rmtree(final, ignore_errors=True)
        scratch.rename(final)
        for older in list_checkpoints(output_dir)[:-1]:  # keep the newest only
            shutil.rmtree(older, ignore_errors=True)
    barrier(world)  # nobody resumes or writes again before the rename
    return final


def load_checkpoint(path: str | Path, *, models: Mapping[str, nn.Module],
                    device: torch.device,
                    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
                    legacy_optimizer_keys: Mapping[str, str] | None = None) -> dict:
    """Load weights (and optimizer state) into ``models``, whatever number of ranks wrote
    them, and restore the RNG; return the trainer state for the caller to apply
    (scheduler, step...). Every rank calls it."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import set_model_state_dict, set_state_dict

    path = Path(path)
    optimizers = optimizers or {}
    state = torch.load(path / STATE_FILE, weights_only=False)  # our own file, not user input
    for name, model in models.items():
        if (path / f"{name}.safetensors").is_file():
            _load_legacy(path, name, model, device, optimizers.get(name),
                         state.get((legacy_optimizer_keys or {}).get(name, "")))
            continue
        optimizer = optimizers.get(name)
        wanted = _dcp_state(model, optimizer)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_SINGLE_PROCESS_WARNING)
            try:
                dcp.load(wanted, checkpoint_id=path / name, no_dist=_single_process())
            except BaseException as error:
                original = _rank_error(error)
                if original is error:
                    raise
                raise CheckpointError(f"{path / name}: cannot load "
                                      f"({type(original).__name__}: {original})") from original
        if optimizer is None:
            set_model_state_dict(model, wanted["model"])
        else:
            set_state_dict(model, optimizer, model_state_dict=wanted["model"],
                           optim_state_dict=wanted["optimizer"])
    restore_rng(state)
    return state


def _load_legacy(path: Path, name: str, model: nn.Module, device: torch.device,
                 optimizer: torch.optim.Optimizer | None, optimizer_state: dict | None) -> None:
    """A checkpoint from before DCP: whole weights in safetensors, the optimizer's
    ``state_dict()`` inside trainer_state.pt."""
    from safetensors.torch import load_model

    from paddock.training.engines import is_sharded, unwrap

    if is_sharded(model):
        raise CheckpointError(f"{path}: written by an older paddock (whole-model "
                              "safetensors); resume it on one process or with parallelism "
                              "'ddp'")
    load_model(unwrap(model), str(path / f"{name}.safetensors"), device=str(device))
    if optimizer is not None and optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)


def remove_checkpoints(output_dir: str | Path) -> None:
    """Once the final model is saved the checkpoints are only disk space."""
    for checkpoint in list_checkpoints(output_dir):
        shutil.rmtree(checkpoint, ignore_errors=True)


class StepCheckpointing:
    """Checkpoint and resume for a one-model trainer counted in optimizer steps.

    The trainer provides ``output_dir``, ``step``, ``model``, ``optimizer``, ``scheduler``,
    ``losses``, ``config``, ``device`` and ``world``; the data position follows from
    ``step``.
    """

    def save_checkpoint(self) -> Path:
        return save_checkpoint(
            self.output_dir, self.step, models={"model": self.model}, config=self.config,
            optimizers={"model": self.optimizer}, world=self.world,
            state={"scheduler": self.scheduler.state_dict(),
                   "step": self.step, "losses": self.losses},
        )

    def _resume(self) -> None:
        latest = latest_checkpoint(self.output_dir)
        if latest is None or self.step:
            return
        state = load_checkpoint(latest, models={"model": self.model}, device=self.device,
                                optimizers={"model": self.optimizer},
                                legacy_optimizer_keys={"model": "optimizer"})
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = state["step"]
        self.losses = state["losses"]


# --------------------------------------------------------------------------- model folders

CAUSAL_LM = "causal-lm"
REWARD_MODEL = "reward-model"
ANY_MODEL = "any"
_JSON_FILES = ("config.json", "generation_config.json", "tokenizer_config.json",
               "tokenizer.json", "special_tokens_map.json", "reward_config.json",
               "reward_head.json", "model.safetensors.index.json")
_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
            "pytorch_model.bin.index.json")
_CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel")


class CheckpointError(ValueError):
    """A model folder that cannot be what the caller expects; the message is one line
    naming the file and what is wrong with it."""


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise CheckpointError(f"{path}: not UTF-8 text ({error.reason})") from None
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path}: not JSON ({error.msg} at line {error.lineno} "
                              f"column {error.colno})") from None
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read ({error.strerror})") from None


def check_safetensors(path: str | Path) -> None:
    """The file's header is JSON and the file is as long as the header says (a copy cut
    short, e.g. by a full disk, fails here instead of deep inside a loader)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as data:
            prefix = data.read(8)
            if len(prefix) < 8:
                raise CheckpointError(f"{path}: truncated ({size} bytes, not a safetensors "
                                      "file)")
            header_size = int.from_bytes(prefix, "little")
            if header_size > size - 8:
                raise CheckpointError(f"{path}: truncated or corrupt (its header claims "
                                      f"{header_size} bytes, the file has {size})")
            header = json.loads(data.read(header_size))
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read ({error.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"{path}: corrupt (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: corrupt (its header is not a JSON object)")
    try:
        end = max((int(entry["data_offsets"][1]) for name, entry in header.items()
                   if name != "__metadata__"), default=0)
    except (TypeError, KeyError, IndexError, ValueError):
        raise CheckpointError(f"{path}: corrupt (a tensor entry has no data offsets)") from None
    expected = 8 + header_size + end
    if size < expected:
        raise CheckpointError(f"{path}: truncated ({size} bytes, the header describes "
                              f"{expected})")


def _check_weights(folder: Path, name: str = "model") -> None:
    single = folder / f"{name}.safetensors"
    index = folder / f"{name}.safetensors.index.json"
    if single.is_file():
        check_safetensors(single)
    elif index.is_file():
        mapping = _read_json(index)
        shards = mapping.get("weight_map") if isinstance(mapping, dict) else None
        if not isinstance(shards, dict):
            raise CheckpointError(f"{index}: no weight_map")
        for shard in sorted(set(map(str, shards.values()))):
            if not (folder / shard).is_file():
                raise CheckpointError(f"{folder / shard}: missing (listed in {index.name})")
            check_safetensors(folder / shard)
    elif not any((folder / other).is_file() for other in _WEIGHTS):
        raise CheckpointError(f"{folder}: no weights ({single.name} missing)")


def check_model_folder(path: str | Path, expect: str = ANY_MODEL) -> Path:
    """Fail with one line if ``path`` is not a loadable Hugging Face model folder of the
    expected kind: ``"causal-lm"`` (a policy), ``"reward-model"`` (what the reward trainer
    writes: a sequence-classification head with one label, or a mean-pooled backbone with
    ``reward_head.safetensors``) or ``"any"`` (a base to train from).

    Checked without loading anything: the folder and ``config.json`` exist, every JSON
    file of the folder parses, the weights are there and no safetensors file is shorter
    than its header says, and the architecture is the expected one. A reward model given
    where a policy is expected would otherwise load as a causal LM with a random LM head.
    """
    folder = Path(path)
    if not folder.exists():
        raise CheckpointError(f"{folder}: no such model folder")
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: not a folder (expected a model folder)")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise CheckpointError(f"{config_path}: missing (not a Hugging Face model folder)")
    for name in _JSON_FILES:
        if (folder / name).is_file():
            _read_json(folder / name)
    config = _read_json(config_path)
    if not isinstance(config, dict):
        raise CheckpointError(f"{config_path}: not a JSON object")
    _check_weights(folder)
    architectures = [str(a) for a in config.get("architectures") or []]
    shown = ", ".join(architectures) or "no architecture"
    head = folder / "reward_head.json"
    is_reward = head.is_file() or any(a.endswith("ForSequenceClassification")
                                      for a in architectures)
    if expect == CAUSAL_LM:
        if is_reward:
            raise CheckpointError(
                f"{config_path}: a reward model ({shown}"
                f"{', with reward_head.json' if head.is_file() else ''}), not a causal "
                "language model (policy)")
        if architectures and not any(a.endswith(_CAUSAL_SUFFIXES) for a in architectures):
            raise CheckpointError(f"{config_path}: architecture {shown} is not a causal "
                                  "language model (policy)")
    elif expect == REWARD_MODEL:
        if head.is_file():
            _check_weights(folder, "reward_head")
        elif not is_reward:
            raise CheckpointError(
                f"{config_path}: architecture {shown} is not a reward model (no "
                "sequence-classification head and no reward_head.json)")
        else:
            labels = config.get("id2label")
            count = len(labels) if isinstance(labels, dict) else config.get("num_labels", 1)
            if count != 1:
                raise CheckpointError(f"{config_path}: {count} labels; a reward model has "
                                      "one (a scalar score)")
    elif expect != ANY_MODEL:
        raise ValueError(f"expect {expect!r} is not one of {CAUSAL_LM}, {REWARD_MODEL}, "
                         f"{ANY_MODEL}")
    return folder
