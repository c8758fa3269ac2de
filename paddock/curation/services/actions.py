"""What a data manager does in curation: ingest a source, start a run, set a site's
override. The pages (and the API, for a run's start) call these, so the rules (one job per
run at a time, a path the workers can read, one spelling of a domain) are written once,
beside the run engine in :mod:`paddock.curation.services.runs`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from paddock.curation.models import CurationRun, DomainRule, RunStatus, Source
from paddock.curation.services.ingest_paths import (
    IngestPathRefused,
    ingest_path_check,
    ingest_roots,
)
from paddock.platform.accounts.models import User
from paddock.platform.uploads import upload_save
from paddock.workers.jobs import job_enqueue
from paddock.workers.models import Job
from paddock.workers.tasks.curation import ingest_source, run_pipeline

LIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


class CurationActionError(ValueError):
    """A start the request's input refuses; the message names the input and what to do."""


@dataclass(frozen=True)
class RunStarted:
    """``created`` is False when the run was already queued or running (nothing sent)."""

    run: CurationRun
    created: bool


def curation_run_start(*, run: CurationRun, requested_by: User | None = None) -> RunStarted:
    """Queue ``run`` (again, after it finished or failed) as one job; a run already queued
    or running is left as it is, so a second click sends nothing."""
    with transaction.atomic():
        locked = CurationRun.objects.select_for_update().get(pk=run.pk)
        if locked.status in LIVE:
            return RunStarted(locked, created=False)
        locked.status, locked.progress, locked.message, locked.error = (
            RunStatus.QUEUED, 0.0, "queued", "")
        locked.save(update_fields=["status", "progress", "message", "error"])
        job_enqueue(task=run_pipeline, kwargs={"run_id": locked.pk},
                    label=f"Curation run {locked.name}", created_by=requested_by)
    return RunStarted(locked, created=True)


def source_ingest_start(
    *, path: str | Path, name: str, fmt: str, text_field: str = "text",
    url_field: str = "url", requested_by: User | None = None,
) -> Job:
    """Queue the ingestion of ``path`` (a file or folder under the ingest roots on the
    workers' shared storage, :mod:`paddock.curation.services.ingest_paths`) as source
    ``name``; a path outside them, or that does not exist here, is refused before anything
    is sent."""
    try:
        path = ingest_path_check(path)
    except IngestPathRefused as error:
        raise CurationActionError(str(error)) from None
    taken = Source.objects.filter(name=name).first()
    if taken is not None and (taken.path, taken.text_field, taken.url_field) != (
        str(path), text_field or "text", url_field or "url"
    ):  # the same file and options again is a no-op; anything else needs its own name
        raise CurationActionError(
            f"A source named {name!r} already exists (source {taken.pk}, read from "
            f"{taken.path}): give this one another name.")
    return job_enqueue(
        task=ingest_source,
        kwargs={"path": str(path), "name": name, "fmt": fmt, "text_field": text_field or "text",
                "url_field": url_field or "url"},
        label=f"Ingest {path.name}", created_by=requested_by,
    )


UPLOADS = "uploads"  # the folder, inside the first ingest root, that uploads are saved in


def source_upload_ingest_start(
    *, upload, name: str, fmt: str, text_field: str = "text", url_field: str = "url",
    requested_by: User | None = None,
) -> Job:
    """Save an uploaded file in the first ingest root's ``uploads/`` folder (shared storage,
    where the workers read) and queue its ingestion as source ``name``: the door for a file
    that is on the data manager's own computer, not on the servers. The saved path then
    goes through the same check as a typed one."""
    roots = ingest_roots()
    if not roots:
        raise CurationActionError("No ingest folder is configured (PADDOCK_INGEST_ROOTS), so "
                                  "an upload has nowhere to go: ask an administrator.")
    saved = upload_save(upload, roots[0] / UPLOADS)
    return source_ingest_start(path=saved, name=name, fmt=fmt, text_field=text_field,
                               url_field=url_field, requested_by=requested_by)


def domain_rule_set(
    *, domain: str, action: str, note: str = "", created_by: User | None = None
) -> DomainRule:
    """Allow or block a site from the next run on, whatever the personal-information
    figures say; ``WWW.Example.org`` and ``example.org`` are one site, one rule."""
    domain = domain.strip().lower().removeprefix("www.")
    rule, _created = DomainRule.objects.update_or_create(
        domain=domain, defaults={"action": action, "note": note, "created_by": created_by})
    return rule
