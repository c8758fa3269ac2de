"""Near-duplicate detection spread over curation workers (see core.near_dedup).

Tasks take the work directory (on storage all workers mount) and a run key naming the
run's band store in Redis; each is idempotent, so a redelivery changes nothing. Given the
curation run's id, a task beats the run while it works, so the run stays alive to the
watchdog while its shards are spread over the workers.
"""

from __future__ import annotations

from pathlib import Path

import redis
from celery import chain, group
from django.conf import settings

from paddock.curation.core.file_bands import FileBandStore
from paddock.curation.core.near_dedup import WorkDir, index_shard, join_chunk
from paddock.curation.core.redis_bands import RedisBandStore
from paddock.curation.models import CurationRun
from paddock.workers.declare import RetryPolicy, paddock_task
from paddock.workers.heartbeat import Heartbeat
from paddock.workers.queues import Queue
from paddock.workers.states import RunState


def curation_run_heartbeat(run_id: int | None) -> Heartbeat:
    """Beats curation run ``run_id`` while it is running (a finished or failed run is left
    alone; no id, nothing is beaten)."""
    rows = CurationRun.objects.filter(pk=run_id, status=RunState.RUNNING)
    return Heartbeat(rows if run_id is not None else rows.none(),
                     name=f"heartbeat-curation-{run_id}")


def band_store(run_key: str, work_dir: str | None = None) -> RedisBandStore | FileBandStore:
    """Redis for a run up to ``CURATION_REDIS_BANDS_MAX_DOCUMENTS`` documents; past it,
    files under the run's work folder (Redis memory grows with every document)."""
    if work_dir is not None and (
        WorkDir(work_dir).plan.documents > settings.CURATION_REDIS_BANDS_MAX_DOCUMENTS
    ):
        return FileBandStore(str(Path(work_dir) / "bands"))
    client = redis.Redis.from_url(settings.REDIS_URL)
    return RedisBandStore(client, run_key, prefix=settings.REDIS_KEY_PREFIX)


@paddock_task(
    name="curation.near_dedup_index_shard",
    queue=Queue.CURATION,
    idempotent=True,
    retry=RetryPolicy.transient(),
)
def near_dedup_index_shard(work_dir: str, shard: int, run_key: str,
                           run_id: int | None = None) -> int:
    with curation_run_heartbeat(run_id):
        return index_shard(WorkDir(work_dir), shard, band_store(run_key, work_dir))


@paddock_task(
    name="curation.near_dedup_join_chunk",
    queue=Queue.CURATION,
    idempotent=True,
    retry=RetryPolicy.transient(),
)
def near_dedup_join_chunk(work_dir: str, chunk: int, run_key: str,
                          run_id: int | None = None) -> list[int]:
    with curation_run_heartbeat(run_id):
        candidates, edges = join_chunk(WorkDir(work_dir), chunk, band_store(run_key, work_dir))
    return [candidates, edges]


def near_dedup_canvas(work_dir: str, run_key: str, *, run_id: int | None = None):
    """Index every shard, then (only then) verify every chunk: a chord of two groups."""
    plan = WorkDir(work_dir).plan
    beat = {"run_id": run_id} if run_id is not None else {}
    return chain(
        group(near_dedup_index_shard.si(work_dir, s, run_key, **beat)
              for s in range(plan.shards)),
        group(near_dedup_join_chunk.si(work_dir, c, run_key, **beat)
              for c in range(len(plan.join_chunks))),
    )
