"""The judgement browser's pages: a batch's judgements filtered and paged, one judgement
with its comparison, and the review/exclude form.

Thin over :mod:`paddock.annotation.services.judgement_browser`, which the API calls too;
``paddock/judgements.js`` adds the keys (j/k, Enter, n/p, r, x, Esc).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from paddock.annotation.models import Axis, Batch, Judgement, MarkState, Strength
from paddock.annotation.services import judgement_browser as browser
from paddock.console.views import console_page
from paddock.platform.accounts.models import Role, User

MARK_BUTTONS = {MarkState.REVIEW: "Mark for review", MarkState.EXCLUDED: "Exclude from export",
                MarkState.NONE: "Restore (remove the mark)"}


def _query(filters: browser.Filters, **extra) -> str:
    params = {**filters.query(), **{k: v for k, v in extra.items() if v is not None}}
    return f"?{urlencode(params)}" if params else ""


def _choices() -> dict:
    """The options of the filter form (annotators: everyone with the annotator role, so
    the form never scans the judgements to list them)."""
    return {
        "annotators": list(User.objects.filter(role=Role.ANNOTATOR).order_by("username")
                           .values_list("username", flat=True)),
        "axes": Axis.choices, "strengths": Strength.choices,
        "agreements": browser.AGREEMENT.items(), "golds": browser.GOLD.items(),
        "yes_no": browser.YES_NO.items(), "reviews": browser.REVIEW.items(),
    }


@console_page
@require_GET
def judgement_list(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(Batch, pk=batch_id)
    error, page, filters = "", None, browser.Filters()
    try:
        filters = browser.filters_from(request.GET)
        page = browser.judgement_page(batch, filters, after=request.GET.get("after"),
                                      before=request.GET.get("before"))
    except browser.BrowserError as refused:
        error = refused.message
    base = reverse("console:judgements", args=[batch.pk])
    context = {
        "batch": batch, "page": page, "filters": filters, "error": error,
        "query": _query(filters), "choices": _choices(),
        "next_url": page and page.next_after and base + _query(filters, after=page.next_after),
        "previous_url": page and page.previous_before and base + _query(
            filters, before=page.previous_before),
    }
    return render(request, "console/judgements.html", context, status=400 if error else 200)


def _detail_or_404(batch: Batch, judgement_id: int) -> dict:
    try:
        return browser.judgement_detail(batch, judgement_id)
    except (Judgement.DoesNotExist, browser.WrongBatch):
        raise Http404("No such judgement in this batch.") from None


@console_page
@require_GET
def judgement_detail(request: HttpRequest, batch_id: int, judgement_id: int) -> HttpResponse:
    batch = get_object_or_404(Batch, pk=batch_id)
    try:
        filters = browser.filters_from(request.GET)
    except browser.BrowserError:
        filters = browser.Filters()
    detail = _detail_or_404(batch, judgement_id)
    beside = browser.neighbours(batch, filters, judgement_id)
    query = _query(filters)

    def link(other: int | None) -> str | None:
        if other is None:
            return None
        return reverse("console:judgement", args=[batch.pk, other]) + query

    moves = [(state, label) for state, label in MARK_BUTTONS.items()
             if state != (detail["mark"] or MarkState.NONE)]
    return render(request, "console/judgement.html", {
        "batch": batch, "j": detail, "query": query, "filters": filters,
        "older_url": link(beside["older"]), "newer_url": link(beside["newer"]),
        "list_url": reverse("console:judgements", args=[batch.pk]) + query,
        "moves": moves,
    })


@console_page
@require_POST
def judgement_mark(request: HttpRequest, batch_id: int, judgement_id: int) -> HttpResponse:
    batch = get_object_or_404(Batch, pk=batch_id)
    back = reverse("console:judgement", args=[batch.pk, judgement_id])
    back += request.POST.get("query", "") if request.POST.get("query", "").startswith("?") else ""
    try:
        marked = browser.judgement_mark(judgement=judgement_id, state=request.POST.get("state", ""),
                                        reason=request.POST.get("reason", ""), by=request.user,
                                        batch=batch)
    except Judgement.DoesNotExist:
        raise Http404("No such judgement.") from None
    except (browser.MarkRefused, browser.WrongBatch) as error:
        messages.error(request, f"Not marked: {error.message}")
        if isinstance(error, browser.WrongBatch):
            return redirect("console:judgements", batch_id=batch.pk)
        return redirect(back)
    label = marked.mark.get_state_display().lower()
    if not marked.created:
        messages.info(request, f"Judgement {judgement_id} already had this mark.")
    elif marked.mark.state == MarkState.NONE:
        messages.success(request, f"Judgement {judgement_id} restored: it has no mark now.")
    else:
        messages.success(request, f"Judgement {judgement_id} marked: {label}.")
    return redirect(back)
