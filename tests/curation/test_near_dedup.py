"""Near-duplicate detection: datasketch-identical signatures, exact verification, clusters."""

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash

from paddock.curation.core import minhash
from paddock.curation.core.near_dedup import (
    MemoryBandStore,
    NearDedupConfig,
    WorkDir,
    cluster,
    index_shard,
    join_chunk,
    load_edges,
    run_single_process,
)
from paddock.curation.core.normalize import normalize_text
from tests.support.near_dup_corpus import (
    build_corpus,
    exact_jaccard,
    precision_recall,
    shingle_set,
    tokens,
)
from tests.support.shared_data import shared_data


def batch(texts: list[str]) -> tuple[bytes, np.ndarray]:
    encoded = [normalize_text(t).encode() for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(e) for e in encoded])
    return b"".join(encoded), offsets


TEXTS = [
    "The quick brown fox jumps over the lazy dog near the river bank today.",
    "Ein schneller brauner Fuchs springt über den faulen Hund — schön, oder?",
    "short text",
    "",
    "!!! ... ???",
]


def test_signatures_are_exactly_datasketchs_and_serialise_to_its_bytes():
    blob, offsets = batch(TEXTS)
    shingles = minhash.shingle(blob, offsets, 5)
    sigs = minhash.signatures(shingles, num_perm=64, seed=42)
    for doc in range(len(TEXTS)):
        reference = MinHash(num_perm=64, seed=42, hashfunc=lambda x: x)
        reference.update_batch([int(v) for v in shingles.of(doc)])
        assert np.array_equal(reference.hashvalues, sigs[doc])
        lean = LeanMinHash(reference)
        buffer = bytearray(lean.bytesize())
        lean.serialize(buffer)
        assert minhash.lean_minhash_bytes(sigs[doc], 42) == bytes(buffer)
        assert np.array_equal(LeanMinHash.deserialize(buffer).hashvalues, sigs[doc])


def test_shards_store_signatures_as_leanminhash_records(tmp_path):
    work = WorkDir.create(tmp_path, TEXTS * 3, NearDedupConfig(num_perm=32, seed=5))
    index_shard(work, 0, MemoryBandStore())
    data = (work.shard_dir(0) / "minhashes.lean").read_bytes()
    size = minhash.lean_record_dtype(32).itemsize
    assert len(data) == size * len(TEXTS) * 3
    stored = minhash.read_lean_minhash_records(data, 32)
    for doc in range(len(TEXTS)):
        lean = LeanMinHash.deserialize(data[doc * size : (doc + 1) * size], byteorder="<")
        assert lean.seed == 5 and lean.scheme == "affine32"
        assert np.array_equal(lean.hashvalues, stored[doc])
    blob, offsets = batch(TEXTS)
    expected = minhash.signatures(minhash.shingle(blob, offsets, 5), num_perm=32, seed=5)
    assert np.array_equal(stored[: len(TEXTS)], expected)


def test_shingles_follow_the_documented_tokenisation():
    blob, offsets = batch(TEXTS)
    shingles = minhash.shingle(blob, offsets, 5)
    for doc, text in enumerate(TEXTS):
        words = tokens(text)
        assert len(shingles.of(doc)) == len(shingle_set(words))  # no 32-bit collisions here
        assert list(shingles.of(doc)) == sorted(set(shingles.of(doc)))
    assert len(shingles.of(3)) == 0 and len(shingles.of(4)) == 0  # no words, no shingles
    assert len(shingles.of(2)) == 1  # fewer than 5 words: one shingle of all of them


def test_exact_jaccard_kernel_matches_python_sets():
    texts = [" ".join(f"w{i}" for i in range(start, start + 60)) for start in (0, 10, 30, 59)]
    blob, offsets = batch(texts)
    shingles = minhash.shingle(blob, offsets, 5)
    left, right = np.array([0, 0, 0, 1]), np.array([1, 2, 3, 3])
    kernel = minhash.jaccard(shingles, left, right)
    sets = [shingle_set(tokens(t)) for t in texts]
    expected = [exact_jaccard(sets[a], sets[b]) for a, b in zip(left, right, strict=True)]
    assert np.allclose(kernel, expected)


def test_config_records_every_parameter_and_datasketch_bands():
    config = NearDedupConfig()
    text = str(config)
    for name in ("threshold=0.8", "shingle_size=5", "num_perm=128", "seed=1", "bands=", "rows="):
        assert name in text
    bands, rows = config.bands_rows
    assert bands * rows <= config.num_perm
    assert NearDedupConfig.from_dict(config.as_dict()) == config
    with pytest.raises(ValueError, match="candidate_threshold"):
        NearDedupConfig(threshold=0.8, candidate_threshold=0.9)


@pytest.fixture(scope="module")
def corpus():
    return build_corpus(shared_data(), 1500, seed=11)


def test_recall_and_precision_against_exact_jaccard_on_edited_real_text(corpus, tmp_path):
    """Statistical test, fixed seed: pairs at >= 0.8 exact Jaccard are found, others not."""
    truth, similarities = corpus.true_pairs(0.8)
    assert len(truth) > 200 and sum(0.7 <= s < 0.9 for s in similarities) > 100
    work = WorkDir.create(tmp_path, corpus.texts, NearDedupConfig(), shard_size=400)
    result = run_single_process(work)
    left, right, candidates = load_edges(work)
    predicted = {(int(min(a, b)), int(max(a, b))) for a, b in zip(left, right, strict=True)}

    quality = precision_recall(predicted, truth, corpus)

    assert quality["precision"] == 1.0  # every reported pair is verified exactly
    assert quality["recall"] >= 0.98  # LSH at 0.55 finds a pair at 0.8 99.8% of the time
    assert candidates > len(predicted)  # verification did reject candidates
    kept = set(result.kept.tolist())
    for doc in np.flatnonzero(result.duplicate_of >= 0):
        representative = int(result.duplicate_of[doc])
        assert representative in kept and representative < doc
        sets = shingle_set(corpus.words[doc]), shingle_set(corpus.words[representative])
        exact = exact_jaccard(*sets)
        assert result.similarity[doc] == pytest.approx(exact, abs=1e-4)


def test_result_does_not_depend_on_sharding_or_task_order(corpus, tmp_path):
    reference = run_single_process(
        WorkDir.create(tmp_path / "one", corpus.texts, NearDedupConfig(), shard_size=10_000)
    )
    work = WorkDir.create(tmp_path / "many", corpus.texts, NearDedupConfig(), shard_size=170)
    store = MemoryBandStore()
    plan = work.plan
    for shard in reversed(range(plan.shards)):
        index_shard(work, shard, store)
        index_shard(work, shard, store)  # a redelivered task appends nothing
    for chunk in reversed(range(len(plan.join_chunks))):
        join_chunk(work, chunk, store)
    result = cluster(work)
    assert plan.shards > 5
    assert np.array_equal(result.duplicate_of, reference.duplicate_of)


def test_the_three_alice_copies_are_one_cluster_among_unrelated_web_pages(tmp_path):
    import json

    alice = sorted(shared_data("gutenberg-alice-variants").glob("*.txt"))
    texts = [path.read_text(encoding="utf-8", errors="replace") for path in alice]
    with open(shared_data("web-c4-sample", "c4_demo.jsonl"), encoding="utf-8") as handle:
        texts += [json.loads(line)["text"] for line in handle]
    result = run_single_process(WorkDir.create(tmp_path, texts, NearDedupConfig()))

    assert result.duplicate_of[:3].tolist() == [-1, 0, 0]
    assert (result.similarity[1:3] >= 0.8).all()  # 0.82 and 0.996 with our tokens
    c4_removed = np.flatnonzero(result.duplicate_of[3:] >= 0) + 3
    for doc in c4_removed:  # any C4 page removed really is a near copy of another
        other = int(result.duplicate_of[doc])
        sets = shingle_set(tokens(texts[doc])), shingle_set(tokens(texts[other]))
        assert exact_jaccard(*sets) >= 0.8
