"""Reward-model accuracy per strength level, across batches, as training left it on disk.

Training writes it; the console only reads it. Every reward model the loop trains is a
version in the model registry (:mod:`paddock.training.registry`), whose record names the
batch it learned from, and ``python -m paddock.training.reward eval`` writes its
evaluations as ``eval-<name>.json`` into ``<model>/eval/`` (the paper's table 8 layout:
accuracy per strength level and overall). Nothing is invented: with no registered reward
model, or none evaluated, the console says so.

The registry lives at ``settings.MODEL_REGISTRY_DIR`` (``PADDOCK_MODEL_REGISTRY_DIR``; by
default under the artifacts folder every machine shares, ``$PADDOCK_ARTIFACTS_DIR/models``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from paddock.annotation.models import Batch, Strength

NONE = "\N{EN DASH}"  # shown where a figure is undefined
KIND_LABELS = {"reward-helpfulness": "Helpfulness", "reward-safety": "Safety"}


def registry_root() -> Path:
    return Path(settings.MODEL_REGISTRY_DIR)


def percent(value: float | None) -> str:
    return NONE if value is None else f"{value:.1%}"


@dataclass(frozen=True)
class Level:
    accuracy: float | None
    n: int

    @property
    def text(self) -> str:
        return percent(self.accuracy)


@dataclass(frozen=True)
class EvaluationRow:
    version: str
    kind: str  # "Helpfulness" or "Safety"
    batch_label: str
    batch_id: int | None  # when the batch is in this database
    created_at: str
    evaluation: str  # its name, e.g. "safety RM on batch 12 test split"
    n: int
    accuracy: float | None
    levels: tuple[Level, ...]  # in Strength order

    @property
    def accuracy_text(self) -> str:
        return percent(self.accuracy)


@dataclass(frozen=True)
class RewardModelTable:
    root: Path
    rows: tuple[EvaluationRow, ...]
    versions: int  # registered reward models, evaluated or not
    unreadable: tuple[str, ...]  # files that are there but could not be read


def _batch_of(value, by_id: dict, by_name: dict) -> tuple[str, int | None]:
    """The registry records a batch by id or by name; link it when it is in this database."""
    if value is None or value == "":
        return NONE, None
    found = by_id.get(int(value)) if str(value).isdigit() else by_name.get(str(value))
    return (found.name, found.pk) if found else (str(value), None)


def reward_model_table(root: Path | None = None) -> RewardModelTable:
    """Every evaluation of every registered reward model, oldest model first."""
    # Imported here, not at module level: the web process keeps paddock.training out of
    # its import graph (tests/test_import_boundaries.py). The registry itself is plain
    # Python (json, fcntl), no torch.
    from paddock.training.registry import REWARD_KINDS, ModelRegistry, RegistryError

    root = root or registry_root()
    registry = ModelRegistry(root)
    versions, unreadable = [], []
    for kind in REWARD_KINDS:
        try:
            versions += registry.list(kind)
        except RegistryError as error:
            unreadable.append(str(error))
    by_id = {batch.pk: batch for batch in Batch.objects.only("id", "name")} if versions else {}
    by_name = {batch.name: batch for batch in by_id.values()}
    rows = []
    for version in sorted(versions, key=lambda v: (v.created_at, v.version)):
        batch_label, batch_id = _batch_of(version.batch, by_id, by_name)
        for path in sorted((version.path / "eval").glob("eval-*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                by_strength = data.get("by_strength") or {}
                levels = tuple(
                    Level(by_strength.get(s.value, {}).get("accuracy"),
                          int(by_strength.get(s.value, {}).get("n", 0)))
                    for s in Strength
                )
                rows.append(EvaluationRow(
                    version=version.version, kind=KIND_LABELS.get(version.kind, version.kind),
                    batch_label=batch_label, batch_id=batch_id,
                    created_at=version.created_at[:16].replace("T", " "),
                    evaluation=str(data.get("name", path.stem)), n=int(data.get("n", 0)),
                    accuracy=data.get("accuracy"), levels=levels,
                ))
            except (OSError, ValueError, TypeError, AttributeError) as error:
                unreadable.append(f"{path}: {error}")
    return RewardModelTable(root, tuple(rows), len(versions), tuple(unreadable))
