"""Near-duplicate detection spread over curation workers (see core.near_dedup).

Tasks take the work directory (on storage all workers mount) and a run key naming the
run's band store in Redis; each is idempotent, so a redelivery changes nothing.
"""

from __future__ import annotations

import redis
from celery import chain, group
from django.conf import settings

from paddock.curation.core.near_dedup import WorkDir, index_shard, join_chunk
from paddock.curation.core.redis_bands import RedisBandStore
from paddock.workers.declare import RetryPolicy, paddock_task
from paddock.workers.queues import Queue


def band_store(run_key: str) -> RedisBandStore:
    client = redis.Redis.from_url(settings.REDIS_URL)
    return RedisBandStore(client, run_key, prefix=settings.REDIS_KEY_PREFIX)


@paddock_task(
    name="curation.near_dedup_index_shard",
    queue=Queue.CURATION,
    idempotent=True,
    retry=RetryPolicy.transient(),
)
def near_dedup_index_shard(work_dir: str, shard: int, run_key: str) -> int:
    return index_shard(WorkDir(work_dir), shard, band_store(run_key))


@paddock_task(
    name="curation.near_dedup_join_chunk",
    queue=Queue.CURATION,
    idempotent=True,
    retry=RetryPolicy.transient(),
)
def near_dedup_join_chunk(work_dir: str, chunk: int, run_key: str) -> list[int]:
    candidates, edges = join_chunk(WorkDir(work_dir), chunk, band_store(run_key))
    return [candidates, edges]


def near_dedup_canvas(work_dir: str, run_key: str):
    """Index every shard, then (only then) verify every chunk: a chord of two groups."""
    plan = WorkDir(work_dir).plan
    return chain(
        group(near_dedup_index_shard.si(work_dir, s, run_key) for s in range(plan.shards)),
        group(
            near_dedup_join_chunk.si(work_dir, c, run_key) for c in range(len(plan.join_chunks))
        ),
    )
