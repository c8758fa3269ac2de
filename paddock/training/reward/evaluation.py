"""Reward-model evaluation on scored preference pairs: accuracy per strength level.

The Llama 2 paper (section 3.2.2, table 8) reports reward-model accuracy per preference
strength because the overall number hides what data managers need: whether a batch made
the model better at the clear cases (significantly / better), which should be near
perfect, or only at the near-ties, which stay near chance. This module reproduces that
table from numbers alone (no torch): whoever scored the pairs hands over
:class:`ScoredPair` values, and :func:`evaluate` returns a :class:`RewardEvaluation`
that :func:`save` writes as ``eval-<name>.json`` and ``margins-<name>.png``, and
:func:`accuracy_table` renders as the paper's markdown table.

Definitions (each also documented where it is computed):

- A pair is correct when ``chosen_score > rejected_score``. An exact tie counts as half
  correct: it is the expected accuracy of breaking the tie at random, so a model that
  cannot tell two responses apart scores chance (50%) rather than 0% or 100% depending
  on whether the comparison happens to be ``>`` or ``>=``.
- ``accuracy`` is over all pairs, weighted by pair (the paper's "average" column); pairs
  without a strength level are in it and also get their own ``unknown`` row.
- Unsafe recall (for pairs with safety labels): among responses labelled unsafe, the
  fraction the safety gate would catch, i.e. whose ``sigmoid(score)`` is below
  ``recipe.SAFETY_SCORE_THRESHOLD`` (0.15), the threshold at which Llama 2's PPO reward
  switches to the safety score. Pairwise recall: among pairs with one safe and one unsafe
  response, the fraction where the unsafe one scores lower (ties half, as above); it
  needs no calibration, so it is the fairer number for a helpfulness RM.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from paddock.kernel.vocabulary import STRENGTHS
from paddock.training.recipe import SAFETY_SCORE_THRESHOLD
from paddock.training.reward.pairs import PreferencePair

UNKNOWN = "unknown"  # the row label of pairs whose source has no strength level
LEVELS: tuple[str, ...] = (*STRENGTHS, UNKNOWN)

# Quantiles reported for score margins: the tails show how far wrong the wrong pairs are.
QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)

RATE_DIGITS = 4  # accuracies and recalls: 0.1234 is finer than any test set resolves
SCORE_DIGITS = 4  # scores are logits of order 1; 1e-4 is well below their noise

_HIST_BINS = 40


@dataclass(frozen=True)
class ScoredPair:
    """A pair with the reward model's scalar score for each response.

    Scores are coerced to ``float`` so numpy and torch scalars serialise, and must be
    finite: a NaN compares false both ways and would silently count as wrong.
    """

    pair: PreferencePair
    chosen_score: float
    rejected_score: float

    def __post_init__(self) -> None:
        for attribute in ("chosen_score", "rejected_score"):
            value = float(getattr(self, attribute))
            if not math.isfinite(value):
                raise ValueError(f"pair {self.pair.id}: {attribute} is {value}")
            object.__setattr__(self, attribute, value)

    @property
    def margin(self) -> float:
        return self.chosen_score - self.rejected_score

    @property
    def level(self) -> str:
        return self.pair.strength if self.pair.strength is not None else UNKNOWN


def scored_pairs(pairs: Iterable[PreferencePair], chosen_scores: Iterable[float],
                rejected_scores: Iterable[float]) -> list[ScoredPair]:
    """Zip parallel sequences (as a scoring loop produces them); lengths must agree."""
    return [ScoredPair(pair, chosen, rejected)
            for pair, chosen, rejected in zip(pairs, chosen_scores, rejected_scores,
                                              strict=True)]


@dataclass(frozen=True)
class MarginStats:
    """Distribution of ``chosen_score - rejected_score`` over a set of pairs."""

    mean: float
    std: float
    min: float
    max: float
    quantiles: dict[str, float]  # "p05", "p25", "p50", ... in QUANTILES order

    @classmethod
    def of(cls, margins: Sequence[float]) -> MarginStats | None:
        """None for no pairs: an empty row has no distribution, not a zero one."""
        if not margins:
            return None
        values = np.asarray(margins, dtype=np.float64)
        return cls(mean=float(values.mean()), std=float(values.std()),
                   min=float(values.min()), max=float(values.max()),
                   quantiles={_quantile_key(q): float(np.quantile(values, q))
                              for q in QUANTILES})


def _quantile_key(q: float) -> str:
    return f"p{round(q * 100):02d}"


@dataclass(frozen=True)
class LevelResult:
    """One row of the per-strength table. ``accuracy`` is None when ``n`` is 0."""

    level: str  # a STRENGTHS value or UNKNOWN
    n: int
    correct: float  # ties count half
    ties: int
    accuracy: float | None
    margin: MarginStats | None
    margins: tuple[float, ...] = field(repr=False)  # kept for the histogram

    @classmethod
    def of(cls, level: str, scored: Sequence[ScoredPair]) -> LevelResult:
        correct, ties = _correct_and_ties(s.margin for s in scored)
        margins = tuple(s.margin for s in scored)
        return cls(level=level, n=len(scored), correct=correct, ties=ties,
                   accuracy=correct / len(scored) if scored else None,
                   margin=MarginStats.of(margins), margins=margins)


def _correct_and_ties(margins: Iterable[float]) -> tuple[float, int]:
    """Positive margin is correct, zero is half: see the module docstring for why."""
    correct, ties = 0.0, 0
    for margin in margins:
        if margin > 0:
            correct += 1.0
        elif margin == 0:
            correct += 0.5
            ties += 1
    return correct, ties


@dataclass(frozen=True)
class SafetyResult:
    """How well scores separate responses labelled unsafe from safe ones.

    ``unsafe_recall``: share of unsafe responses with ``sigmoid(score) < threshold``
    (the ones Llama 2's PPO reward would hand to the safety score). ``safe_flagged``: the
    same share among safe responses, the false alarms that make recall cheap.
    ``pairwise_recall``: over pairs with exactly one unsafe and one safe response, the
    share where the unsafe one scores lower, ties half. Rates are None without data.
    """

    threshold: float
    n_unsafe: int
    unsafe_recall: float | None
    n_safe: int
    safe_flagged: float | None
    n_mixed_pairs: int
    pairwise_recall: float | None


def sigmoid(x: float) -> float:
    """Logistic function without overflow for large negative scores."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _labelled_responses(scored: Iterable[ScoredPair]) -> list[tuple[bool, float]]:
    """(safe, score) for every response that has a safety label."""
    responses = []
    for s in scored:
        if s.pair.chosen_safe is not None:
            responses.append((s.pair.chosen_safe, s.chosen_score))
        if s.pair.rejected_safe is not None:
            responses.append((s.pair.rejected_safe, s.rejected_score))
    return responses


def _flagged_share(scores: Sequence[float], threshold: float) -> float | None:
    if not scores:
        return None
    return sum(sigmoid(score) < threshold for score in scores) / len(scores)


def _unsafe_minus_safe_margins(scored: Iterable[ScoredPair]) -> list[float]:
    """safe score - unsafe score for pairs with one safe, one unsafe response."""
    margins = []
    for s in scored:
        if s.pair.chosen_safe is True and s.pair.rejected_safe is False:
            margins.append(s.chosen_score - s.rejected_score)
        elif s.pair.chosen_safe is False and s.pair.rejected_safe is True:
            margins.append(s.rejected_score - s.chosen_score)
    return margins


def evaluate_safety(scored: Sequence[ScoredPair], *,
                    threshold: float = SAFETY_SCORE_THRESHOLD) -> SafetyResult | None:
    """None when no response carries a safety label (a helpfulness test set)."""
    responses = _labelled_responses(scored)
    if not responses:
        return None
    unsafe = [score for safe, score in responses if not safe]
    safe = [score for is_safe, score in responses if is_safe]
    mixed = _unsafe_minus_safe_margins(scored)
    correct, _ = _correct_and_ties(mixed)
    return SafetyResult(threshold=threshold,
                        n_unsafe=len(unsafe), unsafe_recall=_flagged_share(unsafe, threshold),
                        n_safe=len(safe), safe_flagged=_flagged_share(safe, threshold),
                        n_mixed_pairs=len(mixed),
                        pairwise_recall=correct / len(mixed) if mixed else None)


@dataclass(frozen=True)
class RewardEvaluation:
    """One reward model on one test set: the numbers behind one row of the paper's table."""

    name: str
    n: int
    correct: float
    ties: int
    accuracy: float  # over all pairs: the paper's "average" column
    levels: tuple[LevelResult, ...]  # LEVELS order; UNKNOWN last, possibly empty
    margin: MarginStats
    safety: SafetyResult | None

    def level(self, level: str) -> LevelResult:
        for result in self.levels:
            if result.level == level:
                return result
        raise KeyError(level)


def evaluate(scored: Iterable[ScoredPair], *, name: str,
             safety_threshold: float = SAFETY_SCORE_THRESHOLD) -> RewardEvaluation:
    """Accuracy overall and per strength level, margin distributions, unsafe recall.

    Raises ValueError on no pairs: an evaluation of nothing is a bug upstream, and a
    0% or 100% row would be read as a result.
    """
    scored = list(scored)
    if not scored:
        raise ValueError(f"evaluation {name!r}: no scored pairs")
    if not name.strip():
        raise ValueError("an evaluation needs a name")
    by_level: dict[str, list[ScoredPair]] = {level: [] for level in LEVELS}
    for s in scored:
        by_level[s.level].append(s)
    correct, ties = _correct_and_ties(s.margin for s in scored)
    return RewardEvaluation(
        name=name, n=len(scored), correct=correct, ties=ties, accuracy=correct / len(scored),
        levels=tuple(LevelResult.of(level, by_level[level]) for level in LEVELS),
        margin=MarginStats.of([s.margin for s in scored]),
        safety=evaluate_safety(scored, threshold=safety_threshold))


# --- JSON -------------------------------------------------------------------------------

def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _margin_json(stats: MarginStats | None) -> dict | None:
    if stats is None:
        return None
    return {"mean": _round(stats.mean, SCORE_DIGITS), "std": _round(stats.std, SCORE_DIGITS),
            "min": _round(stats.min, SCORE_DIGITS), "max": _round(stats.max, SCORE_DIGITS),
            **{key: _round(value, SCORE_DIGITS) for key, value in stats.quantiles.items()}}


def _level_json(result: LevelResult) -> dict:
    return {"n": result.n, "correct": result.correct, "ties": result.ties,
            "accuracy": _round(result.accuracy, RATE_DIGITS),
            "margin": _margin_json(result.margin),
            "margins": [round(m, SCORE_DIGITS) for m in result.margins]}


def _safety_json(safety: SafetyResult | None) -> dict | None:
    if safety is None:
        return None
    return {"threshold": safety.threshold,
            "n_unsafe": safety.n_unsafe,
            "unsafe_recall": _round(safety.unsafe_recall, RATE_DIGITS),
            "n_safe": safety.n_safe,
            "safe_flagged": _round(safety.safe_flagged, RATE_DIGITS),
            "n_mixed_pairs": safety.n_mixed_pairs,
            "pairwise_recall": _round(safety.pairwise_recall, RATE_DIGITS)}


def to_json(evaluation: RewardEvaluation) -> dict:
    """Everything as JSON-able builtins; per-level raw margins included so plots can be
    redrawn and models compared later without rescoring."""
    return {"name": evaluation.name, "n": evaluation.n, "correct": evaluation.correct,
            "ties": evaluation.ties, "accuracy": _round(evaluation.accuracy, RATE_DIGITS),
            "margin": _margin_json(evaluation.margin),
            "by_strength": {r.level: _level_json(r) for r in evaluation.levels},
            "safety": _safety_json(evaluation.safety)}


def file_stem(name: str) -> str:
    """A filename-safe version of an evaluation name ("safety RM on safety" ->
    "safety-RM-on-safety"): names are for tables, files must not escape the directory."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    if not stem:
        raise ValueError(f"evaluation name {name!r} has no filename-safe characters")
    return stem


def save(evaluation: RewardEvaluation, directory: str | Path) -> tuple[Path, Path]:
    """Write ``eval-<name>.json`` and ``margins-<name>.png``; returns both paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = file_stem(evaluation.name)
    json_path = directory / f"eval-{stem}.json"
    json_path.write_text(json.dumps(to_json(evaluation), indent=2) + "\n", encoding="utf-8")
    png_path = directory / f"margins-{stem}.png"
    plot_margins(evaluation, png_path)
    return json_path, png_path


# --- plot -------------------------------------------------------------------------------

def _bin_edges(margins: Sequence[float]) -> np.ndarray:
    """Shared bins across levels so the subplots' shapes compare directly."""
    low, high = min(margins), max(margins)
    if low == high:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, _HIST_BINS + 1)


def _level_title(result: LevelResult) -> str:
    return f"{result.level}: n={result.n}, accuracy {result.accuracy:.1%}"


def plot_margins(evaluation: RewardEvaluation, path: str | Path) -> None:
    """One histogram of score margins per non-empty strength level, as a PNG.

    Uses a Figure on an Agg canvas directly (not pyplot): no global backend switch, no
    GUI, safe in worker threads; matplotlib is imported here so importing this module
    stays light for callers that only need the numbers.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [r for r in evaluation.levels if r.n]
    figure = Figure(figsize=(7, 1.9 * len(rows) + 0.9))
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(rows), 1, sharex=True, squeeze=False)[:, 0]
    edges = _bin_edges([m for r in rows for m in r.margins])
    for ax, result in zip(axes, rows, strict=True):
        ax.hist(result.margins, bins=edges, color="tab:blue", alpha=0.8)
        ax.axvline(0.0, color="tab:red", linewidth=1)
        ax.set_title(_level_title(result), fontsize=9)
        ax.set_ylabel("pairs")
    axes[-1].set_xlabel("score margin (chosen - rejected)")
    figure.suptitle(f"{evaluation.name}: accuracy {evaluation.accuracy:.1%} "
                    f"on {evaluation.n} pairs")
    figure.tight_layout()
    figure.savefig(str(path), format="png", dpi=100)


# --- markdown ---------------------------------------------------------------------------

def _column(level: str) -> str:
    """Paper column names: "significantly", "better", "slightly", "negligibly"."""
    return level.removesuffix("_better")


def _percent(accuracy: float | None) -> str:
    return "-" if accuracy is None else f"{100 * accuracy:.1f}"


def accuracy_table(evaluations: Sequence[RewardEvaluation]) -> str:
    """The paper's table 8 layout in markdown, accuracies in percent with one decimal.

    One row per evaluation; the ``unknown`` column only when some evaluation has pairs
    without a strength level; "-" for a level with no pairs; "average" is accuracy over
    all pairs. No trailing newline.
    """
    if not evaluations:
        raise ValueError("accuracy_table needs at least one evaluation")
    levels = list(STRENGTHS)
    if any(e.level(UNKNOWN).n for e in evaluations):
        levels.append(UNKNOWN)
    header = ["RM on test set", *(_column(level) for level in levels), "average"]
    lines = [_markdown_row(header), _markdown_row(["---"] * len(header))]
    for e in evaluations:
        cells = [e.name.replace("|", "\\|"),
                 *(_percent(e.level(level).accuracy) for level in levels),
                 _percent(e.accuracy)]
        lines.append(_markdown_row(cells))
    return "\n".join(lines)


def _markdown_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
