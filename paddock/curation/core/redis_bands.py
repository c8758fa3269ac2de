"""The LSH band store in Redis, shared by curation workers on several machines.

Layout, per run: one Redis string per partition (band, key range) holding packed
(band key, document) records, appended with APPEND; one marker per indexed shard. A
shard's appends and its marker go in one MULTI/EXEC pipeline: one round trip per shard
instead of datasketch's one round trip per band per document. Everything expires after
``ttl_seconds`` so an abandoned run cannot fill Redis; :meth:`delete` cleans up at the end.
"""

from __future__ import annotations

import redis

DEFAULT_TTL_SECONDS = 7 * 24 * 60 * 60


class RedisBandStore:
    def __init__(
        self,
        client: redis.Redis,
        run_key: str,
        *,
        prefix: str = "",
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        read_batch: int = 16,
    ) -> None:
        self.client = client
        self.base = f"{prefix}curation:lsh:{run_key}:"
        self.ttl = ttl_seconds
        self.read_batch = read_batch

    def _partition_key(self, partition: int) -> str:
        return f"{self.base}p:{partition}"

    def _shard_key(self, shard: int) -> str:
        return f"{self.base}indexed:{shard}"

    def indexed(self, shard: int) -> bool:
        return bool(self.client.exists(self._shard_key(shard)))

    def append(self, shard: int, records: dict[int, bytes]) -> None:
        with self.client.pipeline(transaction=True) as pipe:
            for partition, data in sorted(records.items()):
                key = self._partition_key(partition)
                pipe.append(key, data)
                pipe.expire(key, self.ttl)
            pipe.set(self._shard_key(shard), 1, ex=self.ttl)
            pipe.execute()

    def read(self, partitions: list[int]) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        for start in range(0, len(partitions), self.read_batch):
            batch = partitions[start : start + self.read_batch]
            with self.client.pipeline(transaction=False) as pipe:
                for partition in batch:
                    pipe.get(self._partition_key(partition))
                values = pipe.execute()
            out.update({p: v or b"" for p, v in zip(batch, values, strict=True)})
        return out

    def delete(self) -> int:
        keys = list(self.client.scan_iter(match=f"{self.base}*", count=1000))
        return self.client.delete(*keys) if keys else 0
