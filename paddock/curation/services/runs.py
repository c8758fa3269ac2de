"""Curation runs: quality gate, exact and near dedup, personal-information sites, export.

Documents are taken in the run's canonical order (its sources in the order given, each in
file order): where a stage keeps one document of several (exact or near duplicates), it
keeps the earliest, so results never depend on database ids or worker timing.

Documents are read from the document store (:mod:`paddock.curation.core.store`), each
stage projecting only the columns it needs; a document is (source, position). The quality
stage works per store shard (:func:`quality_shard`, one Celery task each on the workers);
exact dedup and the site statistics are reductions over small columns in one process.

Each stage writes one DroppedDocument row per document it removes, with the reason and
its evidence. Running a stage again first clears its rows and those of every later stage,
so a stage is safe to run twice and a run can be resumed from any stage.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from importlib import resources
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
from paddock.curation.core.export_text import CleaningTally, SiteLines, clean_text
from paddock.curation.core.file_bands import FileBandStore
from paddock.curation.core.filters.urls import normalise_url
from paddock.curation.core.near_dedup import (
    MemoryBandStore,
    WorkDir,
    cluster,
    run_single_process,
)
from paddock.curation.core.pii import PiiType
from paddock.curation.core.quality import quality_drop
from paddock.curation.core.sites import (
    STARTER_BLOCKLIST,
    DomainList,
    SiteStats,
    decide_site,
    starter_blocklist,
)
from paddock.curation.core.store import DocumentStore, decode_json
from paddock.curation.models import (
    CurationRun,
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
from paddock.curation.services.document_store import default_store
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
# The first stage fans out too, one task per document-store shard (its filter chain is the
# CPU cost); the stages between it and FAN_OUT are reductions in the task after it.
SHARD_FAN_OUT = STAGES[0]
STAGES_BETWEEN_FAN_OUTS = STAGES_BEFORE_FAN_OUT[1:]
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

# A document of a run is (source id, position): its place in the document store.
DocKey = tuple[int, int]
QUALITY_COLUMNS = ("position", "locator", "url", "domain", "text", "words", "length",
                   "language", "language_score")
SHOWN = ("position", "locator", "url", "domain")  # what a drop row copies


def run_sources(run: CurationRun) -> list[Source]:
    """The run's sources, in the run's order."""
    return [rs.source for rs in RunSource.objects.filter(run=run).select_related("source")]


def _store(store: DocumentStore | None = None) -> DocumentStore:
    return store or default_store()


def run_shards(run: CurationRun, store: DocumentStore | None = None) -> list[tuple[int, int]]:
    """(source id, shard index) of every store shard of the run, in canonical order: the
    quality stage's units of work on the curation workers."""
    store = _store(store)
    return [(source.pk, index) for source in run_sources(run)
            for index in range(len(store.shards(source.store_key)))]


def _dropped(run: CurationRun) -> set[DocKey]:
    return set(DroppedDocument.objects.filter(run=run).values_list("source_id", "position"))


def _save_drops(drops: list[DroppedDocument]) -> None:
    if drops:
        DroppedDocument.objects.bulk_create(drops, batch_size=BATCH)
        drops.clear()


def _drop(run: CurationRun, source_id: int, row: dict, stage: Stage, reason: str,
          **evidence: Any) -> DroppedDocument:
    return DroppedDocument(
        run=run, source_id=source_id, position=row["position"], locator=row["locator"],
        url=row["url"], domain=row["domain"], stage=stage, reason=DropReason(reason),
        **evidence,
    )


def input_count(run: CurationRun) -> int:
    return sum(source.documents for source in run_sources(run))


# --- stages -------------------------------------------------------------------------------


def quality_begin(run: CurationRun) -> None:
    _stage_started(run, Stage.QUALITY)


def quality_shard(run: CurationRun, source_id: int, shard_index: int,
                  store: DocumentStore | None = None) -> tuple[int, int]:
    """Decide one store shard; returns (documents, kept). Idempotent: the shard's earlier
    quality drops (a redelivered task's) are replaced in the same transaction."""
    store = _store(store)
    source = Source.objects.get(pk=source_id)
    config = run_config(run).quality
    shard = store.shards(source.store_key)[shard_index]
    drops: list[DroppedDocument] = []
    documents = 0
    for table in store.batches(source.store_key, shard, QUALITY_COLUMNS):
        columns = {name: table.column(name).to_pylist() for name in QUALITY_COLUMNS}
        for i in range(table.num_rows):
            row = {name: values[i] for name, values in columns.items()}
            drop = quality_drop(
                text=row["text"], words=row["words"], length=row["length"], config=config,
                language=row["language"], language_score=row["language_score"], url=row["url"],
            )
            if drop is not None:
                drops.append(_drop(run, source.pk, row, Stage.QUALITY, drop.reason,
                                   detail=drop.detail))
        documents += table.num_rows
    kept = documents - len(drops)
    with transaction.atomic():
        DroppedDocument.objects.filter(
            run=run, stage=Stage.QUALITY, source_id=source.pk, position__gte=shard.first,
            position__lt=shard.first + shard.documents,
        ).delete()
        _save_drops(drops)
    return documents, kept


def quality_finish(run: CurationRun) -> int:
    """Count what the shards kept; the stage is complete."""
    total = input_count(run)
    dropped = DroppedDocument.objects.filter(run=run, stage=Stage.QUALITY).count()
    run.stage_counts = {**run.stage_counts, "input": total}
    _stage_finished(run, Stage.QUALITY, total - dropped)
    return total - dropped


def stage_quality(run: CurationRun, progress: Progress,
                  store: DocumentStore | None = None) -> int:
    quality_begin(run)
    shards = run_shards(run, store)
    for i, (source_id, index) in enumerate(shards, 1):
        quality_shard(run, source_id, index, store)
        progress(i / max(len(shards), 1), f"quality: shard {i} of {len(shards)}")
    return quality_finish(run)


def stage_exact(run: CurationRun, progress: Progress,
                store: DocumentStore | None = None) -> int:
    """The earliest document of each content hash is kept: a reduction over one small
    column, in this process (the url and locator of the few drops are read after)."""
    store = _store(store)
    _stage_started(run, Stage.EXACT)
    dropped = _dropped(run)
    by_url = run_config(run).exact.by_url
    first: dict[str, DocKey] = {}
    first_url: dict[str, DocKey] = {}
    found: list[tuple[DocKey, DocKey, str]] = []  # (duplicate, original, hash)
    found_url: list[tuple[DocKey, DocKey, str]] = []  # (duplicate, original, url)
    columns = ("position", "content_hash", "url") if by_url else ("position", "content_hash")
    for source in run_sources(run):
        for position, digest, *url in store.rows(source.store_key, columns):
            key = (source.pk, position)
            if key in dropped:
                continue
            original = first.setdefault(digest, key)
            if original != key:
                found.append((key, original, digest))
                continue
            address = normalise_url(url[0]) if url and url[0] else ""
            if address:
                original = first_url.setdefault(address, key)
                if original != key:
                    found_url.append((key, original, address))
    _record_duplicates(run, store, found, Stage.EXACT)
    _record_duplicates(run, store, found_url, Stage.EXACT, reason=DropReason.DUPLICATE_URL)
    kept = len(first) - len(found_url)
    progress(1.0, f"exact dedup: {kept} distinct documents")
    _stage_finished(run, Stage.EXACT, kept)
    return kept


def _record_duplicates(run: CurationRun, store: DocumentStore,
                       found: list[tuple[DocKey, DocKey, Any]], stage: Stage,
                       reason: DropReason | None = None) -> None:
    """Drop rows for (duplicate, original, evidence) triples: exact (evidence: the hash),
    a duplicate URL (the normalised URL) or near ((similarity, kept document)); urls and
    locators read from the store for these documents only."""
    drops: list[DroppedDocument] = []
    for start in range(0, len(found), BATCH * 10):
        batch = found[start:start + BATCH * 10]
        shown = _shown(store, [k for key, original, _ in batch for k in (key, original)])
        for key, original, evidence in batch:
            linked = shown[original]
            if reason == DropReason.DUPLICATE_URL:
                why, similarity, detail = reason, None, {"url": evidence}
            elif stage == Stage.EXACT:
                why, similarity = DropReason.EXACT_DUPLICATE, 1.0
                detail = {"content_hash": evidence}
            else:
                why = DropReason.NEAR_DUPLICATE
                similarity, (kept_source, kept_position) = evidence
                detail = {"kept_document": {"source": kept_source, "position": kept_position}}
            drops.append(_drop(
                run, key[0], shown[key], stage, why,
                duplicate_of_source_id=original[0], duplicate_of_position=original[1],
                duplicate_of_ref=linked["url"] or linked["locator"],
                similarity=similarity, detail=detail,
            ))
        _save_drops(drops)


def near_prepare(run: CurationRun, store: DocumentStore | None = None) -> WorkDir:
    """Write the texts left after exact dedup to the run's work folder (shared storage)."""
    store = _store(store)
    _stage_started(run, Stage.NEAR)
    dropped = _dropped(run)
    keys: list[DocKey] = []

    def texts() -> Iterator[str]:
        for source in run_sources(run):
            for position, text in store.rows(source.store_key, ("position", "text")):
                if (source.pk, position) not in dropped:
                    keys.append((source.pk, position))
                    yield text

    directory = work_dir(run)
    if directory.exists():
        shutil.rmtree(directory)
    work = WorkDir.create(directory, texts(), run_config(run).near_dedup)
    np.save(directory / "document_keys.npy", np.asarray(keys, dtype=np.int64).reshape(-1, 2))
    return work


def _shown(store: DocumentStore, keys: Iterable[DocKey]) -> dict[DocKey, dict]:
    """The url, domain and locator of some documents, read from their row groups only."""
    by_source: dict[int, list[int]] = {}
    for source_id, position in keys:
        by_source.setdefault(source_id, []).append(position)
    out: dict[DocKey, dict] = {}
    for source in Source.objects.filter(pk__in=by_source):
        found = store.documents(source.store_key, by_source[source.pk], SHOWN)
        out.update({(source.pk, p): row for p, row in found.items()})
    return out


def near_record(run: CurationRun, work: WorkDir, store: DocumentStore | None = None) -> int:
    """Turn the clusters into drops: every document but the earliest of its cluster, each
    against the document it was linked to and with its cluster's kept document."""
    store = _store(store)
    result = cluster(work)
    keys = np.load(work.path / "document_keys.npy")
    removed = np.flatnonzero(result.duplicate_of >= 0)
    # Each drop names the document it was linked to (similarity >= threshold) and, in its
    # detail, the kept document of its cluster.
    found = [(tuple(map(int, keys[i])), tuple(map(int, keys[result.duplicate_of[i]])),
              (round(float(result.similarity[i]), 4), tuple(map(int, keys[result.kept_of[i]]))))
             for i in removed]
    _record_duplicates(run, store, found, Stage.NEAR)
    remaining = len(keys) - result.removed
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
    run_single_process(work, store=band_store_for(work), progress=progress)
    return near_record(run, work)


def band_store_for(work: WorkDir):
    """In one process: in memory up to the Redis limit's size, then files (the same
    records, so the same clusters; files keep a large run out of this process's memory)."""
    if work.plan.documents > settings.CURATION_REDIS_BANDS_MAX_DOCUMENTS:
        return FileBandStore(work.path / "bands")
    return MemoryBandStore()


def domain_lists() -> tuple[DomainList, DomainList]:
    """(blocklist, allowlist): the shipped people-search list plus managers' rules."""
    rules = DomainRule.objects.values_list("domain", "action")
    blocked = [d for d, action in rules if action == DomainAction.BLOCK]
    allowed = [d for d, action in rules if action == DomainAction.ALLOW]
    return DomainList([*starter_blocklist(), *blocked]), DomainList(allowed)


def stage_pii(run: CurationRun, progress: Progress, store: DocumentStore | None = None) -> int:
    """Per-site personal-information rates over all of each site's documents in the run."""
    store = _store(store)
    _stage_started(run, Stage.PII)
    config = run_config(run).pii
    stats: dict[str, SiteStats] = {}
    sources = run_sources(run)
    for source in sources:
        for domain, words, counts in store.rows(source.store_key,
                                                ("domain", "words", "pii_counts")):
            if domain:
                site = stats.setdefault(domain, SiteStats(domain))
                site.add(words, {PiiType(k): v for k, v in decode_json(counts).items()})
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
    excluded = {domain for domain, d in decisions.items() if d.excluded}
    dropped = _dropped(run)
    drops: list[DroppedDocument] = []
    kept = 0
    for source in sources:
        out = [position for position, domain in store.rows(source.store_key,
                                                           ("position", "domain"))
               if (source.pk, position) not in dropped and domain in excluded]
        kept += source.documents - sum(1 for key in dropped if key[0] == source.pk) - len(out)
        shown = store.documents(source.store_key, out, SHOWN) if out else {}
        for position in out:
            row = shown[position]
            decision = decisions[row["domain"]]
            reason = (
                DropReason.BLOCKLISTED_SITE if str(decision.reason) == "blocklist"
                else DropReason.PII_SITE
            )
            drops.append(_drop(
                run, source.pk, row, Stage.PII, reason,
                detail={
                    "domain": row["domain"], "rate": round(decision.rate, 4),
                    "documents": decision.documents, "detectors": decision.detectors,
                },
            ))
            if len(drops) >= BATCH:
                _save_drops(drops)
    _save_drops(drops)
    _stage_finished(run, Stage.PII, kept)
    return kept


EXPORT_COLUMNS = ("position", "text", "url", "domain", "language")


def stage_export(run: CurationRun, progress: Progress,
                 store: DocumentStore | None = None) -> dict[str, Any]:
    store = _store(store)
    _stage_started(run, Stage.EXPORT)
    config = run_config(run)
    dropped = _dropped(run)
    sources = run_sources(run)
    wanted: dict[DocKey, int] = {}  # document -> copies, for the documents exported
    for source in sources:
        weight = config.export.weight(source.name)
        for position in range(source.documents):
            if (source.pk, position) in dropped:
                continue
            n = copies(source.stable_id(position), weight, config.export.seed)
            if n:
                wanted[(source.pk, position)] = n
    total_records = sum(wanted.values())

    def exported() -> Iterator[tuple[Source, int, str, str, str, str]]:
        """(source, position, text, url, domain, language) of each exported document."""
        for source in sources:
            for shard in store.shards(source.store_key):
                span = range(shard.first, shard.first + shard.documents)
                if not any((source.pk, p) in wanted for p in span):
                    continue  # nothing of this shard is exported: not read
                for table in store.batches(source.store_key, shard, EXPORT_COLUMNS):
                    columns = [table.column(c).to_pylist() for c in EXPORT_COLUMNS]
                    for position, *fields in zip(*columns, strict=True):
                        if (source.pk, position) in wanted:
                            yield (source, position, *fields)

    common: dict[str, set[int]] = {}
    if config.export.strip_site_boilerplate:
        lines = SiteLines()
        for _source, _position, text, _url, domain, _language in exported():
            lines.add(domain, text)
        common = lines.common()
    tally = CleaningTally()
    cleaning: dict[str, Any] = {}  # filled as the records are written, read by the manifest

    def records() -> Iterator[ExportRecord]:
        done = 0
        for source, position, text, url, domain, language in exported():
            n = wanted[(source.pk, position)]
            text = clean_text(text, common.get(domain), redact=config.export.redact_pii,
                              tally=tally)
            for _ in range(n):
                yield ExportRecord(
                    stable_id=source.stable_id(position), source=source.name,
                    text=text, url=url, domain=domain, language=language,
                )
            done += n
            if done % BATCH < n:
                progress(done / max(total_records, 1), f"export: {done} of {total_records}")
        cleaning.update(tally.as_dict())

    manifest = write_export(
        export_dir(run),
        records(),
        total_records=total_records,
        config=config.export,
        manifest={**_manifest_base(run, config, sources, len(wanted)), "cleaning": cleaning},
    )
    run.manifest = manifest
    run.export_dir = str(export_dir(run))
    run.save(update_fields=["manifest", "export_dir"])
    _stage_finished(run, Stage.EXPORT, total_records)
    return manifest


def drop_counts(run: CurationRun) -> dict[str, int]:
    rows = DroppedDocument.objects.filter(run=run).values("reason").annotate(n=Count("id"))
    return {row["reason"]: row["n"] for row in rows.order_by("reason")}


def starter_blocklist_version() -> dict[str, Any]:
    """Which shipped people-search list decided: its bytes' SHA-256 and its size."""
    data = (resources.files("paddock.curation.core").joinpath("data")
            .joinpath(STARTER_BLOCKLIST).read_bytes())
    return {"file": STARTER_BLOCKLIST, "sha256": hashlib.sha256(data).hexdigest(),
            "domains": len(starter_blocklist())}


def _manifest_base(
    run: CurationRun, config: CurationConfig, ordered: list[Source], documents: int
) -> dict[str, Any]:
    """Everything the output depends on, so equal manifests mean equal output: the config,
    the inputs, the effective block and allow lists and the shipped list's version."""
    blocklist, allowlist = domain_lists()
    return {
        "paddock_version": paddock.__version__,
        "config": config.as_dict(),
        "inputs": [
            {
                "name": s.name, "file": Path(s.path).name, "format": s.format,
                "fingerprint": s.fingerprint, "documents": s.documents, "problems": s.problems,
                "weight": config.export.weight(s.name),
                "text_field": s.text_field, "url_field": s.url_field,
            }
            for s in ordered
        ],
        "domain_lists": {
            "blocked": list(blocklist),  # sorted
            "allowed": list(allowlist),
            "starter_blocklist": starter_blocklist_version(),
        },
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
