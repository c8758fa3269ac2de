"""Near-duplicate detection: datasketch as usually used vs paddock, on the same corpus.

Corpus: families of seeded edited copies of real text from ../shared/data (about 1 KB
each, similarity to the family's base spread over 0.5 to 1.0); ground truth is every pair
with exact word-5-gram Jaccard >= 0.8, computed.

Side by side, in one run:
  (a) datasketch, the obvious way: MinHash.update per shingle, in-memory MinHashLSH
  (b) datasketch's stock Redis storage (same MinHashes as (a); insert + query)
  (c) paddock, single process (raw text in, kept set out)
  (d) paddock, 2 Celery workers sharing the band store in Redis

Quality, scored the peers' way (every two documents of one cluster are a predicted pair:
"cluster-pair" precision and recall) beside paddock's verified-edge precision, on a plain
corpus and on a smart-punctuation one (half the documents typographic, a tenth of the
families non-Latin), for paddock (connected, star and center clusters, each with the
seconds of its whole run and of ``cluster`` alone), datasketch's MinHashLSH
(pairs from its queries, clustered by union-find; it is handed the corpus's canonical words,
so typography cannot hurt it: it measures LSH alone) and datatrove 0.10.1's MinHash pipeline
with its defaults (signature, buckets, cluster steps run in this process), and the ceiling
of any clustering: the best min(P, R), and the best recall at precision 0.95, that any
partition of the documents reaches on the truth (tests.support.near_dup_corpus.
partition_ceiling). Also the cost of
the v2 shingle scheme: index_shard docs/s with v1 and v2 on the same documents.

    python -m benchmarks.dedup [--quick] [--documents N] [--quality-documents N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.common import isolate_environment, shared_data


def pairs_of(left, right) -> set[tuple[int, int]]:
    return {(int(min(a, b)), int(max(a, b))) for a, b in zip(left, right, strict=True)}


def run_datasketch_memory(corpus, threshold: float, num_perm: int):
    from datasketch import MinHash, MinHashLSH

    from tests.support.near_dup_corpus import shingle_set

    start = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    minhashes, predicted = [], set()
    for doc, words in enumerate(corpus.words):
        m = MinHash(num_perm=num_perm)
        for shingle in shingle_set(words):
            m.update(" ".join(shingle).encode("utf-8"))
        for other in lsh.query(m):
            predicted.add((min(doc, other), max(doc, other)))
        lsh.insert(doc, m)
        minhashes.append(m)
    return time.perf_counter() - start, predicted, minhashes


def run_datasketch_redis(minhashes, threshold: float, num_perm: int, redis_url: str):
    """Insert and query every MinHash through datasketch's Redis storage; commands counted."""
    import redis
    from datasketch import MinHashLSH

    client = redis.Redis.from_url(redis_url)
    basename = f"paddock-bench-ds-{uuid.uuid4().hex[:8]}".encode()
    kwargs = client.connection_pool.connection_kwargs
    config = {
        "type": "redis",
        "basename": basename,
        "redis": {"host": kwargs.get("host"), "port": kwargs.get("port"), "db": kwargs.get("db")},
    }
    before = client.info("stats")["total_commands_processed"]
    start = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, storage_config=config)
    for doc, m in enumerate(minhashes):
        lsh.query(m)
        lsh.insert(doc, m)
    elapsed = time.perf_counter() - start
    commands = client.info("stats")["total_commands_processed"] - before
    keys = list(client.scan_iter(match=basename + b"*", count=10_000))
    for i in range(0, len(keys), 10_000):
        client.delete(*keys[i : i + 10_000])
    return elapsed, commands


def run_paddock_single(texts, config, shard_size: int):
    from paddock.curation.core.near_dedup import WorkDir, load_edges, run_single_process

    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        work = WorkDir.create(directory, texts, config, shard_size=shard_size)
        result = run_single_process(work)
        elapsed = time.perf_counter() - start
        left, right, _ = load_edges(work)
    return elapsed, result, pairs_of(left, right)


def run_paddock_workers(texts, config, shard_size: int, workers: int):
    import redis
    from django.conf import settings

    from paddock.curation.core.near_dedup import WorkDir, cluster, load_edges
    from paddock.curation.core.redis_bands import RedisBandStore
    from paddock.platform.celery import app
    from paddock.workers.tasks.near_dedup import near_dedup_canvas
    from tests.support.celery_worker import WorkerProcess, worker_environment

    env = worker_environment(settings_module="paddock.platform.settings")
    logs = Path(tempfile.mkdtemp())
    started = [WorkerProcess(queues=["curation"], env=env, log_dir=logs) for _ in range(workers)]
    for worker in started:
        worker.start(app)
    try:
        with tempfile.TemporaryDirectory(dir=settings.ARTIFACTS_DIR) as warm_dir:
            # Load the compiled kernels in every worker before the clock starts.
            warm = WorkDir.create(warm_dir, texts[:200], config, shard_size=50)
            near_dedup_canvas(str(warm.path), f"warm-{uuid.uuid4().hex[:6]}").apply_async().get(
                timeout=300
            )
        client = redis.Redis.from_url(settings.REDIS_URL)
        with tempfile.TemporaryDirectory(dir=settings.ARTIFACTS_DIR) as directory:
            run_key = f"bench-{uuid.uuid4().hex[:8]}"
            before = client.info("stats")["total_commands_processed"]
            start = time.perf_counter()
            work = WorkDir.create(directory, texts, config, shard_size=shard_size)
            near_dedup_canvas(str(work.path), run_key).apply_async().get(timeout=1800)
            result = cluster(work)
            elapsed = time.perf_counter() - start
            commands = client.info("stats")["total_commands_processed"] - before
            left, right, _ = load_edges(work)
            RedisBandStore(client, run_key, prefix=settings.REDIS_KEY_PREFIX).delete()
    finally:
        for worker in started:
            worker.stop()
    return elapsed, result, pairs_of(left, right), commands


QUICK_QUALITY_DOCUMENTS = 500
QUALITY_DOCUMENTS = 20_000
SMART = {"typographic": 0.5, "non_latin": 0.1}


def _corpora(documents: int) -> dict:
    from tests.support.near_dup_corpus import build_corpus

    data = shared_data("dedup", needs="")
    return {
        "": build_corpus(data, documents),
        "_smart_punctuation": build_corpus(data, documents, **SMART),
    }


def paddock_quality(corpus, truth, config) -> dict:
    """Cluster-pair precision/recall and edge precision/recall of one paddock run, its
    seconds, and the seconds of ``cluster`` alone (best of 3 reruns on the same edges, the
    kernels already loaded: the cost of the cluster mode)."""
    from paddock.curation.core.near_dedup import WorkDir, cluster, load_edges, run_single_process
    from tests.support.near_dup_corpus import cluster_pairs, precision_recall

    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        work = WorkDir.create(directory, corpus.texts, config)
        result = run_single_process(work)
        seconds = time.perf_counter() - start
        left, right, _ = load_edges(work)
        cluster_seconds = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            cluster(work)
            cluster_seconds = min(cluster_seconds, time.perf_counter() - start)
    clusters = precision_recall(cluster_pairs(result.kept_of), truth, corpus)
    edges = precision_recall(pairs_of(left, right), truth, corpus)
    return {
        "precision": clusters["precision"], "recall": clusters["recall"],
        "edge_precision": edges["precision"], "edge_recall": edges["recall"],
        "removed": result.removed, "seconds": seconds, "cluster_seconds": cluster_seconds,
    }


def dedup_quality(quick: bool) -> dict:
    """paddock's cluster-pair precision and recall, default config, on the plain and the
    smart-punctuation corpus (for other benchmarks to import)."""
    from paddock.curation.core.near_dedup import NearDedupConfig

    documents = QUICK_QUALITY_DOCUMENTS if quick else QUALITY_DOCUMENTS
    out = {}
    for suffix, corpus in _corpora(documents).items():
        truth, _ = corpus.true_pairs(NearDedupConfig().threshold)
        quality = paddock_quality(corpus, truth, NearDedupConfig())
        out[f"dedup_precision{suffix}"] = round(quality["precision"], 4)
        out[f"dedup_recall{suffix}"] = round(quality["recall"], 4)
    return out


def datasketch_quality(corpus, truth, threshold: float, num_perm: int) -> dict:
    from tests.support.near_dup_corpus import cluster_pairs, precision_recall, union_find_clusters

    seconds, pairs, _ = run_datasketch_memory(corpus, threshold, num_perm)
    clusters = precision_recall(
        cluster_pairs(union_find_clusters(len(corpus.texts), pairs)), truth, corpus
    )
    edges = precision_recall(pairs, truth, corpus)
    return {
        "precision": clusters["precision"], "recall": clusters["recall"],
        "edge_precision": edges["precision"], "edge_recall": edges["recall"], "seconds": seconds,
    }


def datatrove_quality(corpus, truth) -> dict:
    """datatrove's MinHash steps with their defaults (5-grams, 14 buckets x 8 hashes), in
    this process, one rank; its clusters are read from the .clusters file."""
    import logging
    import struct

    from datatrove.data import Document
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupSignature,
    )
    from loguru import logger

    from tests.support.near_dup_corpus import cluster_pairs, precision_recall

    logger.remove()
    logging.getLogger("datatrove").setLevel(logging.WARNING)
    config = MinhashConfig()
    documents = (Document(text=t, id=str(i)) for i, t in enumerate(corpus.texts))
    kept_of = list(range(len(corpus.texts)))
    with tempfile.TemporaryDirectory() as d:
        start = time.perf_counter()
        MinhashDedupSignature(f"{d}/sigs", config=config).run(documents, rank=0, world_size=1)
        for bucket in range(config.num_buckets):
            MinhashDedupBuckets(f"{d}/sigs", f"{d}/buckets", config=config).run(
                rank=bucket, world_size=config.num_buckets
            )
        MinhashDedupCluster(
            f"{d}/buckets", f"{d}/clusters", config=config, save_cluster_id=True
        ).run()
        seconds = time.perf_counter() - start
        path = Path(d) / "clusters" / "000000.clusters"
        data = path.read_bytes() if path.exists() else b""
        for doc, cluster_id in struct.iter_unpack("<II", data):
            kept_of[doc] = -1 - cluster_id  # a label shared by the cluster's members
    clusters = precision_recall(cluster_pairs(kept_of), truth, corpus)
    return {"precision": clusters["precision"], "recall": clusters["recall"], "seconds": seconds}


def shingle_scheme_cost(texts: list[str], repeats: int = 3) -> dict:
    """index_shard docs/s (normalise, shingle, sign, band) with v1 and v2, best of repeats."""
    from paddock.curation.core import minhash
    from paddock.curation.core.near_dedup import (
        MemoryBandStore,
        NearDedupConfig,
        WorkDir,
        index_shard,
    )

    minhash.code_point_classes()  # built once per process (about 0.2 s), not per shard
    out = {}
    for scheme in minhash.SHINGLE_SCHEMES:
        config = NearDedupConfig(shingle_scheme=scheme)
        best = float("inf")
        for _ in range(repeats + 1):  # the first run compiles / loads the kernels
            with tempfile.TemporaryDirectory() as d:
                work = WorkDir.create(d, texts, config, shard_size=len(texts))
                start = time.perf_counter()
                index_shard(work, 0, MemoryBandStore())
                best = min(best, time.perf_counter() - start)
        out[scheme.rsplit("-", 1)[-1]] = round(len(texts) / best)
    return out


def quality_figures(documents: int, *, datatrove: bool = True) -> dict:
    from paddock.curation.core.near_dedup import NearDedupConfig
    from tests.support.near_dup_corpus import partition_ceiling

    figures: dict = {"quality_documents": documents}
    for suffix, corpus in _corpora(documents).items():
        config = NearDedupConfig()
        truth, _ = corpus.true_pairs(config.threshold)
        tag = suffix or "_plain"
        figures[f"true_pairs{tag}"] = len(truth)
        ceiling = partition_ceiling(truth)  # what any clustering rule can reach at best
        figures[f"any_partition_best_min_precision_recall{tag}"] = round(
            ceiling["best_balanced"], 4
        )
        figures[f"any_partition_best_recall_at_precision_0.95{tag}"] = round(
            ceiling["best_recall_at_precision_0.95"], 4
        )
        runs = {
            "paddock_connected": paddock_quality(corpus, truth, config),
            "paddock_star": paddock_quality(corpus, truth, NearDedupConfig(cluster_mode="star")),
            "paddock_center": paddock_quality(
                corpus, truth, NearDedupConfig(cluster_mode="center")
            ),
            "datasketch": datasketch_quality(corpus, truth, config.threshold, config.num_perm),
        }
        if not datatrove:
            figures["datatrove_skipped"] = "quick mode: about 30 s even for 1,000 documents"
        else:
            try:
                runs["datatrove"] = datatrove_quality(corpus, truth)
            except Exception as error:  # reported, not hidden
                figures[f"datatrove_error{tag}"] = f"{type(error).__name__}: {error}"
        for name, quality in runs.items():
            for key, value in quality.items():
                rounded = round(value, 4) if isinstance(value, float) else value
                figures[f"{name}_{key}{tag}"] = rounded
            print(f"{name}{tag}: cluster-pair P {quality['precision']:.3f} "
                  f"R {quality['recall']:.3f}", flush=True)
        if not suffix:
            figures["index_shard_docs_per_second_by_scheme"] = shingle_scheme_cost(
                corpus.texts[:min(documents, 20_000)]
            )
    figures["dedup_precision"] = figures["paddock_connected_precision_plain"]
    figures["dedup_recall"] = figures["paddock_connected_recall_plain"]
    figures["dedup_precision_smart_punctuation"] = figures[
        "paddock_connected_precision_smart_punctuation"
    ]
    figures["dedup_recall_smart_punctuation"] = figures[
        "paddock_connected_recall_smart_punctuation"
    ]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small corpus, to check it runs")
    parser.add_argument("--documents", type=int, help="corpus size (default 100,000)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--quality-documents", type=int,
        help=f"corpus size of the quality comparison (default {QUALITY_DOCUMENTS:,})",
    )
    parser.add_argument(
        "--redis-documents", type=int, default=20_000,  # --quick: all (1,000)
        help="(b) runs on the first N documents: one round trip per band per call is slow",
    )
    args = parser.parse_args()
    documents = args.documents or (1_000 if args.quick else 100_000)
    shard_size = max(documents // 10, 100)

    isolate_environment()
    import django

    django.setup()
    import numpy as np
    from django.conf import settings

    from benchmarks.common import write_results
    from paddock.curation.core.near_dedup import NearDedupConfig
    from tests.support.near_dup_corpus import build_corpus, precision_recall

    Path(settings.ARTIFACTS_DIR).mkdir(parents=True, exist_ok=True)
    config = NearDedupConfig()
    print(f"building a corpus of {documents:,} documents ...", flush=True)
    corpus = build_corpus(shared_data("dedup", needs=""), documents)
    truth, similarities = corpus.true_pairs(config.threshold)
    histogram = np.histogram(similarities, bins=[0.5, 0.6, 0.7, 0.8, 0.9, 1.0001])[0]
    print(f"ground truth: {len(truth):,} pairs >= {config.threshold}", flush=True)

    a_seconds, a_pairs, minhashes = run_datasketch_memory(corpus, config.threshold, config.num_perm)
    a_quality = precision_recall(a_pairs, truth, corpus)
    print(f"(a) datasketch in memory: {a_seconds:.1f} s", flush=True)
    b_documents = min(args.redis_documents, documents)
    b_seconds, b_commands = run_datasketch_redis(
        minhashes[:b_documents], config.threshold, config.num_perm, settings.REDIS_URL
    )
    print(f"(b) datasketch Redis storage: {b_seconds:.1f} s, {b_commands:,} commands", flush=True)
    c_seconds, c_result, c_pairs = run_paddock_single(corpus.texts, config, shard_size)
    c_quality = precision_recall(c_pairs, truth, corpus)
    print(f"(c) paddock single process: {c_seconds:.2f} s", flush=True)
    d_seconds, d_result, d_pairs, d_commands = run_paddock_workers(
        corpus.texts, config, shard_size, args.workers
    )
    d_quality = precision_recall(d_pairs, truth, corpus)
    print(f"(d) paddock {args.workers} workers: {d_seconds:.2f} s", flush=True)
    same_kept = bool(np.array_equal(c_result.duplicate_of, d_result.duplicate_of))

    quality = quality_figures(
        args.quality_documents or (QUICK_QUALITY_DOCUMENTS if args.quick else QUALITY_DOCUMENTS),
        datatrove=not args.quick,
    )
    write_results(
        "dedup",
        {
            **quality,
            "documents": documents,
            "mean_document_bytes": round(sum(len(t.encode()) for t in corpus.texts) / documents),
            "true_pairs": len(truth),
            "family_pair_similarity_histogram_0.5_to_1": histogram.tolist(),
            "config": str(config),
            "a_datasketch_memory_seconds": round(a_seconds, 2),
            "a_docs_per_second": round(documents / a_seconds),
            "a_precision": round(a_quality["precision"], 4),
            "a_recall": round(a_quality["recall"], 4),
            "b_documents": b_documents,
            "b_datasketch_redis_seconds": round(b_seconds, 2),
            "b_docs_per_second": round(b_documents / b_seconds),
            "b_redis_commands_per_document": round(b_commands / b_documents, 1),
            "c_paddock_single_seconds": round(c_seconds, 2),
            "c_docs_per_second": round(documents / c_seconds),
            "c_precision": round(c_quality["precision"], 4),
            "c_recall": round(c_quality["recall"], 4),
            "c_removed": c_result.removed,
            "c_speedup_over_a": round(a_seconds / c_seconds, 1),
            "d_paddock_workers": args.workers,
            "d_paddock_workers_seconds": round(d_seconds, 2),
            "d_docs_per_second": round(documents / d_seconds),
            "d_precision": round(d_quality["precision"], 4),
            "d_recall": round(d_quality["recall"], 4),
            "d_redis_commands_per_document": round(d_commands / documents, 3),
            "d_speedup_over_c": round(c_seconds / d_seconds, 2),
            "d_same_kept_set_as_c": same_kept,
        },
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
