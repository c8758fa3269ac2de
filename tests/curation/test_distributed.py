"""Several real curation workers (the quality stage a task per document-store shard, near
dedup sharing the LSH band store in Redis) give exactly the result of one process: the
same drops, the same evidence, the same export bytes."""

import json
import time
from pathlib import Path

import pytest

from paddock.curation.core.config import CurationConfig, ExportConfig
from paddock.curation.core.near_dedup import NearDedupConfig
from paddock.curation.core.quality import NO_TEXT_FILTERS
from paddock.curation.models import CurationRun, DroppedDocument, RunStatus
from paddock.curation.services import runs
from paddock.workers.jobs import job_enqueue
from paddock.workers.tasks.curation import run_pipeline

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CONFIG = CurationConfig(
    quality=NO_TEXT_FILTERS,  # tiny synthetic documents: the length gates only
    near_dedup=NearDedupConfig(shard_documents=60),  # several shards for two workers
    export=ExportConfig(source_weights={"wikipedia": 2.0}, shard_records=100),
)


@pytest.fixture(scope="session")
def curation_workers(start_worker):
    return [start_worker(["curation"]), start_worker(["curation"])]


def drops_of(run) -> set[tuple]:
    return set(
        (*row[:-1], json.dumps(row[-1], sort_keys=True))
        for row in DroppedDocument.objects.filter(run=run).values_list(
            "source_id", "position", "url", "domain", "locator", "stage", "reason",
            "duplicate_of_source_id", "duplicate_of_position", "duplicate_of_ref", "similarity",
            "detail",
        )
    )


def export_files(run) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(Path(run.export_dir).iterdir())}


def wait_for(run: CurationRun, workers, timeout: float = 180.0) -> CurationRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            return run
        time.sleep(0.2)
    logs = "\n".join(worker.log()[-3000:] for worker in workers)
    raise AssertionError(f"run stayed {run.status} ({run.message}); worker logs:\n{logs}")


def test_two_workers_on_redis_match_a_single_process(real_sources, curation_workers):
    local = runs.run_create(name="local", sources=real_sources, config=CONFIG)
    runs.run_stages(local, runs.STAGES)
    local.refresh_from_db()

    distributed = runs.run_create(name="distributed", sources=real_sources, config=CONFIG)
    job_enqueue(task=run_pipeline, kwargs={"run_id": distributed.pk})
    distributed = wait_for(distributed, curation_workers)

    assert distributed.status == RunStatus.SUCCEEDED, distributed.error
    assert distributed.heartbeat_at is not None  # its tasks beat it for the watchdog
    assert local.heartbeat_at is None  # a run in one process has no worker to lose
    plan_shards = len(list(runs.work_dir(distributed).glob("shard-*")))
    assert plan_shards > 4
    assert drops_of(distributed) == drops_of(local)
    assert distributed.stage_counts == local.stage_counts
    assert export_files(distributed) == export_files(local)
    assert runs.drop_counts(distributed)["near_duplicate"] >= 2  # the Alice copies
    assert len(runs.run_shards(distributed)) == len(real_sources)  # quality: a task each


def test_a_failing_finishing_stage_fails_the_run_with_the_error(real_sources, curation_workers):
    run = runs.run_create(name="doomed", sources=real_sources[:1], config=CONFIG)
    run.config = {**run.config, "export": {**run.config["export"],
                                          "source_weights": {"wikipedia": -1}}}
    run.save(update_fields=["config"])
    job_enqueue(task=run_pipeline, kwargs={"run_id": run.pk})
    run = wait_for(run, curation_workers)
    assert run.status == RunStatus.FAILED
    assert "weight must be >= 0" in run.error


def test_a_failing_shard_task_fails_the_run_through_the_errback(real_sources, curation_workers):
    from django.conf import settings

    from paddock.curation.core.near_dedup import WorkDir
    from paddock.workers.tasks.curation import run_canvas

    run = runs.run_create(name="broken shard", sources=real_sources[:1], config=CONFIG)
    runs.run_begin(run)
    work = WorkDir.create(
        Path(settings.ARTIFACTS_DIR) / "broken", ["some words here"] * 100, CONFIG.near_dedup
    )
    (work.shard_dir(1) / "texts.bin").unlink()
    run_canvas(run.pk, str(work.path), "broken").apply_async()
    run = wait_for(run, curation_workers)
    assert run.status == RunStatus.FAILED
    assert "curation.near_dedup_index_shard" in run.error and "FileNotFoundError" in run.error
