"""The weekly pipeline runs in the console ("Training"): every run with its steps, live
while it is active, and what a data manager does to one: start it, cancel it, re-run it
from a step.

The services in :mod:`paddock.workers.pipeline.service` do the work and send the Celery
tasks once the request's transaction commits; these views only call them and show the
rows, which are the truth (Redis only carries the messages).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from paddock.annotation.models import Batch
from paddock.annotation.services.batch_jobs import batch_pipeline_start
from paddock.annotation.services.batches import BatchError
from paddock.console.forms import RunPipelineForm
from paddock.console.views import console_page
from paddock.workers.models import (
    ACTIVE_RUN_STATES,
    DONE_STEP_STATES,
    PipelineRun,
    RunState,
    StepRun,
)
from paddock.workers.pipeline.plan import BY_NAME, PRESET_TITLES, STEPS, preset_of
from paddock.workers.pipeline.service import (
    PipelineError,
    pipeline_cancel,
    pipeline_rerun,
)

NONE = "\N{EN DASH}"
ALL_RUNS = 100
MAX_METRICS = 6  # a step's result can carry many metrics: the page shows the first few
# Figures worth a glance in a finished step's result, in the order shown.
RESULT_FIGURES = (
    ("version", "Version"), ("previous", "Previous policy"), ("from", "From policy"),
    ("judgements", "Judgements"), ("prompt_count", "Prompts"), ("imported", "Pairs imported"),
    ("problems", "Import problems"), ("next_batch_name", "Next batch"), ("status", "Batch"),
)
RM_LABELS = {"helpfulness": "Helpfulness RM accuracy", "safety": "Safety RM accuracy"}


def duration_text(start: datetime | None, end: datetime | None) -> str:
    """Wall time from ``start`` to ``end`` (to now while it is still going)."""
    if start is None:
        return NONE
    seconds = max(0, int(((end or timezone.now()) - start).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {seconds:02d} s"
    return f"{seconds} s"


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return str(value) if isinstance(value, int) else f"{value:.4g}"


# Metric keys the trainers write (paddock.training.*.metrics), said as a person would,
# with the unit the value is in; any other key reads as its words ("kl" -> "KL").
METRIC_LABELS = {
    "steps": ("Steps done", ""), "total_steps": ("Steps planned", ""),
    "final_loss": ("Final loss", ""), "mean_loss_last_10_steps": ("Mean loss, last 10 steps", ""),
    "seconds": ("Training time", " s"), "pairs": ("Pairs", ""), "reward": ("Mean reward", ""),
    "kl": ("KL divergence", ""), "accuracy": ("Accuracy", ""), "device": ("Device", ""),
    "eta_seconds": ("ETA", " s"), "total": ("Total", ""),
}
ACRONYMS = {"kl": "KL", "rm": "RM", "ppo": "PPO", "sft": "SFT", "lr": "LR", "eta": "ETA"}


def metric_label(key: str) -> tuple[str, str]:
    """A trainer's metric key as a label and the unit its value is in: managers read
    "Mean loss, last 10 steps", not ``mean_loss_last_10_steps``."""
    if key in METRIC_LABELS:
        return METRIC_LABELS[key]
    words = [ACRONYMS.get(word, word) for word in key.split("_") if word]
    unit = " s" if words and words[-1] == "seconds" else ""
    text = " ".join(words) or key
    return text[:1].upper() + text[1:], unit


def _lower_first(label: str) -> str:
    """"Mean loss" inside a sentence is "mean loss"; "KL divergence" stays as it is."""
    return label if label[1:2].isupper() else label[:1].lower() + label[1:]


def _flat_metrics(metrics: dict, prefix: str = "") -> list[tuple[str, str]]:
    found = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            group = ACRONYMS.get(key, key.replace("_", " ").capitalize())
            found += _flat_metrics(value, f"{prefix}{group}: ")
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            label, unit = metric_label(key)
            shown = f"{prefix}{_lower_first(label)}" if prefix else label
            found.append((shown, _number(value) + unit))
    return found


def log_lines(text: str) -> str:
    """A step's log as lines a person reads: the trainers print one JSON object per line
    (``{"event": "progress", "step": 3, "loss": 0.52}``), shown here as
    "progress: step 3, loss 0.52"; other lines stay as printed."""
    lines = []
    for line in (text or "").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            lines.append(line)
            continue
        if not isinstance(record, dict):
            lines.append(line)
            continue
        event = str(record.pop("event", "")).replace("_", " ")
        parts = []
        for key, value in record.items():
            label, unit = metric_label(key)
            if value is None:
                shown, unit = NONE, ""
            elif isinstance(value, dict | list):
                shown = json.dumps(value)
            else:
                shown = _number(value)
            parts.append(f"{_lower_first(label)} {shown}{unit}")
        lines.append(f"{event}: {', '.join(parts)}" if event else ", ".join(parts))
    return "\n".join(lines)


def result_figures(result: Any) -> list[tuple[str, str]]:
    """The few figures of a step's result a manager reads: the model version it made,
    the RMs' held-out accuracy, its counts and its first metrics. Paths and file lists
    stay in the JSON (and the log)."""
    if not isinstance(result, dict):
        return []
    figures = [(label, _number(result[key])) for key, label in RESULT_FIGURES
               if result.get(key) not in (None, "", [], {})]
    for rm, label in RM_LABELS.items():  # evaluate_rms: {"helpfulness": {"accuracy": ..}}
        found = result.get(rm)
        if isinstance(found, dict) and found.get("accuracy") is not None:
            figures.append((label, f"{found['accuracy']:.1%} on {found.get('pairs', '?')} "
                                   "held-out pairs"))
        elif isinstance(found, dict) and found.get("skipped"):
            figures.append((label, f"not measured: {found['skipped']}"))
    if isinstance(result.get("metrics"), dict):
        figures += _flat_metrics(result["metrics"])[:MAX_METRICS]
    return figures


def _decorate_steps(steps: list[StepRun]) -> list[StepRun]:
    for step in steps:
        spec = BY_NAME.get(step.step)
        step.title = spec.title if spec else step.step
        step.duration = duration_text(step.started_at, step.finished_at)
        step.figures = result_figures(step.result) if step.state == RunState.SUCCEEDED else []
        step.log_text = log_lines(step.log_tail)
        step.live = step.state in ACTIVE_RUN_STATES
    return steps


def current_step(run: PipelineRun, steps: list[StepRun]) -> StepRun | None:
    """The step a run is at: the first one not done while it is active, the one that
    failed or was cancelled once it stopped; None for a run that finished."""
    if run.is_active:
        return next((s for s in steps if s.state not in DONE_STEP_STATES), None)
    return next((s for s in steps if s.state in (RunState.FAILED, RunState.CANCELLED)), None)


def preset_text(plan: dict | None) -> str:
    """The preset a run's stored plan was made from, as its page names it."""
    name = preset_of(plan if isinstance(plan, dict) else None)
    if name is None:
        return "none (a plan from before presets)"
    return name


def _run_context(run: PipelineRun) -> dict[str, Any]:
    steps = _decorate_steps(list(run.steps.order_by("position")))
    at = current_step(run, steps)
    return {"run": run, "steps": steps, "current": at,
            "duration": duration_text(run.started_at or run.created_at, run.finished_at)}


# --- Pages -------------------------------------------------------------------------------


@console_page
@require_GET
def run_list(request: HttpRequest) -> HttpResponse:
    runs = list(
        PipelineRun.objects.select_related("batch", "created_by")
        .prefetch_related(Prefetch("steps", queryset=StepRun.objects.order_by("position")))
        [:ALL_RUNS]
    )
    for run in runs:
        steps = list(run.steps.all())
        at = current_step(run, steps)
        run.current_title = BY_NAME[at.step].title if at and at.step in BY_NAME else NONE
        run.done_steps = sum(s.state in DONE_STEP_STATES for s in steps)
        run.step_count = len(steps)
        run.duration = duration_text(run.started_at or run.created_at, run.finished_at)
        run.preset = preset_of(run.plan) or NONE
    return render(request, "console/runs.html", {
        "runs": runs,
        "active_count": sum(run.is_active for run in runs),
    })


@console_page
@require_GET
def run_detail(request: HttpRequest, run_id: uuid.UUID) -> HttpResponse:
    run = get_object_or_404(PipelineRun.objects.select_related("batch", "next_batch",
                                                               "created_by"), pk=run_id)
    context = _run_context(run)
    context["preset"] = preset_text(run.plan)
    context["preset_title"] = PRESET_TITLES.get(preset_of(run.plan) or "", "")
    # Re-running a failed run usually starts at the step that stopped it.
    context["rerun_steps"] = [(spec.name, spec.title) for spec in STEPS]
    context["rerun_default"] = context["current"].step if context["current"] else STEPS[0].name
    return render(request, "console/run.html", context)


@console_page
@require_GET
def run_live(request: HttpRequest, run_id: uuid.UUID) -> HttpResponse:
    """The steps alone: console.js polls this while the run is active and swaps it in."""
    run = get_object_or_404(PipelineRun, pk=run_id)
    return render(request, "console/_run_steps.html", _run_context(run))


# --- Actions -----------------------------------------------------------------------------


@console_page
@require_POST
def batch_run_pipeline(request: HttpRequest, batch_id: int) -> HttpResponse:
    """The batch page's "Run the weekly cycle now". Its first step closes the batch, so an
    open batch stops taking judgements; a batch with an active run gets no second one."""
    batch = get_object_or_404(Batch, pk=batch_id)
    preset = None
    if "preset" in request.POST:  # the form's choice; without it, the batch's own plan
        form = RunPipelineForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Not started: "
                           + " ".join(" ".join(errors) for errors in form.errors.values()))
            return redirect(reverse("console:batch", args=[batch.pk]) + "#training")
        preset = form.cleaned_data["preset"]
    try:
        started = batch_pipeline_start(batch=batch, preset=preset, requested_by=request.user)
    except BatchError as error:
        messages.error(request, f"Not started: {error}.")
        return redirect(reverse("console:batch", args=[batch.pk]) + "#training")
    run = started.run
    if not started.created:
        messages.info(request, f"Batch {batch.name} already has a run going: here it is.")
        return redirect("console:run", run_id=run.pk)
    messages.success(request, f"Weekly cycle of {batch.name} started: its steps run on the "
                              "workers and show here as they go.")
    return redirect("console:run", run_id=run.pk)


@console_page
@require_POST
def run_cancel(request: HttpRequest, run_id: uuid.UUID) -> HttpResponse:
    run = get_object_or_404(PipelineRun, pk=run_id)
    if not run.is_active:
        messages.info(request, f"This run is already {run.get_state_display().lower()}.")
    else:
        pipeline_cancel(run)
        messages.success(request, "Run cancelled: steps not started will not start, and a "
                                  "running step's worker was told to stop it.")
    return redirect("console:run", run_id=run.pk)


@console_page
@require_POST
def run_rerun(request: HttpRequest, run_id: uuid.UUID) -> HttpResponse:
    run = get_object_or_404(PipelineRun.objects.select_related("batch"), pk=run_id)
    from_step = request.POST.get("from_step", "")
    try:
        new = pipeline_rerun(run, from_step=from_step, user=request.user)
    except PipelineError as error:
        messages.error(request, f"Not re-run: {error}.")
        return redirect("console:run", run_id=run.pk)
    # A step of a parallel group re-runs its whole group: name where it really starts.
    start = new.steps.filter(state=RunState.QUEUED).order_by("position").first()
    title = BY_NAME[start.step].title if start else BY_NAME[from_step].title
    messages.success(request, f"Re-running from \N{LEFT DOUBLE QUOTATION MARK}{title}"
                              "\N{RIGHT DOUBLE QUOTATION MARK}: the steps before it reuse "
                              "this run's results.")
    return redirect("console:run", run_id=new.pk)
