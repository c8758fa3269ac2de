"""The annotator's workspace: one server-rendered page; ``annotation/workspace.js`` then
drives it through the REST API (next, submit, skip, prompts, continue, progress)."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from paddock.annotation.models import PICKABLE_RISK_CATEGORIES, Strength
from paddock.annotation.selectors import open_batches, queue_empty_reason
from paddock.annotation.services.authoring import max_prompt_chars
from paddock.platform.accounts.access import annotator_required


@dataclass(frozen=True)
class StrengthLevel:
    value: str
    label: str
    key: str
    short: str  # on the judgement bar
    help: str  # in the guidelines


# One key per level, on the row under 1 and 2, so the left hand never moves: 1/2 to
# choose, then Q/W/E/R for the strength (which submits).
STRENGTH_LEVELS = (
    StrengthLevel(Strength.SIGNIFICANTLY_BETTER, "Significantly better", "q",
                  "the other fails, is wrong or unsafe",
                  "Clearly better: the other fails the request, is wrong, or is unsafe."),
    StrengthLevel(Strength.BETTER, "Better", "w", "more correct, complete or useful",
                  "Better on substance: more correct, complete or useful."),
    StrengthLevel(Strength.SLIGHTLY_BETTER, "Slightly better", "e",
                  "both fine, this one a little more",
                  "Both are fine; this one is a little clearer, tighter or nicer."),
    StrengthLevel(Strength.NEGLIGIBLY_BETTER, "Negligibly better / unsure", "r",
                  "about the same, or can't tell",
                  "About the same, or you cannot tell: pick the one you lean to."),
)

SKIP_REASONS = (
    "I can't judge this topic",
    "The prompt is unclear or broken",
    "The responses are identical, empty or cut off",
)

# The page runs one local script and no inline code: model text can never become script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@annotator_required
def workspace(request: HttpRequest) -> HttpResponse:
    """Queue mode, write-a-prompt mode, guidelines and own progress."""
    batches = list(open_batches().only("id", "name"))
    # Without an open batch the script asks for nothing, so the page says why at once.
    empty = None if batches else queue_empty_reason(annotator=request.user)
    response = render(request, "annotation/workspace.html", {
        "open_batches": batches,
        "empty": empty,
        "strengths": STRENGTH_LEVELS,
        "risk_categories": PICKABLE_RISK_CATEGORIES,
        "skip_reasons": SKIP_REASONS,
        "prompt_max_chars": max_prompt_chars(),
    })
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
