"""Reward-model accuracy per strength level, across batches, as training left it on disk.

Training writes it; the console only reads it. Every reward model the loop trains is a
version in the model registry (:mod:`paddock.kernel.registry`), whose record names the
batch it learned from, and ``python -m paddock.training.reward eval`` writes its
evaluations as ``eval-<name>.json`` into ``<model>/eval/`` (the paper's table 8 layout:
accuracy per strength level and overall). Nothing is invented: with no registered reward
model, or none evaluated, the console says so.

Like is compared with like (Llama 2 paper, section 3.2.2, table 8): the helpfulness RM on
the helpfulness held-out set, the safety RM on the safety held-out set, each axis its own
table and its own chart across weeks. Which held-out set an evaluation was measured on is
its ``eval_set`` (``{"axis": "helpfulness"|"safety", "batches": [...], "pairs": N}``), read
from the evaluation JSON's top level, else from the ``evaluate_rms`` step result that
wrote that JSON (``result[rm]["eval_set"]``, next to ``result[rm]["json"]``). An
evaluation without one cannot be placed: it is left out of the
comparison with a note saying why, as is a file missing a figure; an RM measured on the
other axis's set is listed apart. No file can make the page fail.

The registry lives at ``settings.MODEL_REGISTRY_DIR`` (``PADDOCK_MODEL_REGISTRY_DIR``; by
default under the artifacts folder every machine shares, ``$PADDOCK_ARTIFACTS_DIR/models``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from paddock.annotation.models import Batch, Strength
from paddock.console.charts import Chart, Row, Series, line_chart
from paddock.kernel import vocabulary
from paddock.kernel.registry import (
    AXIS_BY_REWARD_KIND,
    REWARD_KIND_BY_AXIS,
    REWARD_KINDS,
    ModelRegistry,
    RegistryError,
)
from paddock.workers.models import RunState, StepRun

NONE = "\N{EN DASH}"  # shown where a figure is undefined
KIND_LABELS = {kind: vocabulary.AXIS_LABELS[axis] for axis, kind in REWARD_KIND_BY_AXIS.items()}
AXES = tuple(REWARD_KIND_BY_AXIS)
AXIS_LABELS = vocabulary.AXIS_LABELS
EVALUATE_STEP = "evaluate_rms"
# The chart's lines: the strength levels strongest first, then the average (table 8).
LEVEL_SHORT = {**vocabulary.STRENGTH_LABELS,
               vocabulary.NEGLIGIBLY_BETTER: "Negligibly / unsure"}


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
class EvalSet:
    """The held-out set an evaluation was measured on."""

    axis: str  # "helpfulness" or "safety"
    batches: tuple[str, ...]
    pairs: int | None

    @property
    def text(self) -> str:
        where = f"{self.axis} held-out set"
        if self.batches:
            where += " of " + ", ".join(self.batches)
        return where


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
    model_axis: str | None = None  # the axis the RM was trained for
    eval_set: EvalSet | None = None

    @property
    def accuracy_text(self) -> str:
        return percent(self.accuracy)

    @property
    def point_label(self) -> str:
        """The chart's x label: the version's number and the batch it learned from."""
        number = self.version.rsplit("-", 1)[-1]
        return f"{number} {self.batch_label}" if self.batch_label != NONE else number


@dataclass(frozen=True)
class AxisTable:
    """One axis: its RM on its own held-out set, model after model, and the chart."""

    axis: str
    label: str
    rows: tuple[EvaluationRow, ...]
    chart: Chart


@dataclass(frozen=True)
class RewardModelTable:
    root: Path
    rows: tuple[EvaluationRow, ...]  # every readable evaluation, oldest model first
    versions: int  # registered reward models, evaluated or not
    unreadable: tuple[str, ...]  # files that are there but could not be read
    axes: tuple[AxisTable, ...] = ()  # like with like, per axis
    crossed: tuple[EvaluationRow, ...] = ()  # an RM on the other axis's set
    notes: tuple[str, ...] = ()  # evaluations left out of the comparison, and why


def _batch_of(value, by_id: dict, by_name: dict) -> tuple[str, int | None]:
    """The registry records a batch by id or by name; link it when it is in this database."""
    if value is None or value == "":
        return NONE, None
    found = by_id.get(int(value)) if str(value).isdigit() else by_name.get(str(value))
    return (found.name, found.pk) if found else (str(value), None)


def _eval_set(value: Any) -> EvalSet | None:
    """An ``eval_set`` as the evaluate step records it; None when it is not one."""
    if not isinstance(value, dict) or value.get("axis") not in AXES:
        return None
    batches = value.get("batches")
    batches = tuple(str(b) for b in batches) if isinstance(batches, list) else ()
    pairs = value.get("pairs")
    pairs = pairs if isinstance(pairs, int) and not isinstance(pairs, bool) else None
    return EvalSet(value["axis"], batches, pairs)


def step_eval_sets() -> dict[str, EvalSet]:
    """Evaluation JSON path -> the held-out set the evaluate step says it measured."""
    found: dict[str, EvalSet] = {}
    results = StepRun.objects.filter(step=EVALUATE_STEP, state=RunState.SUCCEEDED).values_list(
        "result", flat=True)
    for result in results:
        if not isinstance(result, dict):
            continue
        for rm in AXES:
            entry = result.get(rm)
            if not isinstance(entry, dict) or not isinstance(entry.get("json"), str):
                continue
            eval_set = _eval_set(entry.get("eval_set"))
            if eval_set is not None:
                found[_key(entry["json"])] = eval_set
    return found


def _key(path: str | Path) -> str:
    return str(Path(path).resolve())


def _rate(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            math.isfinite(value) and 0 <= value <= 1):
        raise ValueError(f"{where} is {value!r}, not an accuracy from 0 to 1")
    return float(value)


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where} is {value!r}, not a count")
    return value


def _levels(data: dict) -> tuple[Level, ...]:
    by_strength = data.get("by_strength")
    if not isinstance(by_strength, dict):
        raise ValueError("no accuracy per strength level (by_strength)")
    levels = []
    for strength in Strength:
        found = by_strength.get(strength.value, {})
        if not isinstance(found, dict):
            raise ValueError(f"by_strength.{strength.value} is not an object")
        levels.append(Level(_rate(found.get("accuracy"), f"by_strength.{strength.value}"),
                            _count(found.get("n", 0), f"by_strength.{strength.value}.n")))
    return tuple(levels)


def _axis_chart(axis: str, rows: tuple[EvaluationRow, ...]) -> Chart:
    label = AXIS_LABELS[axis]
    series = [Series(LEVEL_SHORT[s.value], f"line-{i + 1}") for i, s in enumerate(Strength)]
    series.append(Series("Average", "line-5"))
    points = []
    for row in rows:
        values = (*(level.accuracy for level in row.levels), row.accuracy)
        note = " · ".join(f"{s.name} {percent(v)}" for s, v in zip(series, values, strict=True))
        points.append(Row(row.point_label, values, note))
    return line_chart(f"rm-{axis}", f"{label} RM on the {axis} held-out set, model by model",
                      points, series, reference=0.5)


def reward_model_table(root: Path | None = None) -> RewardModelTable:
    """Every evaluation of every registered reward model, oldest model first, and the
    like-with-like comparison per axis."""
    root = root or registry_root()
    registry = ModelRegistry(root)
    versions, unreadable, notes = [], [], []
    for kind in REWARD_KINDS:
        try:
            versions += registry.list(kind)
        except RegistryError as error:
            unreadable.append(str(error))
    by_id = {batch.pk: batch for batch in Batch.objects.only("id", "name")} if versions else {}
    by_name = {batch.name: batch for batch in by_id.values()}
    from_steps = step_eval_sets() if versions else {}
    rows = []
    for version in sorted(versions, key=lambda v: (v.created_at, v.version)):
        batch_label, batch_id = _batch_of(version.batch, by_id, by_name)
        for path in sorted((version.path / "eval").glob("eval-*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                levels = _levels(data)
                accuracy = _rate(data.get("accuracy"), "accuracy")
                if accuracy is None:
                    raise ValueError("no overall accuracy")
                eval_set = _eval_set(data.get("eval_set")) or from_steps.get(_key(path))
                rows.append(EvaluationRow(
                    version=version.version, kind=KIND_LABELS.get(version.kind, version.kind),
                    batch_label=batch_label, batch_id=batch_id,
                    created_at=version.created_at[:16].replace("T", " "),
                    evaluation=str(data.get("name", path.stem)),
                    n=_count(data.get("n", 0), "n"), accuracy=accuracy, levels=levels,
                    model_axis=AXIS_BY_REWARD_KIND.get(version.kind), eval_set=eval_set,
                ))
            except (OSError, ValueError, TypeError, AttributeError) as error:
                unreadable.append(f"{path}: {error}")
    axes, crossed = [], []
    for row in rows:
        if row.eval_set is None:
            notes.append(f"{row.version}, “{row.evaluation}”: left out of the comparison, "
                         "its held-out set (eval_set: axis, batches) is not recorded")
        elif row.model_axis is None:
            notes.append(f"{row.version}, “{row.evaluation}”: left out, not a helpfulness "
                         "or safety reward model")
        elif row.eval_set.axis != row.model_axis:
            crossed.append(row)
    for axis in AXES:
        same = tuple(r for r in rows if r.eval_set is not None and r.model_axis == axis
                     and r.eval_set.axis == axis)
        axes.append(AxisTable(axis, AXIS_LABELS[axis], same, _axis_chart(axis, same)))
    return RewardModelTable(root, tuple(rows), len(versions), tuple(unreadable), tuple(axes),
                            tuple(crossed), tuple(notes))
