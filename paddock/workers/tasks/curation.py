"""Curation as Celery jobs on the ``curation`` queue: ingest a source, run a pipeline.

A run's stages are declared once (:data:`paddock.curation.services.runs.STAGES`): the
quality stage fans out, one task per document-store shard; exact dedup (a reduction over
one column) runs in the task after it; near dedup fans out over shards (see
:mod:`paddock.workers.tasks.near_dedup`); a final task records clusters and runs the
stages after it. A failure anywhere marks the run failed with the error, so a manager sees
it on the run's page. Every task of a run beats the run's row while it works
(:mod:`paddock.workers.heartbeat`), so the watchdog fails a run whose worker was lost.
"""

from __future__ import annotations

import logging

from celery import group
from celery.result import AsyncResult

from paddock.curation.core.near_dedup import WorkDir
from paddock.curation.models import CurationRun
from paddock.curation.services import runs
from paddock.curation.services.ingest import source_ingest
from paddock.curation.services.ingest_paths import ingest_path_check
from paddock.platform.failure_text import failure_sentence
from paddock.workers.declare import RetryPolicy, paddock_task
from paddock.workers.jobs import report_progress
from paddock.workers.queues import Queue
from paddock.workers.tasks.near_dedup import (
    band_store,
    curation_run_heartbeat,
    near_dedup_canvas,
)

logger = logging.getLogger(__name__)


@paddock_task(name="curation.ingest_source", queue=Queue.CURATION, idempotent=True)
def ingest_source(
    path: str, name: str, fmt: str = "auto", text_field: str = "text", url_field: str = "url"
) -> dict:
    """Reads only under the ingest roots, checked again here where the file is opened
    (the request's check ran on the web host, maybe before a symlink was swapped in)."""
    source, created = source_ingest(
        path=ingest_path_check(path), name=name, fmt=fmt, text_field=text_field,
        url_field=url_field, progress=report_progress,
    )
    return {
        "source_id": source.pk, "created": created,
        "documents": source.documents, "problems": source.problems,
    }


@paddock_task(name="curation.run", queue=Queue.CURATION, idempotent=True)
def run_pipeline(run_id: int) -> dict:
    """Start the run: the quality stage fans out, one task per document-store shard (the
    filter chain is the CPU cost); then :func:`after_quality` continues."""
    run = CurationRun.objects.get(pk=run_id)
    runs.run_begin(run)
    run.refresh_from_db()
    with curation_run_heartbeat(run_id):
        try:
            runs.quality_begin(run)
            shards = runs.run_shards(run)
            runs.RunReporter(run)(0.0, f"quality: {len(shards)} shards on the curation workers")
        except Exception as exc:
            runs.run_fail_on(run, exc)
            raise
    canvas = (group(quality_shard.si(run_id, source_id, index) for source_id, index in shards)
              | after_quality.si(run_id))
    canvas.on_error(run_failed.s(run_id=run_id)).apply_async()
    return {"quality_shards": len(shards)}


@paddock_task(name="curation.quality_shard", queue=Queue.CURATION, idempotent=True,
              retry=RetryPolicy.transient())
def quality_shard(run_id: int, source_id: int, shard: int) -> list[int]:
    """One store shard through the quality gate; a redelivery rewrites its own drops."""
    run = CurationRun.objects.get(pk=run_id)
    with curation_run_heartbeat(run_id):
        return list(runs.quality_shard(run, source_id, shard))


@paddock_task(name="curation.after_quality", queue=Queue.CURATION, idempotent=True)
def after_quality(run_id: int) -> dict:
    """Count the quality stage, exact dedup (a reduction over one column) here, then hand
    near dedup's shards to the workers."""
    run = CurationRun.objects.get(pk=run_id)
    reporter = runs.RunReporter(run)
    with curation_run_heartbeat(run_id):
        try:
            if runs.SHARD_FAN_OUT.value not in run.completed_stages:
                runs.quality_finish(run)
            runs.stages_run_in_turn(run, runs.STAGES_BETWEEN_FAN_OUTS, reporter)
            work = runs.near_prepare(run)
            reporter(0.0, f"near dedup: {work.plan.shards} shards on the curation workers")
        except Exception as exc:
            runs.run_fail_on(run, exc)
            raise
    run_canvas(run_id, str(work.path), runs.run_key(run)).apply_async()
    return {"shards": work.plan.shards, "join_chunks": len(work.plan.join_chunks)}


def run_canvas(run_id: int, work_dir: str, run_key: str):
    """Near dedup over the shards, then the finishing stages; any failure fails the run."""
    canvas = near_dedup_canvas(work_dir, run_key, run_id=run_id) | finish_run.si(run_id)
    return canvas.on_error(run_failed.s(run_id=run_id))


@paddock_task(name="curation.finish_run", queue=Queue.CURATION, idempotent=True)
def finish_run(run_id: int) -> dict:
    run = CurationRun.objects.get(pk=run_id)
    reporter = runs.RunReporter(run)
    with curation_run_heartbeat(run_id):
        try:
            if runs.FAN_OUT.value not in run.completed_stages:
                runs.near_record(run, WorkDir(runs.work_dir(run)))
            runs.stages_run_in_turn(run, runs.STAGES_AFTER_FAN_OUT, reporter)
        except Exception as exc:
            runs.run_fail_on(run, exc)
            raise
    runs.run_succeed(run)
    band_store(runs.run_key(run), str(runs.work_dir(run))).delete()
    manifest = run.manifest
    return {"records": manifest["records"], "shards": len(manifest["shards"])}


@paddock_task(name="curation.run_failed", queue=Queue.CURATION)
def run_failed(task_id: str, *, run_id: int) -> None:
    """Errback of a run's canvas: record which task failed and why."""
    failed = AsyncResult(task_id)
    error = failed.result
    what = f"{type(error).__name__}: {error}"
    if isinstance(error, BaseException):  # else a result Celery could not rebuild
        logger.error("curation run %s: task %s failed", run_id, task_id, exc_info=error)
        what = failure_sentence(error, reference=f"task {task_id}")
    runs.run_fail(
        CurationRun.objects.get(pk=run_id),
        f"{failed.name or 'task'} {list(failed.args or [])} ({task_id}) failed: {what}",
    )
