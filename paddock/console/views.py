"""The data manager's console: batches (create, schedule, import, open, close, export),
a dashboard per batch, reward-model accuracy across batches, and the background jobs.

Every page is server-rendered; ``paddock/console.js`` only polls: a batch's figures while
it takes judgements, and the progress of its import and export jobs.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from paddock.annotation.api.throttles import rate_words
from paddock.annotation.formats import FORMATS, GENERAL, example_file_name
from paddock.annotation.models import Batch, BatchStatus
from paddock.annotation.services import batches as batch_service
from paddock.annotation.services.assignment import max_open_leases
from paddock.annotation.services.authoring import GENERATION_USE_DAYS, generation_use
from paddock.annotation.services.batch_jobs import (
    LIVE_STATES,
    RUNNABLE,
    batch_export_start,
    batch_import_start,
)
from paddock.annotation.services.batches import EDITABLE, TRANSITIONS, BatchError
from paddock.annotation.services.export import export_path
from paddock.annotation.services.import_summary import import_summary
from paddock.console import dashboard
from paddock.console.forms import (
    OWN_FIELDS,
    BatchForm,
    ExportForm,
    ImportForm,
    RunPipelineForm,
    next_week_initial,
    preset_name,
    stored_overrides,
    stored_plan,
)
from paddock.console.reward_models import reward_model_table
from paddock.platform.accounts.access import data_manager_required
from paddock.platform.uploads import upload_display_name
from paddock.workers.models import (
    JOB_STATE_CHOICES,
    Job,
    JobState,
    PipelineRun,
    RunState,
    StepRun,
)
from paddock.workers.pipeline.plan import BY_NAME, STEPS

RECENT_JOBS = 10
ALL_JOBS = 200
ALL_STEPS = 100
# A pipeline step waiting for its turn (pending) is not yet work a worker has: like a job,
# it counts once it is queued.
LIVE_STEP_STATES = (RunState.QUEUED, RunState.RUNNING)
BATCH_JOBS = 10
BATCH_RUNS = 5
EXPORT_TASK = "annotation.export_batch"
IMPORT_TASK = "annotation.import_file"

# Console pages run one local script and no inline code or styles (the charts are SVG
# with classes, styled from console.css).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

# The buttons for each move, in the order shown; only moves the service allows appear.
MOVES = {
    BatchStatus.SCHEDULED: "Schedule",
    BatchStatus.OPEN: "Open now",
    BatchStatus.CLOSED: "Close now",
    BatchStatus.DRAFT: "Back to draft",
    BatchStatus.EXPORTED: "Mark as exported (final)",
}


def console_page(view):
    """Data managers only, with the console's Content-Security-Policy."""

    @data_manager_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if response.get("Content-Type", "").startswith("text/html"):
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response

    return wrapped


def _batch_jobs(batch: Batch, task_name: str) -> list[Job]:
    jobs = list(Job.objects.filter(task_name=task_name, kwargs__batch_id=batch.pk)[:BATCH_JOBS])
    for job in jobs:  # a finished export links to its file (console.js adds it live)
        job.download_url = _download_url(job)
    return jobs


def _download_url(job: Job) -> str | None:
    if job.task_name != EXPORT_TASK or job.state != JobState.SUCCEEDED:
        return None
    batch_id, kind = job.kwargs.get("batch_id"), job.kwargs.get("kind", "preferences")
    if batch_id is None or kind not in ("preferences", "raw"):
        return None
    return reverse("console:batch_export_file", args=[batch_id, kind])


# --- Overview and jobs -------------------------------------------------------------------


@console_page
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    batches = list(
        dashboard.batches_with_progress().filter(
            status__in=[BatchStatus.OPEN, BatchStatus.SCHEDULED, BatchStatus.DRAFT]
        )[:10]
    )
    _attach_counts(batches)
    jobs = Job.objects.select_related("created_by")[:RECENT_JOBS]
    return render(request, "console/home.html", {
        "batches": batches, "jobs": jobs, "active_count": _active_count(),
        "reward_models": reward_model_table(),
    })


@console_page
@require_GET
def jobs(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    found = Job.objects.select_related("created_by")
    if state in JobState.values:
        found = found.filter(state=state)
    return render(request, "console/jobs.html", {
        "jobs": found[:ALL_JOBS], "state": state, "states": JOB_STATE_CHOICES,
        "steps": _pipeline_steps(state if state in JobState.values else ""),
        "active_count": _active_count(),
        "generation_use": generation_use(), "generation_use_days": GENERATION_USE_DAYS,
        "prompt_rate": rate_words(), "open_prompts": max_open_leases(),
    })


def _imports_shown(batch: Batch) -> list:
    """The batch's newest imports under their uploaders' file names (imports recorded
    before the name was kept still carry the stored file's random prefix), each with its
    result in words."""
    imports = list(batch.imports.select_related("batch").order_by("-created_at")[:20])
    for item in imports:
        item.file_name = upload_display_name(Path(item.file_name))
        item.summary = import_summary(item)
    return imports


def _import_formats() -> list[dict]:
    """What the import form says about each kind of file, with its example's link."""
    return [{"format": found, "url": reverse("console:import_example", args=[kind]),
             "file_name": example_file_name(kind)} for kind, found in FORMATS.items()]


def _active_count() -> int:
    """Jobs and weekly-cycle steps a worker has or is about to take: a weekly cycle runs
    as pipeline steps, not jobs, and used to leave this at "0 queued or running"."""
    return (Job.objects.filter(state__in=LIVE_STATES).count()
            + StepRun.objects.filter(state__in=LIVE_STEP_STATES).count())


def _pipeline_steps(state: str) -> list[StepRun]:
    """The weekly cycles' steps that were sent to a worker, newest run first and each
    run's steps in order; pending steps are the run page's business."""
    found = (StepRun.objects.exclude(state=RunState.PENDING).select_related("pipeline__batch")
             .order_by("-pipeline__created_at", "position"))
    if state:
        found = found.filter(state=state)
    steps = list(found[:ALL_STEPS])
    for step in steps:
        spec = BY_NAME.get(step.step)
        step.title = spec.title if spec else step.step
    return steps


@console_page
@require_GET
def job_progress(request: HttpRequest, job_id: uuid.UUID) -> JsonResponse:
    """What console.js polls while a job is queued or running."""
    job = get_object_or_404(Job, pk=job_id)
    payload = {
        "state": job.state, "state_label": job.get_state_display(), "progress": job.progress,
        "message": job.message, "live": job.state in LIVE_STATES, "download_url": None,
    }
    payload["download_url"] = _download_url(job)
    if payload["download_url"]:
        payload["records"] = (job.result or {}).get("records")
    return JsonResponse(payload)


# --- Batches -------------------------------------------------------------------------------


def _attach_counts(batches: list[Batch]) -> None:
    counts = dashboard.judgement_counts(batches)
    for batch in batches:
        found = counts.get(batch.pk, {"judged": 0, "skipped": 0})
        batch.n_judged, batch.n_skipped = found["judged"], found["skipped"]


@console_page
@require_GET
def batch_list(request: HttpRequest) -> HttpResponse:
    batches = list(dashboard.batches_with_progress())
    _attach_counts(batches)
    return render(request, "console/batches.html", {"batches": batches})


@console_page
@require_http_methods(["GET", "POST"])
def batch_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = BatchForm(request.POST)
        then = request.POST.get("then", BatchStatus.DRAFT)
        if form.is_valid():
            batch = batch_service.batch_create(values=form.batch_values(),
                                               created_by=request.user,
                                               schedule=then == BatchStatus.SCHEDULED)
            status = batch.get_status_display().lower()
            messages.success(request, f"Batch {batch.name} created ({status}). Import prompts "
                                      "or pairs, then open it.")
            return redirect("console:batch", batch_id=batch.pk)
    else:
        form = BatchForm(initial=next_week_initial())
    return render(request, "console/batch_form.html", {"form": form, "batch": None})


@console_page
@require_http_methods(["GET", "POST"])
def batch_edit(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(Batch, pk=batch_id)
    if request.method == "GET" and batch.status not in EDITABLE:
        messages.error(request, f"Batch {batch.name} is {batch.get_status_display().lower()}: "
                                "its settings are final.")
        return redirect("console:batch", batch_id=batch.pk)
    form = BatchForm(request.POST or None, instance=batch)
    if request.method == "POST" and form.is_valid():
        try:
            batch = batch_service.batch_edit(batch=batch, values=form.batch_values())
        except BatchError as error:
            messages.error(request, f"Not saved: {error}.")
        else:
            messages.success(request, f"Batch {batch.name} saved.")
        return redirect("console:batch", batch_id=batch.pk)
    return render(request, "console/batch_form.html", {"form": form, "batch": batch})


@console_page
@require_GET
def batch_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(Batch.objects.select_related("created_by"), pk=batch_id)
    moves = [(to, label) for to, label in MOVES.items() if to in TRANSITIONS[batch.status]]
    exports = []
    for kind in ("preferences", "raw"):
        path = export_path(batch, kind)
        if path.exists():
            stat = path.stat()
            exports.append({
                "kind": kind, "name": path.name, "bytes": stat.st_size,
                "finished": datetime.fromtimestamp(stat.st_mtime, tz=UTC),
                "url": reverse("console:batch_export_file", args=[batch.pk, kind]),
            })
    runs = list(PipelineRun.objects.filter(batch=batch)[:BATCH_RUNS])
    plan, plan_error = stored_plan(batch)
    others = {k: v for k, v in stored_overrides(batch).items() if k not in OWN_FIELDS}
    return render(request, "console/batch.html", {
        "plan": plan,
        "plan_error": plan_error,
        "plan_steps": [step.title for step in STEPS
                       if step.optional and plan["steps"].get(step.name)],
        "plan_overrides": json.dumps(others, sort_keys=True) if others else "",
        "run_form": RunPipelineForm(initial={"preset": preset_name(batch)},
                                    auto_id="run_%s"),
        "batch": batch,
        "moves": moves,
        "data": dashboard.batch_dashboard(batch),
        "imports": _imports_shown(batch),
        "import_jobs": _batch_jobs(batch, IMPORT_TASK),
        "export_jobs": _batch_jobs(batch, EXPORT_TASK),
        "exports": exports,
        "runs": runs,
        "active_run": next((run for run in runs if run.is_active), None),
        "can_run": batch.status in RUNNABLE,
        # Both forms have a "kind": distinct ids keep each label on its own field.
        "import_form": ImportForm(auto_id="import_%s"),
        "import_formats": _import_formats(),
        "import_rules": GENERAL,
        "export_form": ExportForm(auto_id="export_%s"),
    })


@console_page
@require_GET
def batch_live(request: HttpRequest, batch_id: int) -> HttpResponse:
    """The batch's figures alone: console.js swaps them in when the stamp changed."""
    batch = get_object_or_404(Batch, pk=batch_id)
    if request.GET.get("stamp_only") == "1":
        return JsonResponse({"stamp": dashboard.live_stamp(batch)})
    return render(request, "console/_batch_live.html", {
        "batch": batch, "data": dashboard.batch_dashboard(batch),
    })


@console_page
@require_POST
def batch_move_view(request: HttpRequest, batch_id: int) -> HttpResponse:
    """Open, close, schedule or unschedule by hand: the moves the batch service allows
    (:func:`~paddock.annotation.services.batches.batch_status_set` says what opening by
    hand means)."""
    batch = get_object_or_404(Batch, pk=batch_id)
    to = request.POST.get("to", "")
    if to not in BatchStatus.values:
        messages.error(request, f"Unknown status {to!r}.")
        return redirect("console:batch", batch_id=batch.pk)
    try:
        batch = batch_service.batch_status_set(batch=batch, to=to)
    except BatchError as error:
        messages.error(request, f"Not changed: {error}.")
    else:
        messages.success(request, f"Batch {batch.name} is {batch.get_status_display().lower()}.")
    return redirect("console:batch", batch_id=batch.pk)


@console_page
@require_POST
def batch_import(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(Batch, pk=batch_id)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        errors = "; ".join(f"{form.fields[f].label if f in form.fields else 'form'}: "
                           f"{' '.join(e)}" for f, e in form.errors.items())
        messages.error(request, f"Nothing imported: {errors}")
        return redirect(reverse("console:batch", args=[batch.pk]) + "#imports")
    data = form.cleaned_data
    batch_import_start(batch=batch, upload=data["file"], kind=data["kind"],
                       dataset=data["dataset"], axis=data["axis"], requested_by=request.user)
    messages.success(request, f"Importing {data['file'].name}: its progress is shown below.")
    return redirect(reverse("console:batch", args=[batch.pk]) + "#imports")


@console_page
@require_GET
def import_example(request: HttpRequest, kind: str) -> FileResponse:
    """A small example file of one import kind, shipped with paddock, to start from."""
    found = FORMATS.get(kind)
    if found is None:
        raise Http404("No such import kind.")
    return FileResponse(open(found.example_path, "rb"), as_attachment=True,
                        filename=example_file_name(kind), content_type="application/jsonl")


@console_page
@require_POST
def batch_export(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(Batch, pk=batch_id)
    form = ExportForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose what to export.")
        return redirect(reverse("console:batch", args=[batch.pk]) + "#exports")
    kind = form.cleaned_data["kind"]
    started = batch_export_start(batch=batch, kind=kind, requested_by=request.user)
    if not started.created:
        messages.info(request, f"An export of {kind} is already queued or running.")
    else:
        messages.success(request, f"Exporting {kind}: the download link appears when it is done.")
    return redirect(reverse("console:batch", args=[batch.pk]) + "#exports")


@console_page
@require_GET
def batch_export_file(request: HttpRequest, batch_id: int, kind: str) -> FileResponse:
    batch = get_object_or_404(Batch, pk=batch_id)
    if kind not in ("preferences", "raw"):
        raise Http404("No such export.")
    path = export_path(batch, kind)
    if not path.exists():
        raise Http404("No finished export yet.")
    return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name)
