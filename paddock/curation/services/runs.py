"""Curation runs: quality gate, exact and near dedup, personal-information sites, export.

Documents are taken in the run's canonical order (its sources in the order given, each in
file order): where a stage keeps one document of several (exact or near duplicates), it
keeps the earliest, so results never depend on database ids or worker timing.

Each stage writes one DroppedDocument row per document it removes, with the reason and
its evidence. Running a stage again first clears its rows and those of every later stage,
so a stage is safe to run twice and a run can be resumed from any stage.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

import paddock
from paddock.curation.core.config import CurationConfig
from paddock.curation.core.export import ExportRecord, copies, write_export
from paddock.curation.core.near_dedup import WorkDir, cluster, run_single_process
from paddock.curation.core.pii import PiiType
from paddock.curation.core.quality import quality_drop
from paddock.curation.core.sites import (
    DomainList,
    SiteStats,
    decide_site,
    starter_blocklist,
)
from paddock.curation.models import (
    CurationRun,
    Document,
    DomainAction,
    DomainRule,
    DroppedDocument,
    DropReason,
    RunSource,
    RunState,
    SiteReport,
    Source,
    SourceStatus,
    Stage,
)
from paddock.kernel.progress import Progress
from paddock.kernel.throttle import ProgressThrottle
from paddock.platform.failure_text import failure_sentence

logger = logging.getLogger(__name__)
# The stages of a run, in order: the one place that order is written. In one process
# (run_stages) they run in turn; on the curation workers (paddock.workers.tasks.curation)
# the stages before FAN_OUT run in the coordinating task, FAN_OUT is spread over the
# workers, and the stages after it run in the finishing task.
STAGES = [Stage.QUALITY, Stage.EXACT, Stage.NEAR, Stage.PII, Stage.EXPORT]
FAN_OUT = Stage.NEAR
STAGES_BEFORE_FAN_OUT = STAGES[:STAGES.index(FAN_OUT)]
STAGES_AFTER_FAN_OUT = STAGES[STAGES.index(FAN_OUT) + 1:]
BATCH = 2000
PROGRESS_WRITE_INTERVAL_SECONDS = 0.5


class RunError(Exception):
    """A run cannot proceed as asked (a stage out of order, a source not ingested)."""


def run_create(
    *,
    name: str,
    sources: Sequence[Source],
    config: CurationConfig | None = None,
    created_by=None,
) -> CurationRun:
    if not sources:
        raise RunError("a run needs at least one source")
    not_ready = [s.name for s in sources if s.status != SourceStatus.READY]
    if not_ready:
        raise RunError(f"sources not fully ingested: {', '.join(not_ready)}")
    config = config or CurationConfig()
    with transaction.atomic():
        run = CurationRun.objects.create(
            name=name, config=config.as_dict(), created_by=created_by
        )
        RunSource.objects.bulk_create(
            RunSource(run=run, source=source, order=i) for i, source in enumerate(sources)
        )
    return run


def run_config(run: CurationRun) -> CurationConfig:
    return CurationConfig.from_dict(run.config)


def run_key(run: CurationRun) -> str:
    return f"run-{run.pk}"


def work_dir(run: CurationRun) -> Path:
    return Path(settings.ARTIFACTS_DIR) / "curation" / "work" / run_key(run)


def export_dir(run: CurationRun) -> Path:
    return Path(settings.ARTIFACTS_DIR) / "curation" / "exports" / run_key(run)


# --- progress and state -------------------------------------------------------------------


class RunReporter:
    """Writes a run's stage and progress to its row, at most twice a second."""

    def __init__(self, run: CurationRun, echo: Progress | None = None) -> None:
        self.run = run
        self.echo = echo
        self.throttle = ProgressThrottle(PROGRESS_WRITE_INTERVAL_SECONDS)

    def __call__(self, fraction: float, message: str) -> None:
        if self.echo:
            self.echo(fraction, message)
        if not self.throttle.ready(fraction):
            return
        CurationRun.objects.filter(pk=self.run.pk).update(
            progress=min(max(fraction, 0.0), 1.0), message=message[:500]
        )


def run_begin(run: CurationRun) -> None:
    """Mark the run running. Its heartbeat starts empty: a worker that runs it beats it (a
    run in one process has no watchdog to answer to)."""
    CurationRun.objects.filter(pk=run.pk).update(
        status=RunState.RUNNING, started_at=timezone.now(), finished_at=None, error="",
        heartbeat_at=None,
    )


def run_succeed(run: CurationRun) -> None:
    CurationRun.objects.filter(pk=run.pk).update(
        status=RunState.SUCCEEDED, progress=1.0, finished_at=timezone.now(), message="done"
    )


def run_fail_on(run: CurationRun, error: BaseException) -> None:
    """Fail ``run`` for an exception: the traceback to the log, a sentence to the run's
    page (never a traceback or SQL: :mod:`paddock.platform.failure_text`)."""
    logger.error("curation run %s failed", run.pk, exc_info=error)
    run_fail(run, failure_sentence(error, reference=f"curation run {run.pk}"))


def run_fail(run: CurationRun, error: str) -> None:
    CurationRun.objects.filter(pk=run.pk).update(
        status=RunState.FAILED, finished_at=timezone.now(), error=error[-20_000:],
        message=error.strip().splitlines()[-1][:500] if error.strip() else "failed",
    )


def runs_fail_stale(*, stale_after: timedelta, now: datetime | None = None) -> list[int]:
    """Fail the running runs whose worker stopped beating ``stale_after`` ago (it was
    killed, or its machine went away): nothing would ever finish them. Returns their ids.
    The watchdog of the pipeline's steps decides the same way, with the same setting."""
    now = now or timezone.now()
    failed = []
    for pk, beat in CurationRun.objects.filter(
        status=RunState.RUNNING, heartbeat_at__lte=now - stale_after
    ).values_list("pk", "heartbeat_at"):
        error = (f"worker lost: no heartbeat since {beat.isoformat(timespec='seconds')}; "
                 "start the run again")
        updated = CurationRun.objects.filter(  # unless it beat or finished meanwhile
            pk=pk, status=RunState.RUNNING, heartbeat_at=beat
        ).update(status=RunState.FAILED, finished_at=now, error=error, message=error)
        if updated:
            failed.append(pk)
    return failed


def _stage_started(run: CurationRun, stage: Stage) -> None:
    """Clear this stage's and every later stage's drops and results."""
    position = STAGES.index(stage)
    missing = [s for s in STAGES[:position] if s not in run.completed_stages]
    if missing:
        raise RunError(f"run {run.pk}: stage {stage.value} needs {missing[0].value} first")
    later = [s.value for s in STAGES[position:]]
    DroppedDocument.objects.filter(run=run, stage__in=later).delete()
    if position <= STAGES.index(Stage.PII):
        SiteReport.objects.filter(run=run).delete()
    run.completed_stages = [s for s in run.completed_stages if s not in later]
    run.stage_counts = {k: v for k, v in run.stage_counts.items() if k not in later}
    run.stage = stage.value
    run.progress = 0.0
    run.save(update_fields=["completed_stages", "stage_counts", "stage", "progress"])


def _stage_finished(run: CurationRun, stage: Stage, remaining: int) -> None:
    run.completed_stages = [*run.completed_stages, stage.value]
    run.stage_counts = {**run.stage_counts, stage.value: remaining}
    run.save(update_fields=["completed_stages", "stage_counts"])


# --- reading the run's documents ----------------------------------------------------------


def run_documents(run: CurationRun, *fields: str) -> Iterator[tuple]:
    """(id, *fields) of every document of the run, in canonical order."""
    for run_source in RunSource.objects.filter(run=run).select_related("source"):
        rows = (
            Document.objects.filter(source=run_source.source)
            .order_by("position")
            .values_list("id", *fields)
        )
        yield from rows.iterator(chunk_size=BATCH)


def _dropped(run: CurationRun) -> set[int]:
    return set(DroppedDocument.objects.filter(run=run).values_list("document_id", flat=True))


def _save_drops(drops: list[DroppedDocument]) -> None:
    if drops:
        DroppedDocument.objects.bulk_create(drops, batch_size=BATCH)
        drops.clear()


def input_count(run: CurationRun) -> int:
    return Document.objects.filter(source__runsource__run=run).count()


# --- stages -------------------------------------------------------------------------------


def stage_quality(run: CurationRun, progress: Progress) -> int:
    _stage_started(run, Stage.QUALITY)
    config = run_config(run).quality
    total = input_count(run)
    drops: list[DroppedDocument] = []
    kept = 0
    # The text filters read each document's text; with them off, the measurements suffice.
    # Ingest stores a language without its score, so the language filter identifies again.
    columns = ("words", "length", "text", "url")
    if not config.text_filters_enabled:
        columns = columns[:2]
    for i, (doc_id, words, length, *rest) in enumerate(run_documents(run, *columns), 1):
        text, url = rest if rest else (None, "")
        drop = quality_drop(text=text, words=words, length=length, config=config, url=url)
        if drop is None:
            kept += 1
        else:
            drops.append(
                DroppedDocument(
                    run=run, document_id=doc_id, stage=Stage.QUALITY,
                    reason=DropReason(drop.reason), detail=drop.detail,
                )
            )
        if len(drops) >= BATCH:
            _save_drops(drops)
        if i % BATCH == 0:
            progress(i / max(total, 1), f"quality: {i} of {total}")
    _save_drops(drops)
    run.stage_counts = {**run.stage_counts, "input": total}
    _stage_finished(run, Stage.QUALITY, kept)
    return kept


def stage_exact(run: CurationRun, progress: Progress) -> int:
    _stage_started(run, Stage.EXACT)
    dropped = _dropped(run)
    first: dict[str, int] = {}
    drops: list[DroppedDocument] = []
    for doc_id, digest in run_documents(run, "content_hash"):
        if doc_id in dropped:
            continue
        original = first.setdefault(digest, doc_id)
        if original != doc_id:
            drops.append(
                DroppedDocument(
                    run=run, document_id=doc_id, stage=Stage.EXACT,
                    reason=DropReason.EXACT_DUPLICATE, duplicate_of_id=original,
                    similarity=1.0, detail={"content_hash": digest},
                )
            )
            if len(drops) >= BATCH:
                _save_drops(drops)
    _save_drops(drops)
    progress(1.0, f"exact dedup: {len(first)} distinct documents")
    _stage_finished(run, Stage.EXACT, len(first))
    return len(first)


def near_prepare(run: CurationRun) -> WorkDir:
    """Write the texts left after exact dedup to the run's work folder (shared storage)."""
    _stage_started(run, Stage.NEAR)
    dropped = _dropped(run)
    ids: list[int] = []

    def texts() -> Iterator[str]:
        for doc_id, text in run_documents(run, "text"):
            if doc_id not in dropped:
                ids.append(doc_id)
                yield text

    directory = work_dir(run)
    if directory.exists():
        shutil.rmtree(directory)
    work = WorkDir.create(directory, texts(), run_config(run).near_dedup)
    np.save(directory / "document_ids.npy", np.asarray(ids, dtype=np.int64))
    return work


def near_record(run: CurationRun, work: WorkDir) -> int:
    """Turn the clusters into drops: every document but the earliest of its cluster, each
    against the document it was linked to (similarity >= threshold) and its kept one."""
    result = cluster(work)
    ids = np.load(work.path / "document_ids.npy")
    drops: list[DroppedDocument] = []
    for index in np.flatnonzero(result.duplicate_of >= 0):
        drops.append(
            DroppedDocument(
                run=run, document_id=int(ids[index]), stage=Stage.NEAR,
                reason=DropReason.NEAR_DUPLICATE,
                duplicate_of_id=int(ids[result.duplicate_of[index]]),  # the linked document
                similarity=round(float(result.similarity[index]), 4),
                detail={"kept_document": int(ids[result.kept_of[index]])},
            )
        )
        if len(drops) >= BATCH:
            _save_drops(drops)
    _save_drops(drops)
    remaining = len(ids) - result.removed
    run.stage_counts = {
        **run.stage_counts,
        "near_dedup_candidate_pairs": result.candidate_pairs,
        "near_dedup_verified_pairs": result.edges,
        "near_dedup_clusters": result.clusters,
    }
    _stage_finished(run, Stage.NEAR, remaining)
    return remaining


def stage_near_local(run: CurationRun, progress: Progress) -> int:
    work = near_prepare(run)
    run_single_process(work, progress=progress)
    return near_record(run, work)


def domain_lists() -> tuple[DomainList, DomainList]:
    """(blocklist, allowlist): the shipped people-search list plus managers' rules."""
    rules = DomainRule.objects.values_list("domain", "action")
    blocked = [d for d, action in rules if action == DomainAction.BLOCK]
    allowed = [d for d, action in rules if action == DomainAction.ALLOW]
    return DomainList([*starter_blocklist(), *blocked]), DomainList(allowed)


def stage_pii(run: CurationRun, progress: Progress) -> int:
    """Per-site personal-information rates over all of each site's documents in the run."""
    _stage_started(run, Stage.PII)
    config = run_config(run).pii
    stats: dict[str, SiteStats] = {}
    for _doc_id, domain, words, counts in run_documents(run, "domain", "words", "pii_counts"):
        if domain:
            site = stats.setdefault(domain, SiteStats(domain))
            site.add(words, {PiiType(k): v for k, v in counts.items()})
    blocklist, allowlist = domain_lists()
    decisions = {
        domain: decide_site(site, config, blocklist=blocklist, allowlist=allowlist)
        for domain, site in stats.items()
    }
    SiteReport.objects.bulk_create(
        (
            SiteReport(
                run=run, domain=d.domain, documents=d.documents, words=stats[d.domain].words,
                rate=round(d.rate, 4), excluded=d.excluded, reason=str(d.reason),
                detectors=d.detectors,
            )
            for d in decisions.values()
        ),
        batch_size=BATCH,
    )
    progress(0.5, f"{sum(d.excluded for d in decisions.values())} of {len(decisions)} sites out")
    dropped = _dropped(run)
    drops: list[DroppedDocument] = []
    kept = 0
    for doc_id, domain in run_documents(run, "domain"):
        if doc_id in dropped:
            continue
        decision = decisions.get(domain)
        if decision is None or not decision.excluded:
            kept += 1
            continue
        reason = (
            DropReason.BLOCKLISTED_SITE if str(decision.reason) == "blocklist"
            else DropReason.PII_SITE
        )
        drops.append(
            DroppedDocument(
                run=run, document_id=doc_id, stage=Stage.PII, reason=reason,
                detail={
                    "domain": domain, "rate": round(decision.rate, 4),
                    "documents": decision.documents, "detectors": decision.detectors,
                },
            )
        )
        if len(drops) >= BATCH:
            _save_drops(drops)
    _save_drops(drops)
    _stage_finished(run, Stage.PII, kept)
    return kept


def stage_export(run: CurationRun, progress: Progress) -> dict[str, Any]:
    _stage_started(run, Stage.EXPORT)
    config = run_config(run)
    dropped = _dropped(run)
    sources = {  # in the run's order
        rs.source_id: rs.source for rs in RunSource.objects.filter(run=run).select_related("source")
    }
    plan: list[tuple[int, int]] = []  # (document id, copies)
    for doc_id, source_id, position in run_documents(run, "source_id", "position"):
        if doc_id in dropped:
            continue
        source = sources[source_id]
        stable_id = f"{source.fingerprint[:16]}:{position}"
        n = copies(stable_id, config.export.weight(source.name), config.export.seed)
        if n:
            plan.append((doc_id, n))
    wanted = dict(plan)
    total_records = sum(wanted.values())

    def records() -> Iterator[ExportRecord]:
        done = 0
        fields = ("source_id", "position", "text", "url", "domain", "language")
        for doc_id, source_id, position, text, url, domain, language in run_documents(
            run, *fields
        ):
            n = wanted.get(doc_id, 0)
            source = sources[source_id]
            for _ in range(n):
                yield ExportRecord(
                    stable_id=f"{source.fingerprint[:16]}:{position}", source=source.name,
                    text=text, url=url, domain=domain, language=language,
                )
            done += n
            if n and done % BATCH < n:
                progress(done / max(total_records, 1), f"export: {done} of {total_records}")

    manifest = write_export(
        export_dir(run),
        records(),
        total_records=total_records,
        config=config.export,
        manifest=_manifest_base(run, config, list(sources.values()), len(wanted)),
    )
    run.manifest = manifest
    run.export_dir = str(export_dir(run))
    run.save(update_fields=["manifest", "export_dir"])
    _stage_finished(run, Stage.EXPORT, total_records)
    return manifest


def drop_counts(run: CurationRun) -> dict[str, int]:
    rows = DroppedDocument.objects.filter(run=run).values("reason").annotate(n=Count("id"))
    return {row["reason"]: row["n"] for row in rows.order_by("reason")}


def _manifest_base(
    run: CurationRun, config: CurationConfig, ordered: list[Source], documents: int
) -> dict[str, Any]:
    return {
        "paddock_version": paddock.__version__,
        "config": config.as_dict(),
        "inputs": [
            {
                "name": s.name, "file": Path(s.path).name, "format": s.format,
                "fingerprint": s.fingerprint, "documents": s.documents, "problems": s.problems,
                "weight": config.export.weight(s.name),
            }
            for s in ordered
        ],
        "counts": {k: run.stage_counts[k] for k in sorted(run.stage_counts)},
        "drops": drop_counts(run),
        "documents": documents,
    }


STAGE_FUNCTIONS: dict[Stage, Callable[[CurationRun, Progress], Any]] = {
    Stage.QUALITY: stage_quality,
    Stage.EXACT: stage_exact,
    Stage.NEAR: stage_near_local,
    Stage.PII: stage_pii,
    Stage.EXPORT: stage_export,
}


def stages_run_in_turn(run: CurationRun, stages: Sequence[Stage], progress: Progress) -> None:
    """Run ``stages`` of ``run`` one after another, in this process."""
    for stage in stages:
        STAGE_FUNCTIONS[stage](run, progress)


def run_stages(run: CurationRun, stages: Sequence[Stage], progress: Progress | None = None) -> None:
    """Run ``stages`` in this process, recording status, progress and failure on the run."""
    reporter = RunReporter(run, progress)
    run_begin(run)
    run.refresh_from_db()
    try:
        stages_run_in_turn(run, stages, reporter)
    except Exception as exc:
        run_fail_on(run, exc)
        raise
    if Stage.EXPORT.value in run.completed_stages:
        run_succeed(run)
    else:
        CurationRun.objects.filter(pk=run.pk).update(
            status=RunState.DRAFT, message=f"stopped after {run.completed_stages[-1]}"
        )
