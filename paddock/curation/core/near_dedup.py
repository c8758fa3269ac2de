"""Near-duplicate removal over shards: MinHash + LSH candidates, exact verification, clusters.

The run is split in three phases so any number of workers give exactly the result of one
process:

1. ``index_shard`` (one task per document shard): shingles, datasketch-compatible MinHash
   signatures and LSH band keys; the (band key, document) records are appended to a shared
   band store, partitioned by band and key.
2. ``join_chunk`` (one task per group of partitions): documents sharing a band key are
   candidates; each candidate pair is verified with the *exact* Jaccard similarity of the
   two shingle sets, and pairs at or above the threshold become edges.
3. ``cluster``: in the default ``cluster_mode="connected"``, connected components of the
   edges (union-find); in each cluster the earliest document (lowest index) is kept. Each
   removed document records the document it was *linked* to by a verified edge (its parent
   in a spanning tree grown from the kept document, earliest documents first) and that
   edge's exact similarity, so every recorded similarity is at or above the threshold even
   in a chain A~B~C where A and C differ more; the kept document is recorded beside it.
   ``cluster_mode="star"`` avoids chains: in document order, a document is removed only if
   it has an edge to an earlier *kept* document, which it records. ``cluster_mode="center"``
   avoids chains without star's dependence on order: greedy center clustering, the document
   with the most unassigned neighbours (ties: the earliest) is kept and takes all its
   unassigned neighbours, repeatedly; so a family's base, not its earliest copy, is kept.

Phase 2 starts only when phase 1 is complete, so candidates depend on the whole corpus and
not on which worker saw what first; all later steps sort, so the kept set is a function of
the inputs and the config alone.

Why candidates at a lower threshold than duplicates: LSH tuned by datasketch's optimiser at
threshold t finds a pair of similarity exactly t only about 40% of the time (128
permutations, t = 0.8). paddock tunes the bands for ``candidate_threshold`` (0.55: a pair at
0.8 is found 99.8% of the time) and lets exact verification reject the extra candidates,
which costs microseconds per pair.

Why a partitioned band store instead of one Redis set per bucket (datasketch's layout): a
bucket per (band, key) means one Redis key and one round trip per band per document. Here a
shard's records go out in one pipeline of appends (APPEND is atomic, so workers on several
machines can write the same partition) and a join task reads whole partitions.
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np
from numba import njit

from paddock.curation.core import minhash
from paddock.curation.core.normalize import normalize_text
from paddock.kernel.atomic_write import atomic_file, write_atomically
from paddock.kernel.progress import Progress, no_progress

RECORD = np.dtype([("key", "<u8"), ("doc", "<u4")])
PLAN_FILE = "plan.json"
CLUSTER_MODES = ("connected", "star", "center")


@dataclass(frozen=True)
class NearDedupConfig:
    """Every parameter of near-duplicate detection; recorded with each run."""

    threshold: float = 0.8  # exact word-shingle Jaccard at or above which docs are duplicates
    shingle_size: int = 5  # words per shingle
    num_perm: int = 128  # MinHash permutations
    seed: int = 1  # MinHash permutation seed (datasketch's RandomState seed)
    candidate_threshold: float = 0.55  # the LSH bands/rows are optimised for this similarity
    shard_documents: int = 20_000  # documents per phase-1 task (the result does not depend on it)
    shingle_scheme: str = minhash.SHINGLE_SCHEME
    permutation_scheme: str = minhash.PERMUTATION_SCHEME
    # "star": removed only next to an earlier kept doc; "center": greedy center clustering
    cluster_mode: str = "connected"

    def __post_init__(self) -> None:
        minhash.check_scheme(self.shingle_scheme)
        if self.cluster_mode not in CLUSTER_MODES:
            raise ValueError(
                f"cluster_mode must be one of {', '.join(CLUSTER_MODES)}, not {self.cluster_mode!r}"
            )
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], not {self.threshold}")
        if not 0.0 < self.candidate_threshold <= self.threshold:
            raise ValueError("candidate_threshold must be in (0, threshold]")
        if self.shingle_size < 1 or self.num_perm < 2 or self.shard_documents < 1:
            raise ValueError("shingle_size and shard_documents must be >= 1, num_perm >= 2")

    @cached_property
    def bands_rows(self) -> tuple[int, int]:
        """datasketch's optimiser (equal false-positive/negative weights) at the candidate
        threshold."""
        from datasketch.lsh import _optimal_param

        bands, rows = _optimal_param(self.candidate_threshold, self.num_perm, 0.5, 0.5)
        return int(bands), int(rows)

    def as_dict(self) -> dict:
        bands, rows = self.bands_rows
        return {**asdict(self), "bands": bands, "rows": rows}

    def __str__(self) -> str:
        return "NearDedupConfig(" + ", ".join(f"{k}={v}" for k, v in self.as_dict().items()) + ")"

    @classmethod
    def from_dict(cls, data: dict) -> NearDedupConfig:
        fields = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in fields})


# --- The work directory: normalised text shards, shared by all workers ------------------


@dataclass(frozen=True)
class Plan:
    """How a corpus is split: document shards for phase 1, partition chunks for phase 2."""

    config: NearDedupConfig
    documents: int
    shard_starts: list[int]  # shard k holds documents [starts[k], starts[k+1])
    partitions_per_band: int
    join_chunks: list[list[int]] = field(default_factory=list)

    @property
    def shards(self) -> int:
        return len(self.shard_starts) - 1

    @property
    def partitions(self) -> int:
        return self.config.bands_rows[0] * self.partitions_per_band

    def to_json(self) -> str:
        data = {
            "config": self.config.as_dict(),
            "documents": self.documents,
            "shard_starts": self.shard_starts,
            "partitions_per_band": self.partitions_per_band,
            "join_chunks": self.join_chunks,
        }
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        return cls(
            config=NearDedupConfig.from_dict(data["config"]),
            documents=data["documents"],
            shard_starts=data["shard_starts"],
            partitions_per_band=data["partitions_per_band"],
            join_chunks=data["join_chunks"],
        )


def _atomic_save(path: Path, array: np.ndarray) -> None:
    # Work files a crash may lose (the stage reruns), so no fsync for each one.
    with atomic_file(path, sync=False) as handle:
        np.save(handle, array)


def _atomic_write(path: Path, data: bytes | str) -> None:
    write_atomically(path, data.encode() if isinstance(data, str) else data, sync=False)


class WorkDir:
    """Files of one near-dedup run, on storage every worker mounts (PADDOCK_ARTIFACTS_DIR)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @cached_property
    def plan(self) -> Plan:
        return Plan.from_json((self.path / PLAN_FILE).read_text())

    def shard_dir(self, shard: int) -> Path:
        return self.path / f"shard-{shard:05d}"

    @classmethod
    def create(
        cls,
        path: Path | str,
        texts: Iterable[str],
        config: NearDedupConfig,
        *,
        shard_size: int | None = None,
        records_per_partition: int = 1 << 16,
        join_chunks: int | None = None,
    ) -> WorkDir:
        """Write ``texts`` in shards; a document's index is its position in ``texts``.

        Only encoding happens here, in the coordinating process; normalisation and
        everything after it run in the (parallel) shard tasks.
        """
        work = cls(path)
        work.path.mkdir(parents=True, exist_ok=True)
        shard_size = shard_size or config.shard_documents
        starts = [0]
        batch: list[bytes] = []
        for text in texts:
            batch.append(text.encode("utf-8", errors="replace"))
            if len(batch) == shard_size:
                work._write_shard(len(starts) - 1, batch)
                starts.append(starts[-1] + len(batch))
                batch = []
        if batch or len(starts) == 1:
            work._write_shard(len(starts) - 1, batch)
            starts.append(starts[-1] + len(batch))
        documents = starts[-1]
        per_band = max(1, math.ceil(documents / records_per_partition))
        bands = config.bands_rows[0]
        partitions = list(range(bands * per_band))
        count = join_chunks or max(1, min(len(partitions), 4 * (len(starts) - 1), 64))
        chunks = [partitions[i::count] for i in range(count)]
        plan = Plan(config, documents, starts, per_band, [c for c in chunks if c])
        _atomic_write(work.path / PLAN_FILE, plan.to_json())
        return work

    def _write_shard(self, shard: int, texts: list[bytes]) -> None:
        directory = self.shard_dir(shard)
        directory.mkdir(parents=True, exist_ok=True)
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(t) for t in texts], dtype=np.int64)
        _atomic_write(directory / "texts.bin", b"".join(texts))
        _atomic_save(directory / "text_offsets.npy", offsets)

    def shingles(self, shard: int) -> minhash.Shingles:
        directory = self.shard_dir(shard)
        return minhash.Shingles(
            np.load(directory / "shingles.npy", mmap_mode="r"),
            np.load(directory / "shingle_offsets.npy"),
        )

    def gather_shingles(self, documents: np.ndarray) -> tuple[minhash.Shingles, np.ndarray]:
        """Shingles of the given global document indices, as one compact CSR.

        Returns the CSR and, for each input index, its row in it.
        """
        unique, rows = np.unique(np.asarray(documents, dtype=np.int64), return_inverse=True)
        starts = np.asarray(self.plan.shard_starts, dtype=np.int64)
        shard_of = np.searchsorted(starts, unique, side="right") - 1
        pieces, lengths = [], []
        for shard in np.unique(shard_of):
            local = unique[shard_of == shard] - starts[shard]
            source = self.shingles(int(shard))
            begin, end = source.offsets[local], source.offsets[local + 1]
            lengths.append(end - begin)
            pieces.append(_gather(np.asarray(source.values), begin, end))
        lengths_all = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
        offsets = np.zeros(len(unique) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(lengths_all)
        values = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.uint32)
        return minhash.Shingles(values, offsets), rows


@njit(cache=True)
def _gather(values, begin, end):
    total = 0
    for i in range(len(begin)):
        total += end[i] - begin[i]
    out = np.empty(total, dtype=np.uint32)
    cursor = 0
    for i in range(len(begin)):
        n = end[i] - begin[i]
        out[cursor : cursor + n] = values[begin[i] : end[i]]
        cursor += n
    return out


# --- Band stores: where phase 1 leaves its records for phase 2 ----------------------------


class BandStore(Protocol):
    """Append-only partitions of LSH records, shared by all workers of a run.

    ``append`` adds a shard's records and marks the shard indexed in one atomic step, so
    a task redelivered after success appends nothing, and one killed half-way appends
    again from scratch. Two deliveries racing may both append: records are deduplicated
    when pairs are formed, so that changes nothing but space.
    """

    def indexed(self, shard: int) -> bool: ...

    def append(self, shard: int, records: dict[int, bytes]) -> None: ...

    def read(self, partitions: list[int]) -> dict[int, bytes]: ...


class MemoryBandStore:
    """The band store of a single process."""

    def __init__(self) -> None:
        self.partitions: dict[int, bytearray] = {}
        self.shards: set[int] = set()

    def indexed(self, shard: int) -> bool:
        return shard in self.shards

    def append(self, shard: int, records: dict[int, bytes]) -> None:
        for partition, data in records.items():
            self.partitions.setdefault(partition, bytearray()).extend(data)
        self.shards.add(shard)

    def read(self, partitions: list[int]) -> dict[int, bytes]:
        return {p: bytes(self.partitions.get(p, b"")) for p in partitions}


# --- Phase 1 ------------------------------------------------------------------------------


def index_shard(work: WorkDir, shard: int, store: BandStore) -> int:
    """Shingle, sign and band one shard; append its records to the store. Idempotent."""
    plan = work.plan
    config = plan.config
    bands, rows = config.bands_rows
    directory = work.shard_dir(shard)
    done = directory / "minhashes.lean"
    if done.exists():
        keys = np.load(directory / "band_keys.npy")
        shingle_offsets = np.load(directory / "shingle_offsets.npy")
    else:
        blob, offsets = _normalised(directory)
        shingles = minhash.shingle(blob, offsets, config.shingle_size, config.shingle_scheme)
        sigs = minhash.signatures(shingles, num_perm=config.num_perm, seed=config.seed)
        keys = minhash.band_keys(sigs, bands=bands, rows=rows)
        shingle_offsets = shingles.offsets
        _atomic_save(directory / "shingles.npy", shingles.values)
        _atomic_save(directory / "shingle_offsets.npy", shingles.offsets)
        _atomic_save(directory / "band_keys.npy", keys)
        # Last: its presence means the shard's files are complete.
        _atomic_write(done, minhash.lean_minhash_records(sigs, config.seed))
    if not store.indexed(shard):
        first = plan.shard_starts[shard]
        has_shingles = np.diff(shingle_offsets) > 0  # documents without words join nothing
        records = _partition_records(keys, first, has_shingles, plan.partitions_per_band)
        store.append(shard, records)
    return len(keys)


def _normalised(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = (directory / "texts.bin").read_bytes()
    bounds = np.load(directory / "text_offsets.npy").tolist()
    texts = [
        normalize_text(raw[bounds[i] : bounds[i + 1]].decode("utf-8")).encode("utf-8")
        for i in range(len(bounds) - 1)
    ]
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(t) for t in texts], dtype=np.int64)
    return np.frombuffer(b"".join(texts), dtype=np.uint8), offsets


def _partition_records(
    keys: np.ndarray, first: int, mask: np.ndarray, per_band: int
) -> dict[int, bytes]:
    docs = np.arange(first, first + len(keys), dtype=np.uint32)[mask]
    keys = keys[mask]
    out: dict[int, bytes] = {}
    for band in range(keys.shape[1]):
        column = keys[:, band]
        part = (column >> np.uint64(32)) % np.uint64(per_band)
        for p in range(per_band):
            selected = part == p
            if not selected.any():
                continue
            records = np.empty(int(selected.sum()), dtype=RECORD)
            records["key"] = column[selected]
            records["doc"] = docs[selected]
            out[band * per_band + p] = records.tobytes()
    return out


# --- Phase 2 ------------------------------------------------------------------------------


@njit(cache=True)
def _bucket_pairs(keys, docs):
    """All pairs (later, earlier) of documents sharing a key; keys sorted, docs by key."""
    n = len(keys)
    total = 0
    i = 0
    while i < n:
        j = i
        while j < n and keys[j] == keys[i]:
            j += 1
        size = j - i
        total += size * (size - 1) // 2
        i = j
    left = np.empty(total, dtype=np.int64)
    right = np.empty(total, dtype=np.int64)
    cursor = 0
    i = 0
    while i < n:
        j = i
        while j < n and keys[j] == keys[i]:
            j += 1
        for a in range(i, j):
            for b in range(a + 1, j):
                x, y = np.int64(docs[a]), np.int64(docs[b])
                if x != y:
                    left[cursor] = max(x, y)
                    right[cursor] = min(x, y)
                    cursor += 1
        i = j
    return left[:cursor], right[:cursor]


def candidate_pairs(records: bytes) -> np.ndarray:
    """Unique (later, earlier) document pairs that share a band key, as int64 codes."""
    array = np.frombuffer(records, dtype=RECORD)
    if len(array) < 2:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((array["doc"], array["key"]))
    left, right = _bucket_pairs(array["key"][order], array["doc"][order])
    return np.unique(left * (1 << 32) + right)


def join_chunk(work: WorkDir, chunk: int, store: BandStore) -> tuple[int, int]:
    """Verify the candidates of one chunk of partitions; write its edges. Idempotent.

    Returns (candidate pairs, edges).
    """
    plan = work.plan
    out = work.path / f"edges-{chunk:05d}.npz"
    if out.exists():
        with np.load(out) as saved:
            return int(saved["candidates"]), len(saved["left"])
    codes = [candidate_pairs(data) for data in store.read(plan.join_chunks[chunk]).values()]
    pairs = np.unique(np.concatenate(codes)) if codes else np.zeros(0, dtype=np.int64)
    left, right = pairs >> 32, pairs & 0xFFFFFFFF
    if len(pairs):
        shingles, rows = work.gather_shingles(np.concatenate([left, right]))
        similarity = minhash.jaccard(shingles, rows[: len(left)], rows[len(left) :])
    else:
        similarity = np.zeros(0)
    keep = similarity >= plan.config.threshold
    with atomic_file(out, sync=False) as handle:
        np.savez(
            handle,
            left=left[keep],
            right=right[keep],
            similarity=similarity[keep].astype(np.float32),
            candidates=np.int64(len(pairs)),
        )
    return len(pairs), int(keep.sum())


# --- Phase 3 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NearDedupResult:
    """Per document: the document it was linked to by a verified edge (-1 when kept), that
    edge's exact similarity, and the kept document of its cluster (itself when kept)."""

    duplicate_of: np.ndarray  # int64, the linked document (its parent in the cluster)
    similarity: np.ndarray  # float32, exact Jaccard to duplicate_of; NaN for kept documents
    candidate_pairs: int
    edges: int
    clusters: int  # clusters of two or more documents
    kept_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def kept(self) -> np.ndarray:
        return np.flatnonzero(self.duplicate_of < 0)

    @property
    def removed(self) -> int:
        return int((self.duplicate_of >= 0).sum())


def load_edges(work: WorkDir) -> tuple[np.ndarray, np.ndarray, int]:
    lefts, rights, candidates = [], [], 0
    for chunk in range(len(work.plan.join_chunks)):
        with np.load(work.path / f"edges-{chunk:05d}.npz") as saved:
            lefts.append(saved["left"])
            rights.append(saved["right"])
            candidates += int(saved["candidates"])
    if not lefts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
    codes = np.unique(np.concatenate(lefts) * (1 << 32) + np.concatenate(rights))
    return codes >> 32, codes & 0xFFFFFFFF, candidates


@njit(cache=True)
def _union_find_min(n, left, right):
    parent = np.arange(n)
    for e in range(len(left)):
        a, b = left[e], right[e]
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        if a < b:
            parent[b] = a
        elif b < a:
            parent[a] = b
    for i in range(n):  # roots are the smallest index of each component
        root = i
        while parent[root] != root:
            root = parent[root]
        parent[i] = root
    return parent


def _adjacency(n: int, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR of the undirected edge graph, each document's neighbours in ascending order."""
    a = np.concatenate([left, right]).astype(np.int64)
    b = np.concatenate([right, left]).astype(np.int64)
    order = np.lexsort((b, a))
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.add.at(offsets, a + 1, 1)
    return np.cumsum(offsets), b[order]


@njit(cache=True)
def _spanning_parents(n, offsets, neighbours, root):
    """Parent of each non-root document in a spanning tree of its component, grown from the
    root (the earliest document): the earliest document adjacent to the tree joins next,
    linked to its earliest neighbour already in the tree."""
    parent = np.full(n, -1, dtype=np.int64)
    in_tree = np.zeros(n, dtype=np.bool_)
    queued = np.zeros(n, dtype=np.bool_)
    for r in range(n):
        if root[r] != r or offsets[r + 1] == offsets[r]:
            continue
        heap = [r]
        queued[r] = True
        while len(heap):
            v = heapq.heappop(heap)
            in_tree[v] = True
            for e in range(offsets[v], offsets[v + 1]):
                u = neighbours[e]
                if in_tree[u] and v != r:
                    parent[v] = u  # neighbours ascend: the first in the tree is the earliest
                    break
            for e in range(offsets[v], offsets[v + 1]):
                u = neighbours[e]
                if not queued[u]:
                    queued[u] = True
                    heapq.heappush(heap, u)
    return parent


@njit(cache=True)
def _star_parents(n, offsets, neighbours):
    """In document order: a document with an edge to an earlier kept document is removed and
    linked to the earliest such one; otherwise it is kept."""
    parent = np.full(n, -1, dtype=np.int64)
    for v in range(n):
        for e in range(offsets[v], offsets[v + 1]):
            u = neighbours[e]
            if u >= v:
                break
            if parent[u] < 0:
                parent[v] = u
                break
    return parent


@njit(cache=True)
def _center_parents(n, offsets, neighbours):
    """Greedy center clustering: the unassigned document with the most unassigned neighbours
    (ties: the earliest) is kept, and each of those neighbours is removed and linked to it;
    repeat until no unassigned document has an unassigned neighbour.

    Every removed document is linked by a verified edge to its cluster's kept document, as in
    star, but the kept document is the one most of the cluster is similar to (a family's base)
    rather than whichever copy comes first, so fewer true pairs are split off. Lazy max-heap:
    an entry whose degree is stale is skipped; each decrement pushes a fresh one. The key
    packs (degree, index) into one integer so ties go to the earliest document."""
    parent = np.full(n, -1, dtype=np.int64)
    done = np.zeros(n, dtype=np.bool_)
    degree = offsets[1:] - offsets[:-1]
    top = np.int64(degree.max()) if n else np.int64(0)
    heap = [np.int64(0)]  # typed for numba, popped at once
    heap.pop()
    for v in range(n):
        if degree[v] > 0:
            heap.append((top - degree[v]) * n + v)
    heapq.heapify(heap)
    members = np.empty(n, dtype=np.int64)
    while len(heap):
        key = heapq.heappop(heap)
        v = key % n
        if done[v] or top - key // n != degree[v] or degree[v] == 0:
            continue
        done[v] = True
        count = 0
        for e in range(offsets[v], offsets[v + 1]):
            u = neighbours[e]
            if not done[u]:
                done[u] = True
                parent[u] = v
                members[count] = u
                count += 1
        for i in range(count + 1):
            x = v if i == count else members[i]
            for e in range(offsets[x], offsets[x + 1]):
                w = neighbours[e]
                if not done[w]:
                    degree[w] -= 1
                    heapq.heappush(heap, (top - degree[w]) * n + w)
    return parent


def cluster(work: WorkDir) -> NearDedupResult:
    """Clusters of the verified edges; each removed document records its linked document."""
    plan = work.plan
    n = plan.documents
    left, right, candidates = load_edges(work)
    offsets, neighbours = _adjacency(n, left, right)
    if plan.config.cluster_mode in ("star", "center"):
        parents = _star_parents if plan.config.cluster_mode == "star" else _center_parents
        duplicate_of = parents(n, offsets, neighbours)
        kept_of = np.where(duplicate_of < 0, np.arange(n), duplicate_of)
    else:
        kept_of = _union_find_min(n, left, right).astype(np.int64)
        duplicate_of = _spanning_parents(n, offsets, neighbours, kept_of)
    similarity = np.full(n, np.nan, dtype=np.float32)
    removed = np.flatnonzero(duplicate_of >= 0)
    if len(removed):
        shingles, rows = work.gather_shingles(np.concatenate([removed, duplicate_of[removed]]))
        similarity[removed] = minhash.jaccard(shingles, rows[: len(removed)], rows[len(removed) :])
    clusters = len(np.unique(kept_of[removed]))
    return NearDedupResult(duplicate_of, similarity, candidates, len(left), clusters, kept_of)


def run_single_process(
    work: WorkDir, store: BandStore | None = None, progress: Progress = no_progress
) -> NearDedupResult:
    """All three phases in this process (the CLI, tests, small runs)."""
    store = store or MemoryBandStore()
    plan = work.plan
    steps = plan.shards + len(plan.join_chunks)
    for shard in range(plan.shards):
        index_shard(work, shard, store)
        progress((shard + 1) / steps, f"indexed shard {shard + 1} of {plan.shards}")
    for chunk in range(len(plan.join_chunks)):
        join_chunk(work, chunk, store)
        progress((plan.shards + chunk + 1) / steps, f"verified chunk {chunk + 1}")
    return cluster(work)
