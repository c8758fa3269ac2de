"""What the console shows about batches, read from the stored judgements.

Counts come from a few grouped queries; agreement, gold accuracy and median times from
:func:`paddock.annotation.services.quality.batch_quality`, the same figures the API's
``batches/{id}/stats`` returns. Nothing here is stored: every figure is derived from the
judgements as they are now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Max, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from paddock.annotation.models import (
    Axis,
    Batch,
    BatchStatus,
    Comparison,
    Judgement,
    SafetyBin,
    Strength,
    safety_bin,
)
from paddock.annotation.services.export import pseudonym
from paddock.annotation.services.quality import batch_quality
from paddock.console.charts import Chart, Row, Series, bar_chart, column_chart

NONE = "\N{EN DASH}"  # shown where a figure is undefined
MAX_DAYS = 42  # judgements per day: the last six weeks of a batch at most
MAX_ANNOTATORS = 25  # rows of the per-annotator charts; the table lists everyone
LABEL_CHARS = 22

JUDGED = Series("Judged", "bar-1")
SKIPPED = Series("Skipped", "bar-2")
SHARE = Series("Share", "bar-1")
COUNT = Series("Judgements", "bar-1")

# Shown with the chart: Llama 2 leaves this bin out of reward-model training.
EXCLUDED_BIN = SafetyBin.PREFERRED_UNSAFE_OTHER_SAFE


def batches_with_progress() -> QuerySet[Batch]:
    """Every batch with its comparison and judgement counts, newest first."""
    return Batch.objects.annotate(
        n_comparisons=Count("comparisons", distinct=True),
        n_complete=Count(
            "comparisons", filter=Q(comparisons__judgement_count__gte=F("overlap")),
            distinct=True,
        ),
    ).order_by("-opens_at", "-id")


def judgement_counts(batches: list[Batch]) -> dict[int, dict[str, int]]:
    """``{batch id: {"judged", "skipped"}}`` in one grouped query."""
    rows = (
        Judgement.objects.filter(comparison__batch__in=[b.pk for b in batches])
        .values("comparison__batch")
        .annotate(n_judged=Count("id", filter=Q(skipped=False)),
                  n_skipped=Count("id", filter=Q(skipped=True)))
        .order_by()
    )
    return {
        row["comparison__batch"]: {"judged": row["n_judged"], "skipped": row["n_skipped"]}
        for row in rows
    }


def live_stamp(batch: Batch) -> str:
    """Changes whenever a judgement is stored in the batch: the page polls it and redraws
    its figures only when it changed."""
    found = Judgement.objects.filter(comparison__batch=batch).aggregate(n=Count("id"),
                                                                        last=Max("id"))
    return f"{found['n']}-{found['last'] or 0}"


@dataclass(frozen=True)
class AxisProgress:
    axis: str
    label: str
    quota: int
    comparisons: int
    complete: int
    gold: int

    @property
    def share(self) -> float:
        """Complete comparisons over the quota (or over all comparisons without one)."""
        wanted = self.quota or self.comparisons
        return min(self.complete / wanted, 1.0) if wanted else 0.0


def axis_progress(batch: Batch) -> list[AxisProgress]:
    counts = {
        row["axis"]: row
        for row in Comparison.objects.filter(batch=batch)
        .values("axis")
        .annotate(total=Count("id"),
                  complete=Count("id", filter=Q(judgement_count__gte=batch.overlap)),
                  gold=Count("id", filter=Q(is_gold=True)))
        .order_by()
    }
    quotas = {Axis.HELPFULNESS: batch.helpfulness_quota, Axis.SAFETY: batch.safety_quota}
    return [
        AxisProgress(axis.value, axis.label, quotas[axis], counts.get(axis, {}).get("total", 0),
                     counts.get(axis, {}).get("complete", 0), counts.get(axis, {}).get("gold", 0))
        for axis in Axis
    ]


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _percent(value: float | None) -> str:
    return NONE if value is None else f"{value:.0%}"


def per_day_chart(judgements: QuerySet[Judgement], today: date) -> Chart:
    rows = (
        judgements.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n_judged=Count("id", filter=Q(skipped=False)),
                  n_skipped=Count("id", filter=Q(skipped=True)))
        .order_by("day")
    )
    by_day = {row["day"]: (row["n_judged"], row["n_skipped"]) for row in rows}
    if by_day:
        last = max(max(by_day), today) if today - max(by_day) <= timedelta(days=7) else max(by_day)
        first = max(min(by_day), last - timedelta(days=MAX_DAYS - 1))
    else:
        first = last = today
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return column_chart(
        "per-day", "Judgements per day",
        [Row(day.strftime("%m-%d"), by_day.get(day, (0, 0)),
             "{:,} judged, {:,} skipped".format(*by_day.get(day, (0, 0)))) for day in days],
        [JUDGED, SKIPPED],
    )


def strength_chart(judgements: QuerySet[Judgement]) -> Chart:
    counts = dict(
        judgements.filter(skipped=False).values_list("strength").annotate(n=Count("id"))
        .order_by()
    )
    total = sum(counts.values())
    rows = []
    for strength in Strength:
        n = counts.get(strength.value, 0)
        rows.append(Row(strength.label.split(" /")[0], (n / total if total else 0.0,),
                        f"{n / total:.0%} · {n:,}" if total else "0"))
    return bar_chart("strengths", "Strength distribution", rows, [SHARE], maximum=1.0,
                     percent=True)


def safety_chart(judgements: QuerySet[Judgement]) -> Chart:
    pairs = (
        judgements.filter(skipped=False, comparison__axis=Axis.SAFETY)
        .values_list("chosen_safe", "rejected_safe")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[str, int] = {}
    for chosen_safe, rejected_safe, n in pairs:
        found = safety_bin(chosen_safe, rejected_safe)
        if found is not None:
            counts[found.value] = counts.get(found.value, 0) + n
    total = sum(counts.values())
    rows = [
        Row(bin_.label + (" *" if bin_ == EXCLUDED_BIN else ""),
            (counts.get(bin_.value, 0) / total if total else 0.0,),
            f"{counts.get(bin_.value, 0) / total:.0%} · {counts.get(bin_.value, 0):,}"
            if total else "0")
        for bin_ in SafetyBin
    ]
    return bar_chart("safety-bins", "Safety bins", rows, [SHARE], maximum=1.0, percent=True,
                     label_width=200)


AGREEMENT_ON = (
    ("choice", "Choice"),
    ("strength", "Strength"),
    ("choice_strength", "Choice and strength"),
)


def agreement_chart(report: dict[str, Any]) -> Chart:
    rows = [
        Row(label, (report["agreement"][on]["percent_agreement"] or 0.0,),
            _percent(report["agreement"][on]["percent_agreement"]))
        for on, label in AGREEMENT_ON
    ]
    return bar_chart("agreement", "Percent agreement on overlapped comparisons", rows, [SHARE],
                     maximum=1.0, percent=True, label_width=150)


def _kappa(value: float | None) -> str:
    return NONE if value is None else f"{value:.2f}"


def agreement_rows(report: dict[str, Any]) -> list[dict[str, str]]:
    """Percent agreement and kappas per attribute, as the table shows them."""
    rows = []
    for on, label in AGREEMENT_ON:
        figures = report["agreement"][on]
        rows.append({
            "label": label, "percent": _percent(figures["percent_agreement"]),
            "cohen": _kappa(figures["cohens_kappa"]), "pairs": str(figures["cohens_kappa_pairs"]),
            "fleiss": _kappa(figures["fleiss_kappa"]),
        })
    return rows


def quality_summary(report: dict[str, Any]) -> dict[str, str]:
    gold = report.get("gold") or {}
    median = report["seconds"]["median"]
    return {
        "overlapped": f"{report['overlapped_items']:,}",
        "weighted_kappa": _kappa(report["weighted_strength_kappa"]),
        "median": NONE if median is None else f"{median:.1f} s",
        "gold": (f"{gold['accuracy']:.0%} ({gold['correct']} of {gold['ratings']})"
                 if gold.get("accuracy") is not None else NONE),
    }


@dataclass(frozen=True)
class AnnotatorRow:
    username: str
    pseudonym: str
    judged: int
    skipped: int
    median_seconds: float | None
    gold_correct: int | None
    gold_total: int | None

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_total if self.gold_total else None

    @property
    def median_text(self) -> str:
        return NONE if self.median_seconds is None else f"{self.median_seconds:.1f} s"

    @property
    def gold_text(self) -> str:
        if not self.gold_total:
            return NONE
        return f"{self.gold_accuracy:.0%} ({self.gold_correct} of {self.gold_total})"


def annotator_rows(judgements: QuerySet[Judgement], report: dict[str, Any]) -> list[AnnotatorRow]:
    counts = list(
        judgements.values("annotator")
        .annotate(n_judged=Count("id", filter=Q(skipped=False)),
                  n_skipped=Count("id", filter=Q(skipped=True)))
        .order_by()
    )
    names = dict(
        get_user_model().objects.filter(pk__in=[row["annotator"] for row in counts])
        .values_list("pk", "username")
    )
    medians = report["seconds"]["per_rater"]
    gold = (report.get("gold") or {}).get("per_rater", {})
    rows = []
    for row in counts:
        alias = pseudonym(row["annotator"])
        score = gold.get(alias)
        rows.append(AnnotatorRow(
            username=names.get(row["annotator"], f"user {row['annotator']}"), pseudonym=alias,
            judged=row["n_judged"], skipped=row["n_skipped"], median_seconds=medians.get(alias),
            gold_correct=score["correct"] if score else None,
            gold_total=score["total"] if score else None,
        ))
    rows.sort(key=lambda r: (-r.judged, r.username))
    return rows


def throughput_chart(rows: list[AnnotatorRow]) -> Chart:
    shown = rows[:MAX_ANNOTATORS]
    return bar_chart(
        "throughput", "Judgements per annotator",
        [Row(_short(r.username), (r.judged, r.skipped), f"{r.judged:,} + {r.skipped:,}")
         for r in shown],
        [JUDGED, SKIPPED],
    )


def median_time_chart(rows: list[AnnotatorRow]) -> Chart:
    timed = [r for r in rows[:MAX_ANNOTATORS] if r.median_seconds is not None]
    return bar_chart(
        "median-time", "Median seconds per judgement",
        [Row(_short(r.username), (r.median_seconds,), f"{r.median_seconds:.1f} s")
         for r in timed],
        [Series("Median seconds", "bar-1")], whole=False,
    )


def gold_chart(rows: list[AnnotatorRow]) -> Chart:
    scored = [r for r in rows[:MAX_ANNOTATORS] if r.gold_total]
    return bar_chart(
        "gold", "Gold accuracy per annotator",
        [Row(_short(r.username), (r.gold_accuracy,),
             f"{r.gold_accuracy:.0%} · {r.gold_correct}/{r.gold_total}") for r in scored],
        [Series("Accuracy", "bar-1")], maximum=1.0, percent=True,
    )


def batch_dashboard(batch: Batch) -> dict[str, Any]:
    """Everything the batch page draws: progress per axis, charts, agreement, people."""
    judgements = Judgement.objects.filter(comparison__batch=batch)
    totals = judgements.aggregate(
        n_judged=Count("id", filter=Q(skipped=False)),
        n_skipped=Count("id", filter=Q(skipped=True)),
        n_flagged=Count("id", filter=Q(flagged_harmful=True)),
        n_annotators=Count("annotator", distinct=True),
        last=Max("id"),
    )
    report = batch_quality(batch)
    people = annotator_rows(judgements, report)
    today = timezone.localdate()
    return {
        "stamp": f"{totals['n_judged'] + totals['n_skipped']}-{totals['last'] or 0}",
        "progress": axis_progress(batch),
        "totals": totals,
        "quality": report,
        "agreement_rows": agreement_rows(report),
        "summary": quality_summary(report),
        "annotators": people,
        "charts": {
            "per_day": per_day_chart(judgements, today),
            "strengths": strength_chart(judgements),
            "safety": safety_chart(judgements),
            "agreement": agreement_chart(report),
            "throughput": throughput_chart(people),
            "median_time": median_time_chart(people),
            "gold": gold_chart(people),
        },
        "excluded_bin": EXCLUDED_BIN.label,
        "accepting": batch.is_accepting(),
        "window_over": batch.closes_at <= timezone.now(),
        "editable": batch.status in (BatchStatus.DRAFT, BatchStatus.SCHEDULED, BatchStatus.OPEN),
    }
