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
    CurationRun,
    DomainRule,
    DropReason,
    RunStatus,
    Source,
)
from paddock.curation.services import actions, runs
from paddock.curation.services.actions import CurationActionError
from paddock.platform.accounts.access import data_manager_required

DROPS_PER_PAGE = 50
TOP_SITES = 25


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
    form = IngestForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            job = actions.source_ingest_start(
                path=data["path"], name=data["name"], fmt=data["format"],
                text_field=data["text_field"], url_field=data["url_field"],
                requested_by=request.user,
            )
        except CurationActionError as error:
            form.add_error("path", str(error))
    if not form.is_valid():
        messages.error(request, "Ingest not started: " + _errors(form))
        return redirect("curation:home")
    path = job.kwargs["path"]
    messages.success(request, f"Ingesting {path}: follow it under Background jobs in the console.")
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
    drops = run.drops.select_related("document__source", "duplicate_of").order_by("document_id")
    if reason in DropReason.values:
        drops = drops.filter(reason=reason)
    if query:
        drops = drops.filter(
            Q(document__url__icontains=query) | Q(document__domain__icontains=query)
            | Q(document__text__icontains=query)
        )
    page = Paginator(drops, DROPS_PER_PAGE).get_page(request.GET.get("page"))
    rules = dict(DomainRule.objects.values_list("domain", "action"))
    sites = list(run.sites.order_by("-rate", "domain")[:TOP_SITES])
    for site in sites:
        site.rule = rules.get(site.domain, "")
    return render(
        request,
        "curation/run.html",
        {
            "run": run,
            "config": runs.run_config(run),
            "sources": [rs.source for rs in run.runsource_set.select_related("source")],
            "drop_counts": runs.drop_counts(run),
            "reasons": DropReason.choices,
            "sites": sites,
            "page": page,
            "query": query,
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
            "status": run.status, "stage": run.stage, "progress": run.progress,
            "message": run.message, "stage_counts": run.stage_counts,
        }
    )


@data_manager_required
@require_GET
def source_problems(request: HttpRequest, source_id: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=source_id)
    page = Paginator(source.problem_set.order_by("id"), 100).get_page(request.GET.get("page"))
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
