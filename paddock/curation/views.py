"""The data manager's curation pages: sources, runs, drop reasons, site overrides."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from paddock.curation.core.config import CurationConfig, ExportConfig
from paddock.curation.core.near_dedup import NearDedupConfig
from paddock.curation.core.sites import PiiFilterConfig
from paddock.curation.forms import DomainRuleForm, IngestForm, RunForm
from paddock.curation.models import (
    PII_TYPE_LABELS,
    PROBLEM_KIND_LABELS,
    SITE_DECISION_LABELS,
    CurationRun,
    DomainAction,
    DomainRule,
    DropReason,
    RunStatus,
    Source,
    Stage,
)
from paddock.curation.services import actions, drop_search, runs
from paddock.curation.services.actions import CurationActionError
from paddock.platform.accounts.access import data_manager_required

DROPS_PER_PAGE = 50
TOP_SITES = 25

# The run's parameters as people read them: (section, key) -> (label, what it means). The
# stored config keeps its code names (it is the export manifest's); a key missing here is
# still shown, under its code name, so a new parameter is never hidden.
PARAMETER_SECTIONS = {
    "quality": "Quality gate",
    "near_dedup": "Near-duplicate detection",
    "pii": "Personal-information sites",
    "export": "Export",
}
PARAMETERS = {
    ("quality", "min_words"): ("Minimum words", "fewer: dropped as too short (none: empty)"),
    ("quality", "max_chars"): ("Maximum characters", "more: dropped as too long"),
    ("near_dedup", "threshold"): (
        "Duplicate similarity", "word-shingle Jaccard similarity at or above which two "
        "documents are near duplicates"),
    ("near_dedup", "candidate_threshold"): (
        "Candidate similarity", "the MinHash bands are tuned to find pairs from here"),
    ("near_dedup", "shingle_size"): ("Words per shingle", ""),
    ("near_dedup", "num_perm"): ("MinHash permutations", ""),
    ("near_dedup", "bands"): ("MinHash bands", "derived from the candidate similarity"),
    ("near_dedup", "rows"): ("Rows per band", "derived from the candidate similarity"),
    ("near_dedup", "seed"): ("MinHash seed", ""),
    ("near_dedup", "shard_documents"): (
        "Documents per task", "splits the work; the result does not depend on it"),
    ("near_dedup", "shingle_scheme"): ("Shingle scheme", ""),
    ("near_dedup", "cluster_mode"): (
        "Clusters", "connected: a chain of near duplicates is one cluster; star: a document "
        "goes only when it is near an earlier kept one"),
    ("near_dedup", "permutation_scheme"): ("Permutation scheme", ""),
    ("pii", "rate_threshold"): (
        "Exclusion rate", "detections per 1,000 words above which a site is excluded"),
    ("pii", "min_documents"): (
        "Documents a site needs", "sites with fewer are never excluded by rate"),
    ("pii", "prior_words"): (
        "Smoothing words", "a site's rate is pulled toward the typical rate until it has "
        "about this many words"),
    ("pii", "prior_rate"): ("Typical rate", "detections per 1,000 words on ordinary sites"),
    ("pii", "detectors"): ("Detectors", ""),
    ("export", "source_weights"): (
        "Up-sampling weights", "copies exported per document; sources not named: 1"),
    ("export", "shard_records"): ("Records per shard", "about"),
    ("export", "seed"): ("Export seed", "fractional weights and shards derive from it"),
}


@data_manager_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "curation/home.html",
        {
            "sources": Source.objects.all(),
            "runs": CurationRun.objects.select_related("created_by")[:50],
            "rules": DomainRule.objects.all(),
            "ingest_form": IngestForm(),
            "run_form": RunForm(),
            "rule_form": DomainRuleForm(),
        },
    )


@data_manager_required
@require_POST
def ingest(request: HttpRequest) -> HttpResponse:
    form = IngestForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        fields = {"name": data["name"], "fmt": data["format"], "text_field": data["text_field"],
                  "url_field": data["url_field"], "requested_by": request.user}
        try:
            if data["file"]:
                job = actions.source_upload_ingest_start(upload=data["file"], **fields)
            else:
                job = actions.source_ingest_start(path=data["path"], **fields)
        except CurationActionError as error:
            form.add_error("file" if data["file"] else "path", str(error))
    if not form.is_valid():
        messages.error(request, "Ingest not started: " + _errors(form))
        return redirect("curation:home")
    shown = data["file"].name if data["file"] else job.kwargs["path"]
    messages.success(request, f"Ingesting {shown}: follow it under Background jobs in the console.")
    return redirect("curation:home")


@data_manager_required
@require_POST
def run_create(request: HttpRequest) -> HttpResponse:
    form = RunForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Run not created: " + _errors(form))
        return redirect("curation:home")
    data = form.cleaned_data
    threshold = data["threshold"]
    config = CurationConfig(
        near_dedup=NearDedupConfig(
            threshold=threshold, candidate_threshold=min(threshold, 0.55)
        ),
        pii=PiiFilterConfig(
            rate_threshold=data["pii_threshold"], min_documents=data["pii_min_documents"]
        ),
        export=ExportConfig(source_weights=data["weights"]),
    )
    chosen = request.POST.getlist("sources")  # in the order the manager ticked them
    ordered = sorted(data["sources"], key=lambda source: chosen.index(str(source.pk)))
    run = runs.run_create(
        name=data["name"], sources=ordered, config=config, created_by=request.user
    )
    return redirect("curation:run", run_id=run.pk)


@data_manager_required
@require_POST
def run_start(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(CurationRun, pk=run_id)
    if not actions.curation_run_start(run=run, requested_by=request.user).created:
        messages.info(request, "This run is already queued or running.")
    return redirect("curation:run", run_id=run.pk)


@data_manager_required
@require_GET
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(CurationRun, pk=run_id)
    query = request.GET.get("q", "").strip()
    reason = request.GET.get("reason", "")
    drops = run.drops.select_related("source").order_by("source_id", "position")
    if reason in DropReason.values:
        drops = drops.filter(reason=reason)
    search = None
    if query:
        search = drop_search.text_matches(drops, query)
        drops = drops.filter(
            Q(url__icontains=query) | Q(domain__icontains=query) | search.as_q()
        )
    page = Paginator(drops, DROPS_PER_PAGE).get_page(request.GET.get("page"))
    drop_search.attach_snippets(page.object_list)
    rules = dict(DomainRule.objects.values_list("domain", "action"))
    sites = list(run.sites.order_by("-rate", "domain")[:TOP_SITES])
    for site in sites:
        site.rule = DomainAction(rules[site.domain]).label if site.domain in rules else ""
        site.decision = SITE_DECISION_LABELS.get(site.reason, site.reason)
        site.found = [(PII_TYPE_LABELS.get(name, name), n) for name, n in site.detectors.items()
                      if n]
    labels = dict(DropReason.choices)
    return render(
        request,
        "curation/run.html",
        {
            "run": run,
            "stage_label": _stage_label(run.stage),
            "parameters": parameter_rows(runs.run_config(run).as_dict()),
            "sources": [rs.source for rs in run.runsource_set.select_related("source")],
            "drop_counts": [(reason, labels.get(reason, reason), count)
                            for reason, count in runs.drop_counts(run).items()],
            "reasons": DropReason.choices,
            "sites": sites,
            "page": page,
            "query": query,
            "search": search,
            "reason": reason,
            "live": run.status in (RunStatus.QUEUED, RunStatus.RUNNING),
        },
    )


@data_manager_required
@require_GET
def run_progress(request: HttpRequest, run_id: int) -> JsonResponse:
    run = get_object_or_404(CurationRun, pk=run_id)
    return JsonResponse(
        {
            "status": run.status, "status_label": run.get_status_display(),
            "stage": run.stage, "stage_label": _stage_label(run.stage),
            "progress": run.progress, "message": run.message, "stage_counts": run.stage_counts,
        }
    )


@data_manager_required
@require_GET
def source_problems(request: HttpRequest, source_id: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=source_id)
    page = Paginator(source.problem_set.order_by("id"), 100).get_page(request.GET.get("page"))
    for problem in page:
        problem.kind_label = PROBLEM_KIND_LABELS.get(problem.kind, problem.kind.replace("_", " "))
    return render(request, "curation/problems.html", {"source": source, "page": page})


@data_manager_required
@require_POST
def domain_rule_set(request: HttpRequest) -> HttpResponse:
    form = DomainRuleForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        rule = actions.domain_rule_set(domain=data["domain"], action=data["action"],
                                       note=data["note"], created_by=request.user)
        messages.success(request, f"{rule.domain}: {rule.action} (applies from the next run)")
    else:
        messages.error(request, "Rule not saved: " + _errors(form))
    return _back(request)


@data_manager_required
@require_POST
def domain_rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(DomainRule, pk=rule_id)
    rule.delete()
    messages.success(request, f"Rule for {rule.domain} removed.")
    return _back(request)


def parameter_rows(config: dict) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """A run's config as sections of (label, value, meaning) rows: the stored JSON is one
    line thousands of pixels wide, and its names are code names."""
    sections = []
    for section, values in config.items():
        rows = []
        for key, value in _flattened(values):
            label, meaning = PARAMETERS.get((section, key), (key.replace("_", " "), ""))
            rows.append((label, _parameter_value(section, key, value), meaning))
        sections.append((PARAMETER_SECTIONS.get(section, section), rows))
    return sections


def _flattened(values: dict, prefix: str = ""):
    """(key, value) pairs with nested settings (the quality filters' sub-configs) as
    "gopher_quality.min_doc_words"; a mapping of numbers (source weights) stays whole."""
    for key, value in values.items():
        if isinstance(value, dict) and not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
        ):
            yield from _flattened(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _parameter_value(section: str, key: str, value) -> str:
    if key == "detectors":
        return ", ".join(PII_TYPE_LABELS.get(name, name) for name in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{name}: {weight:g}" for name, weight in value.items()) or "none"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,g}"


def _stage_label(stage: str) -> str:
    return Stage(stage).label if stage in Stage.values else stage.replace("_", " ")


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return redirect(target)
    return redirect(reverse("curation:home"))


def _errors(form) -> str:
    return "; ".join(
        f"{field if field != '__all__' else 'form'}: {' '.join(errors)}"
        for field, errors in form.errors.items()
    )
