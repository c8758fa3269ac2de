"""Curation at crawl shape: the CLI end to end against the core, memory, Redis, PostgreSQL.

Corpus: ``--documents`` web-shaped JSONL records of about 1 KB, written here from the real
text in ../shared/data (C4, Wikipedia and Common Crawl sentences, seeded): most are fresh
mixes of sentences on a few thousand sites, 8% exact copies of an earlier record, 10%
edited copies (near duplicates), 2% people-search pages on 20 sites.

Measured, in one run, on one corpus:
  core   the same stages as plain functions in one process, nothing stored: read, measure
         (domain, hash, words, language, personal information), quality gate and filters,
         exact and URL dedup, near dedup, per-site PII decision, export with the site
         boilerplate lines stripped
  cli    ``manage.py curate ingest`` then ``curate run`` in one process, on PostgreSQL
  celery ``curate run --celery`` on ``--workers`` curation workers (ingest as in cli)
plus the peak resident memory of any process of a run, Redis memory above its baseline
while runs go (sampled every 0.2 s), PostgreSQL's size and how many bytes of document text
it holds (every text and JSON column of the curation tables searched for sampled
passages of the corpus), and the store's size on disk.

Quality figures are copied from their own benchmarks' result files, with their commits
(dedup: cluster-pair precision and recall, plain and with typographic punctuation;
filters: docs per CPU-second and agreement with datatrove).

    python -m benchmarks.curation [--quick] [--documents N] [--workers 2]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

from benchmarks.common import (
    create_postgres_database,
    drop_postgres_database,
    isolate_environment,
    shared_data,
    write_results,
)

ROOT = Path(__file__).resolve().parents[1]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
PII_SITES = 20

# A Common Crawl snapshot, for the projection (assumptions, stated in the results):
# CC-MAIN-2024-51 holds about 2.6 billion pages; extracted text averages about 3 KB.
SNAPSHOT_PAGES = 2_600_000_000
SNAPSHOT_TEXT_KB_PER_PAGE = 3.0


# --- the corpus ---------------------------------------------------------------------------


def sentence_pool(data: Path) -> list[str]:
    """Sentences of 40-300 characters from the shared real text, in file order."""
    texts: list[str] = []
    with open(data / "web-c4-sample" / "c4_demo.jsonl", encoding="utf-8") as handle:
        texts += [json.loads(line)["text"] for line in handle if line.strip()]
    texts += (data / "wikipedia-sample" / "wiki_demo.txt").read_text(encoding="utf-8").split("\n")
    for name in ("cc_en_head-0091.jsonl.gz", "cc_en_head-0174.jsonl.gz"):
        with gzip.open(data / "web-cc-docs" / name, "rt", encoding="utf-8") as handle:
            texts += [json.loads(line)["text"] for line in handle if line.strip()]
    pool = []
    for text in texts:
        for sentence in _SENTENCE_END.split(" ".join(text.split())):
            if 40 <= len(sentence) <= 300:
                pool.append(sentence)
    return pool


def _people_search_page(rng: random.Random) -> str:
    lines = ["People search results"]
    for _ in range(rng.randint(4, 8)):
        first = rng.choice(["James", "Maria", "Wei", "Ana", "John", "Priya", "Olga", "Ahmed"])
        last = rng.choice(["Smith", "Garcia", "Chen", "Silva", "Brown", "Patel", "Ivanova"])
        lines += [
            f"{first} {last}, age {rng.randint(21, 90)}",
            f"Lives in {rng.choice(['Springfield', 'Riverside', 'Fairview', 'Madison'])}",
            "Phone:",
            f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}",
            f"Email: {first.lower()}.{last.lower()}{rng.randint(1, 99)}@example.com",
        ]
    return "\n".join(lines)


def _edited(text: str, rng: random.Random, share: float = 0.05) -> str:
    words = text.split()
    for _ in range(max(1, int(len(words) * share))):
        i = rng.randrange(len(words))
        if rng.random() < 0.5:
            words[i] = rng.choice(["the", "a", "new", "said", "very", "also", "one"])
        else:
            del words[i]
            if not words:
                return text
    return " ".join(words)


def write_corpus(path: Path, documents: int, data: Path, *, seed: int = 19) -> dict[str, int]:
    """Write the corpus; returns how many records of each kind it holds."""
    rng = random.Random(seed)  # noqa: S311 - a seeded corpus, not a secret
    pool = sentence_pool(data)
    sites = [f"site{k}.{rng.choice(['com', 'org', 'net', 'de', 'co.uk'])}" for k in range(5000)]
    recent: deque[str] = deque(maxlen=10_000)
    kinds = {"fresh": 0, "exact_copy": 0, "edited_copy": 0, "people_search": 0}
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(documents):
            draw = rng.random()
            if draw < 0.08 and recent:
                text, kind = rng.choice(recent), "exact_copy"
            elif draw < 0.18 and recent:
                text, kind = _edited(rng.choice(recent), rng), "edited_copy"
            elif draw < 0.20:
                text, kind = _people_search_page(rng), "people_search"
            else:
                parts, size = [], 0
                while size < 900:
                    sentence = rng.choice(pool)
                    parts.append(sentence)
                    size += len(sentence) + 1
                text, kind = " ".join(parts), "fresh"
                recent.append(text)
            if kind == "people_search":
                site = f"people-finder{rng.randrange(PII_SITES)}.com"
            else:
                site = sites[min(int(rng.paretovariate(1.2)) - 1, len(sites) - 1)
                             if rng.random() < 0.5 else rng.randrange(len(sites))]
            url = f"https://www.{site}/page/{i}"
            handle.write(json.dumps({"text": text, "url": url}, ensure_ascii=False) + "\n")
            kinds[kind] += 1
    return kinds


# --- the core: the same stages as plain functions, nothing stored ------------------------


def run_core(path: Path, scratch: Path) -> dict[str, float]:
    """Every stage in one process over plain Python objects: the floor the CLI is held to."""
    from paddock.curation.core.config import CurationConfig
    from paddock.curation.core.enrich import detect_language, registered_domain
    from paddock.curation.core.export import ExportRecord, write_export
    from paddock.curation.core.export_text import CleaningTally, SiteLines, clean_text
    from paddock.curation.core.filters.urls import normalise_url
    from paddock.curation.core.near_dedup import WorkDir, run_single_process
    from paddock.curation.core.normalize import content_hash
    from paddock.curation.core.pii import count_pii
    from paddock.curation.core.quality import quality_drop
    from paddock.curation.core.readers import read_documents
    from paddock.curation.core.sites import DomainList, SiteStats, decide_site, starter_blocklist
    from paddock.curation.core.words import word_count

    config = CurationConfig()
    start = time.perf_counter()
    cpu = time.process_time()
    kept: list[tuple[str, str, str, str]] = []  # text, url, domain, language
    stats: dict[str, SiteStats] = {}
    seen: set[str] = set()
    seen_urls: set[str] = set()
    read = 0
    for raw in read_documents(path, "jsonl"):
        if not hasattr(raw, "text"):
            continue
        read += 1
        text, url = raw.text, raw.url
        domain = registered_domain(url) if url else ""
        language, score = detect_language(text)
        words = word_count(text)
        counts = count_pii(text)
        if domain:
            stats.setdefault(domain, SiteStats(domain)).add(words, counts)
        drop = quality_drop(text=text, words=words, length=len(text), config=config.quality,
                            language=language, language_score=score, url=url)
        digest = content_hash(text)
        address = normalise_url(url) if url else ""
        if drop is None and digest not in seen and (not address or address not in seen_urls):
            seen.add(digest)
            if address:
                seen_urls.add(address)
            kept.append((text, url, domain, language))
    work = WorkDir.create(scratch / "near", (k[0] for k in kept), config.near_dedup)
    result = run_single_process(work)
    blocklist, allowlist = DomainList(starter_blocklist()), DomainList([])
    excluded = {
        domain for domain, site in stats.items()
        if decide_site(site, config.pii, blocklist=blocklist, allowlist=allowlist).excluded
    }
    survivors = [kept[i] for i in result.kept if kept[i][2] not in excluded]
    lines = SiteLines()
    for text, _url, domain, _language in survivors:
        lines.add(domain, text)
    common, tally = lines.common(), CleaningTally()
    records = (
        ExportRecord(stable_id=f"core:{i}", source="bench", url=url, domain=domain,
                     text=clean_text(text, common.get(domain), redact=False, tally=tally),
                     language=language)
        for i, (text, url, domain, language) in enumerate(survivors)
    )
    write_export(scratch / "export", records, total_records=len(survivors),
                 config=config.export, manifest={})
    return {
        "documents": read,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "exported": len(survivors),
    }


# --- the CLI ------------------------------------------------------------------------------


class RedisSampler:
    """Redis ``used_memory`` sampled in a thread: the peak above the baseline."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.baseline = self.client.info("memory")["used_memory"]
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self.client.info("memory")["used_memory"])

    def __enter__(self) -> RedisSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def megabytes(self) -> float:
        return (self.peak - self.baseline) / 2**20


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def manage(env: dict[str, str], *args: str, timeout: float = 7200) -> float:
    """Run ``manage.py`` with ``args``; returns its wall seconds, or exits with its output."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return time.perf_counter() - start


def wait_for_run(name: str, timeout: float) -> None:
    from paddock.curation.models import CurationRun, RunState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = CurationRun.objects.filter(name=name).first()
        if run is not None and run.status == RunState.SUCCEEDED:
            return
        if run is not None and run.status == RunState.FAILED:
            sys.exit(f"curation run {name} failed: {run.error}")
        time.sleep(0.5)
    sys.exit(f"curation run {name} did not finish within {timeout:.0f} s")


def postgres_figures(database: str, samples: list[str]) -> dict[str, float]:
    """The database's size, and the bytes of every curation column value that holds one of
    the sampled passages of document text (0 when no document text is stored)."""
    import psycopg
    from psycopg import sql

    url = f"postgres://postgres@127.0.0.1:5432/{database}"
    with psycopg.connect(url, autocommit=True) as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        columns = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name LIKE 'curation%%' "
            "AND data_type IN ('text', 'character varying', 'jsonb', 'json')"
        ).fetchall()
        patterns = ["%" + s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                    for s in samples]
        text_bytes = 0
        for table, column in columns:
            query = sql.SQL(
                "SELECT coalesce(sum(octet_length({column}::text)), 0) FROM {table} "
                "WHERE {column}::text LIKE ANY(%s)"
            ).format(column=sql.Identifier(column), table=sql.Identifier(table))
            row = conn.execute(query, (patterns,)).fetchone()
            text_bytes += int(row[0])
    return {"postgres_mb": round(size / 2**20, 1), "postgres_text_bytes": text_bytes}


def passages(path: Path, count: int, seed: int = 5) -> list[str]:
    """``count`` 40-character passages from the middle of random corpus records."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.readlines()
    rng = random.Random(seed)  # noqa: S311 - a seeded sample, not a secret
    out = []
    for line in rng.sample(lines, min(count, len(lines))):
        text = json.loads(line)["text"]
        middle = len(text) // 2
        out.append(text[middle : middle + 40])
    return out


def directory_megabytes(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


# --- main ---------------------------------------------------------------------------------


def quality_figures() -> dict:
    """The dedup and filter quality figures, copied from their own benchmarks' result files
    (``benchmarks.dedup``, ``benchmarks.quality_filters``: their corpora, their runs), with
    the commit each was measured on."""
    from benchmarks.common import RESULTS_DIR

    figures: dict = {}
    wanted = {
        "dedup": ("dedup_precision", "dedup_recall", "dedup_precision_smart_punctuation",
                  "dedup_recall_smart_punctuation"),
        "quality_filters": ("filters_docs_per_second", "filters_agreement_with_datatrove"),
    }
    for name, keys in wanted.items():
        path = RESULTS_DIR / f"{name}.json"
        if not path.exists():
            print(f"{path.name} is missing: run python -m benchmarks.{name}", file=sys.stderr)
            continue
        record = json.loads(path.read_text())
        found = _flatten(record["figures"])
        figures.update({key: found[key] for key in keys if key in found})
        figures[f"{name}_commit"] = record["commit"]
    return figures


def _flatten(figures: dict) -> dict:
    """Keys of nested figure groups, found wherever they are."""
    out = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            out.update({k: v for k, v in _flatten(value).items() if k not in out})
        out.setdefault(key, value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small corpus, to check it runs")
    parser.add_argument("--documents", type=int, help="corpus size (default 1,000,000)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    documents = args.documents or (3_000 if args.quick else 1_000_000)
    data = shared_data("curation", needs="web-c4-sample")

    isolate_environment()
    database_url, database = create_postgres_database("paddock_bench_curation")
    scratch = Path(tempfile.mkdtemp(prefix="paddock-bench-curation-"))
    os.environ["DATABASE_URL"] = database_url
    os.environ["PADDOCK_ARTIFACTS_DIR"] = str(scratch / "artifacts")
    os.environ["PADDOCK_CURATION_STORE"] = str(scratch / "artifacts" / "curation" / "store")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        figures = measure(args, documents, data, scratch, env, database)
    finally:
        drop_postgres_database(database)
        shutil.rmtree(scratch, ignore_errors=True)
    figures.update(quality_figures())
    write_results("curation", figures, quick=args.quick)


def measure(args, documents: int, data: Path, scratch: Path, env: dict, database: str) -> dict:
    corpus = scratch / "corpus.jsonl"
    started = time.perf_counter()
    kinds = write_corpus(corpus, documents, data)
    print(f"corpus: {documents:,} records ({corpus.stat().st_size / 2**20:.0f} MiB) "
          f"in {time.perf_counter() - started:.0f} s: {kinds}", flush=True)

    core = run_core(corpus, scratch)
    print(f"core: {core['seconds']:.1f} s, {core['documents'] / core['seconds']:,.0f} docs/s",
          flush=True)

    import django

    manage(env, "migrate", "--verbosity", "0")
    django.setup()
    from django.conf import settings

    from paddock.platform.celery import app
    from tests.support.celery_worker import WorkerProcess, worker_environment

    cpu_before = _children_cpu()
    with RedisSampler(settings.REDIS_URL) as single_redis:
        ingest_seconds = manage(env, "curate", "--verbosity", "0", "ingest", str(corpus),
                                "--name", "bench")
        run_seconds = manage(env, "curate", "--verbosity", "0", "run", "--name", "single",
                             "--source", "bench")
    cli_cpu = _children_cpu() - cpu_before
    cli_seconds = ingest_seconds + run_seconds
    print(f"cli: ingest {ingest_seconds:.1f} s, run {run_seconds:.1f} s", flush=True)

    worker_env = {**worker_environment(settings_module="paddock.platform.settings"), **env}
    logs = scratch / "worker-logs"
    logs.mkdir()
    started_workers = [WorkerProcess(queues=["curation"], env=worker_env, log_dir=logs)
                       for _ in range(args.workers)]
    for worker in started_workers:
        worker.start(app)
    try:
        with RedisSampler(settings.REDIS_URL) as celery_redis:
            start = time.perf_counter()
            manage(env, "curate", "--verbosity", "0", "run", "--name", "celery",
                   "--source", "bench", "--celery")
            wait_for_run("celery", timeout=7200)
            celery_run_seconds = time.perf_counter() - start
    finally:
        for worker in started_workers:
            worker.stop()
    print(f"celery: run {celery_run_seconds:.1f} s on {args.workers} workers", flush=True)

    from paddock.curation.models import CurationRun

    single = CurationRun.objects.get(name="single")
    celery = CurationRun.objects.get(name="celery")
    same_result = single.manifest["shards"] == celery.manifest["shards"]
    peak_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    store = Path(os.environ["PADDOCK_CURATION_STORE"])
    store_mb = directory_megabytes(store) if store.exists() else 0.0
    corpus_mb = corpus.stat().st_size / 2**20
    core_rate = core["documents"] / core["seconds"]
    cli_rate = documents / cli_seconds
    figures = {
        "documents": documents,
        "corpus_mb": round(corpus_mb, 1),
        **{f"corpus_{kind}": n for kind, n in kinds.items()},
        "core_docs_per_second": round(core_rate, 1),
        "core_cpu_seconds": round(core["cpu_seconds"], 1),
        "core_peak_rss_mb": round(core["peak_rss_mb"], 1),
        "cli_docs_per_second": round(cli_rate, 1),
        "cli_ingest_seconds": round(ingest_seconds, 1),
        "cli_run_seconds": round(run_seconds, 1),
        "cli_cpu_seconds": round(cli_cpu, 1),
        "cli_slowdown_vs_core": round(core_rate / cli_rate, 2),
        "celery_workers": args.workers,
        "celery_run_seconds": round(celery_run_seconds, 1),
        "celery_docs_per_second": round(documents / (ingest_seconds + celery_run_seconds), 1),
        "celery_same_export_as_single_process": same_result,
        "exported_records": single.manifest["records"],
        "peak_rss_mb": round(peak_rss_mb, 1),
        "redis_mb": round(max(single_redis.megabytes, celery_redis.megabytes), 1),
        "redis_bytes_per_document": round(
            max(single_redis.megabytes, celery_redis.megabytes) * 2**20 / documents, 1),
        "store_mb": store_mb,
        **postgres_figures(database, passages(corpus, 50)),
    }
    figures.update(projection(figures, corpus_mb))
    return figures


def projection(figures: dict, corpus_mb: float) -> dict:
    """One Common Crawl snapshot at the measured CPU cost and storage per MB of text."""
    text_tb = SNAPSHOT_PAGES * SNAPSHOT_TEXT_KB_PER_PAGE / 1e9
    cpu_seconds_per_mb = figures["cli_cpu_seconds"] / corpus_mb
    core_hours = cpu_seconds_per_mb * text_tb * 1e6 / 3600
    store_ratio = figures["store_mb"] / corpus_mb if corpus_mb else 0.0
    return {
        "projection_snapshot_pages": SNAPSHOT_PAGES,
        "projection_snapshot_text_tb": round(text_tb, 1),
        "projection_core_hours": round(core_hours),
        "projection_hours_on_100_machines_of_32_cores": round(core_hours / 3200, 1),
        "projection_store_tb": round(text_tb * store_ratio, 1),
    }


if __name__ == "__main__":
    main()
