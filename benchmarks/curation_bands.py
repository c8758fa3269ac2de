"""Memory of near dedup's LSH band store per document: Redis vs files on shared storage.

Why: the Redis band store (core/redis_bands.py) keeps every (band key, document) record of
a run in Redis memory until the run ends. This measures Redis bytes per document (the
growth of ``used_memory`` and the sum of ``MEMORY USAGE`` of the run's keys) and the
bytes the file band store writes, for the default config (its bands x 12-byte records),
to set ``PADDOCK_CURATION_REDIS_BANDS_MAX_DOCUMENTS``: past it, files.

Corpus: synthetic documents of 30-80 words over a 5,000-word vocabulary (seeded); band
keys of distinct documents rarely collide, so bytes grow linearly with documents.

    python -m benchmarks.curation_bands [--quick] [--documents N]
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from benchmarks.common import clear_redis_keys, isolate_environment, write_results


def corpus(n: int, seed: int = 19) -> list[str]:
    rng = random.Random(seed)  # noqa: S311 - a seeded corpus, not a secret
    vocabulary = [f"w{i}" for i in range(5000)]
    return [" ".join(rng.choices(vocabulary, k=rng.randint(30, 80))) for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--documents", type=int)
    args = parser.parse_args()
    documents = args.documents or (2_000 if args.quick else 100_000)
    isolate_environment()
    import django

    django.setup()
    import redis
    from django.conf import settings

    from paddock.curation.core.file_bands import FileBandStore
    from paddock.curation.core.near_dedup import NearDedupConfig, WorkDir, index_shard
    from paddock.curation.core.redis_bands import RedisBandStore

    config = NearDedupConfig(shard_documents=10_000)
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        with tempfile.TemporaryDirectory(prefix="bands-") as scratch:
            work = WorkDir.create(Path(scratch) / "work", corpus(documents), config)
            store = RedisBandStore(client, "bench", prefix=settings.REDIS_KEY_PREFIX)
            before = client.info("memory")["used_memory"]
            for shard in range(work.plan.shards):
                index_shard(work, shard, store)
            after = client.info("memory")["used_memory"]
            keys = list(client.scan_iter(match=f"{store.base}*", count=1000))
            key_bytes = sum(client.memory_usage(key) or 0 for key in keys)
            files = FileBandStore(str(Path(scratch) / "bands"))
            for shard in range(work.plan.shards):
                index_shard(work, shard, files)
            file_bytes = sum(p.stat().st_size for p in (Path(scratch) / "bands").rglob("*.bin"))
            store.delete()
    finally:
        clear_redis_keys()
    bands, rows = config.bands_rows
    write_results("curation_bands", {
        "documents": documents,
        "bands": bands,
        "rows": rows,
        "record_bytes_per_document": bands * 12,
        "redis_used_memory_bytes_per_document": round((after - before) / documents, 1),
        "redis_key_bytes_per_document": round(key_bytes / documents, 1),
        "redis_keys": len(keys),
        "file_bytes_per_document": round(file_bytes / documents, 1),
        "redis_max_documents_setting": settings.CURATION_REDIS_BANDS_MAX_DOCUMENTS,
    }, quick=args.quick)


if __name__ == "__main__":
    main()
