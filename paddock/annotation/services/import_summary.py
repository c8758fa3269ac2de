"""An import's result in plain words: what was added, and what becomes of it.

The batch page, the import job's message and its result (what the API's job status
returns) all say the same sentences, written here, so a manager never reads "Succeeded"
over an empty summary: a file already imported into the batch says so, and prompts
imported without responses say when, and whether, they become comparisons.
"""

from __future__ import annotations

from django.utils import timezone

from paddock.annotation.formats import FORMATS, PROMPTS_AFTER
from paddock.annotation.models import BatchImport, ImportKind
from paddock.workers.pipeline.plan import plan_with, step_enabled

# What one good line of each kind adds, singular and plural.
ADDED = {
    ImportKind.PROMPTS: ("prompt", "prompts"),
    ImportKind.PAIRS: ("comparison", "comparisons"),
    ImportKind.HH_RLHF: ("public preference pair", "public preference pairs"),
}
SAMPLING_STEP = "sample_next_batch"


def counted(count: int, singular: str, plural: str) -> str:
    return f"{count:,} {singular if count == 1 else plural}"


def import_counts(report: BatchImport) -> str:
    """``4 prompts added, 1 line refused``: what the import stored and left out."""
    added = counted(report.imported, *ADDED[ImportKind(report.kind)])
    refused = counted(report.problem_count, "line", "lines")
    return f"{added} added, {refused} refused"


def import_headline(report: BatchImport, *, repeat: bool = False) -> str:
    """One sentence, short enough for a job's message: the counts, or that the file was
    already imported (when, and what it added then) and nothing new was added."""
    if repeat:
        when = timezone.localtime(report.created_at).strftime("%Y-%m-%d %H:%M")
        return (f"This file was already imported into this batch on {when} "
                f"({import_counts(report)} then): nothing new was added.")
    if not report.complete:
        return f"{import_counts(report)} so far (up to line {report.last_line:,})."
    return f"{import_counts(report)}."


def import_summary(report: BatchImport, *, repeat: bool = False) -> str:
    """The headline, then what becomes of what was added (the import kind's own words in
    :mod:`paddock.annotation.formats`; for prompts, whether this batch's weekly cycle will
    answer them)."""
    headline = import_headline(report, repeat=repeat)
    if repeat or not report.complete or not report.imported:
        return headline
    if report.kind == ImportKind.PROMPTS:
        return f"{headline} {PROMPTS_AFTER}{_sampling_note(report)}"
    return f"{headline} {FORMATS[report.kind].after}"


def _sampling_note(report: BatchImport) -> str:
    """Whether the batch's own plan samples the next batch, and how many prompts at most."""
    try:
        plan = plan_with(report.batch.pipeline_plan or None)
    except ValueError:
        return " This batch's stored plan is refused: correct it so its weekly cycle can run."
    if not step_enabled(plan, SAMPLING_STEP):
        return (" This batch's plan has that step switched off: switch it on under “Edit "
                "schedule and settings”, or nothing will answer these prompts.")
    limit = plan["sampling"]["max_prompts"]
    return f" This batch's plan samples at most {counted(limit, 'prompt', 'prompts')}."
