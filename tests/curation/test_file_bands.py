"""The band store on files gives the clusters of the in-memory and Redis band stores."""

import numpy as np
from django.conf import settings

from paddock.curation.core.file_bands import FileBandStore
from paddock.curation.core.near_dedup import (
    MemoryBandStore,
    NearDedupConfig,
    WorkDir,
    run_single_process,
)


def corpus(seed: int = 5, n: int = 300) -> list[str]:
    rng = np.random.default_rng(seed)
    vocabulary = [f"word{i}" for i in range(500)]
    bases = [list(rng.choice(vocabulary, size=60)) for _ in range(40)]
    texts = []
    for i in range(n):
        words = list(bases[i % 40]) if i % 3 else list(rng.choice(vocabulary, size=60))
        for _ in range(int(rng.integers(0, 6))):
            words[int(rng.integers(0, len(words)))] = str(rng.choice(vocabulary))
        texts.append(" ".join(words))
    return texts


def clusters(tmp_path, name, store):
    config = NearDedupConfig(shard_documents=70)
    work = WorkDir.create(tmp_path / name, corpus(), config)
    return run_single_process(work, store=store(work))


def test_files_and_memory_give_the_same_clusters(tmp_path):
    memory = clusters(tmp_path, "m", lambda work: MemoryBandStore())
    files = clusters(tmp_path, "f", lambda work: FileBandStore(str(work.path / "bands")))
    assert memory.removed > 20  # the corpus has near duplicates
    np.testing.assert_array_equal(files.duplicate_of, memory.duplicate_of)
    np.testing.assert_array_equal(files.similarity, memory.similarity)
    assert (files.candidate_pairs, files.edges) == (memory.candidate_pairs, memory.edges)


def test_a_shard_indexed_twice_writes_the_same_files(tmp_path):
    store = FileBandStore(str(tmp_path / "bands"))
    assert not store.indexed(0)
    store.append(0, {1: b"a" * 12, 4: b"b" * 12})
    store.append(1, {1: b"c" * 12})
    store.append(0, {1: b"a" * 12, 4: b"b" * 12})  # a redelivery
    assert store.indexed(0) and store.indexed(1)
    assert store.read([1, 4, 9]) == {1: b"a" * 12 + b"c" * 12, 4: b"b" * 12, 9: b""}
    assert store.delete() == 1 and store.read([1]) == {1: b""}


def test_redis_and_files_give_the_same_clusters(tmp_path, redis_client):
    from paddock.curation.core.redis_bands import RedisBandStore

    redis_store = RedisBandStore(redis_client, "bands-vs-files",
                                 prefix=settings.REDIS_KEY_PREFIX)
    try:
        via_redis = clusters(tmp_path, "r", lambda work: redis_store)
    finally:
        redis_store.delete()
    files = clusters(tmp_path, "f", lambda work: FileBandStore(str(work.path / "bands")))
    np.testing.assert_array_equal(files.duplicate_of, via_redis.duplicate_of)
