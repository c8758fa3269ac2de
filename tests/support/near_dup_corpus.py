"""A near-duplicate corpus with known ground truth, built from real text in ../shared/data.

Families of seeded edited copies: each family starts from a distinct window of about
1 KB of real text (Wikipedia, C4, Dolma web documents, HH-RLHF dialogues, OpenAssistant,
UKP arguments, one copy of Alice); every other member is the base with words substituted
until its word-5-gram Jaccard similarity to the base reaches a target drawn uniformly from
[0.5, 1.0], so many pairs sit near the usual 0.8 threshold.

Ground truth is computed, not assumed: :func:`exact_jaccard` is an independent pure-Python
implementation (sets of word tuples) of the similarity paddock's kernels compute with
hashes, used on every pair inside a family; pairs across families are checked wherever a
method reports one.

Typography (``typographic``): a share of documents is rendered with curly quotes and
apostrophes, em and en dashes, ellipses, guillemets, non-breaking spaces, full-width
letters and ligatures instead of plain spaces between the words. Ground truth stays on the
canonical words, so a copy that differs from its original only in typography is a true
duplicate of it. ``non_latin`` draws a share of families from the non-Latin (Chinese,
Japanese, Cyrillic) text of a real WARC file, so CJK documents have one token per character.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from pathlib import Path

from paddock.curation.core.normalize import normalize_text

# The tokens of paddock's v1 scheme: runs of ASCII letters and digits or non-ASCII
# characters, after normalisation.
TOKEN_V1 = re.compile(r"[0-9a-zA-Z\u0080-\U0010ffff]+")
WINDOW_WORDS = 170  # about 1 KB of English text
_CJK = (
    "\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3038-\u303b\u3040-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003ffff"
)


@lru_cache(maxsize=1)
def _token_v2() -> re.Pattern:
    """v2 tokens with Python's re, independently of paddock's table: a Han/Kana letter
    alone, or a run of other letters, digits (``\\w`` but ``_``) and combining marks."""
    marks = "".join(
        re.escape(chr(c)) for c in range(0x110000) if unicodedata.category(chr(c))[0] == "M"
    )
    word = rf"(?:[^\W_\u02bc]|[{marks}])"  # U+02BC, the modifier apostrophe, separates
    return re.compile(rf"(?={word})[{_CJK}]|(?:(?![{_CJK}]){word})+")


def tokens(text: str, scheme: str = "v2") -> list[str]:
    """Canonical words of ``text`` as paddock's shingle scheme ``v1`` or ``v2`` sees them."""
    pattern = TOKEN_V1 if scheme == "v1" else _token_v2()
    return pattern.findall(normalize_text(text))


def shingle_set(words: list[str], size: int = 5) -> set[tuple[str, ...]]:
    if not words:
        return set()
    if len(words) < size:
        return {tuple(words)}
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def exact_jaccard(a: set, b: set) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def _jsonl(path: Path, *fields: str) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            for name in fields:
                if isinstance(record.get(name), str):
                    yield record[name]


def _oasst(path: Path) -> Iterator[str]:
    def walk(message: dict) -> Iterator[str]:
        yield message["text"]
        for reply in message.get("replies", []):
            yield from walk(reply)

    with open(path, encoding="utf-8") as handle:
        for line in handle:
            yield from walk(json.loads(line)["prompt"])


def real_texts(data: Path) -> Iterator[str]:
    """Real documents from the shared data, in a fixed order."""
    with open(data / "wikipedia-sample" / "wiki_demo.txt", encoding="utf-8") as handle:
        yield from (line for line in handle if line.strip())
    yield from _jsonl(data / "web-c4-sample" / "c4_demo.jsonl", "text")
    for name in ("cc_en_head-0091.jsonl.gz", "cc_en_head-0174.jsonl.gz",
                 "dolma_documents_000.json.gz"):
        yield from _jsonl(data / "web-cc-docs" / name, "text")
    yield from _oasst(data / "oasst-en-100-trees" / "en_100_tree.jsonl")
    yield (data / "gutenberg-alice-variants" / "markovrandomtext_pg11.txt").read_text(
        encoding="utf-8", errors="replace"
    )
    seen_arguments: set[str] = set()
    for argument in _jsonl(data / "ukp-convarg1" / "full_votes.jsonl.gz", "a1_text", "a2_text"):
        if argument not in seen_arguments:
            seen_arguments.add(argument)
            yield argument
    for split in ("helpful-base", "helpful-online", "helpful-rejection-sampled", "harmless-base"):
        yield from _jsonl(data / "hh-rlhf" / split / "test.jsonl.gz", "chosen")


def non_latin_texts(data: Path) -> Iterator[str]:
    """The non-ASCII words of real web pages (Chinese, Japanese, Russian, accented), in
    their order: each WARC response record's body is one text."""
    for name in ("resiliparse/warcfile.warc.gz", "whirlwind/whirlwind.warc.gz"):
        with gzip.open(data / "web-warc-samples" / name, "rt", encoding="utf-8",
                       errors="replace") as handle:
            for record in handle.read().split("WARC/1.0"):
                words = [w for w in tokens(re.sub(r"<[^>]*>", " ", record)) if not w.isascii()]
                if words:
                    yield " ".join(words)


def base_windows(data: Path, limit: int, texts: Iterator[str] | None = None) -> list[list[str]]:
    """Up to ``limit`` non-overlapping windows of real words, each distinct."""
    windows: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    stream: list[str] = []
    for text in real_texts(data) if texts is None else texts:
        stream.extend(tokens(text))
        while len(stream) >= WINDOW_WORDS:
            window, stream = stream[:WINDOW_WORDS], stream[WINDOW_WORDS:]
            key = tuple(window)
            if key not in seen:
                seen.add(key)
                windows.append(window)
                if len(windows) == limit:
                    return windows
    return windows


def edited_copy(
    words: list[str], target: float, rng: random.Random, vocabulary: list[str], size: int = 5
) -> list[str]:
    """Substitute words until about ``target`` word-shingle Jaccard to ``words`` remains.

    Changing c of n shingles (to new ones) leaves Jaccard (n - c) / (n + c); a substituted
    word changes every shingle that covers it, so positions are drawn until the covered
    shingles reach c = n (1 - J) / (1 + J).
    """
    copy = list(words)
    n = max(len(words) - size + 1, 1)
    wanted = round(n * (1 - target) / (1 + target))
    changed = [False] * n
    count = 0
    positions = list(range(len(words)))
    rng.shuffle(positions)
    for position in positions:
        if count >= wanted:
            break
        new_cover = [
            s for s in range(max(0, position - size + 1), min(position, n - 1) + 1)
            if not changed[s]
        ]
        if count + len(new_cover) > wanted and count > 0:
            continue  # this word would overshoot; a word at an edge may fit better
        copy[position] = rng.choice(vocabulary)
        for s in new_cover:
            changed[s] = True
        count += len(new_cover)
    return copy


_CONTRACTION_TAILS = {"s", "t", "ll", "re", "ve", "d", "m"}
_GAPS = [" "] * 12 + ["\u00a0", " \u2014 ", "\u2014", " \u2013 ", "\u2026 ", ", ", "; ", ". "]
_QUOTES = [("\u201c", "\u201d"), ("\u2018", "\u2019"), ("\u00ab\u00a0", "\u00a0\u00bb"),
           ("\u201e", "\u201c")]
_LIGATURES = {"fi": "\ufb01", "fl": "\ufb02", "ff": "\ufb00"}


def _fancy_word(word: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.03 and word.isascii():  # full-width letters: NFKC folds them back
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in word)
    if roll < 0.06:
        for plain, ligature in _LIGATURES.items():
            if plain in word:
                return word.replace(plain, ligature, 1)
    if roll < 0.12 and word[:1].isalpha():
        return word[:1].upper() + word[1:]
    return word


_CJK_CHAR = re.compile(f"[{_CJK}]")
_CJK_GAPS = [""] * 8 + ["\uff0c", "\u3002", "\u3001", "\u300c"]


def _between_cjk(words: list[str], i: int) -> bool:
    return bool(_CJK_CHAR.fullmatch(words[i - 1]) and _CJK_CHAR.fullmatch(words[i]))


def render_plain(words: list[str]) -> str:
    """Words joined by spaces, but Han and Kana characters written without them."""
    return "".join(
        ("" if _between_cjk(words, i) else " ") + w if i else w for i, w in enumerate(words)
    )


def render_typographic(words: list[str], rng: random.Random) -> str:
    """``words`` with typographic punctuation between and around them (same tokens)."""
    out: list[str] = []
    quote: tuple[str, str] | None = None
    for i, word in enumerate(words):
        if i and _between_cjk(words, i):
            out.append(rng.choice(_CJK_GAPS))
        elif i:
            if word in _CONTRACTION_TAILS and rng.random() < 0.9:
                out.append(rng.choice(["\u2019", "\u2019", "\u02bc", "'"]))
            else:
                out.append(rng.choice(_GAPS))
        if quote is None and rng.random() < 0.03:
            quote = rng.choice(_QUOTES)
            out.append(quote[0])
        out.append(_fancy_word(word, rng))
        if quote is not None and rng.random() < 0.15:
            out.append(quote[1])
            quote = None
    if quote is not None:
        out.append(quote[1])
    return "".join(out)


@dataclass
class Corpus:
    texts: list[str]
    family: list[int]  # family id of each document
    words: list[list[str]]

    def family_pairs(self) -> Iterator[tuple[int, int]]:
        members: dict[int, list[int]] = {}
        for doc, fam in enumerate(self.family):
            members.setdefault(fam, []).append(doc)
        for docs in members.values():
            yield from combinations(docs, 2)

    def true_pairs(self, threshold: float = 0.8) -> tuple[set[tuple[int, int]], list[float]]:
        """Every within-family pair (earlier, later) at or above ``threshold``, and all the
        within-family similarities (for the distribution)."""
        sets = [shingle_set(w) for w in self.words]
        truth, similarities = set(), []
        for a, b in self.family_pairs():
            similarity = exact_jaccard(sets[a], sets[b])
            similarities.append(similarity)
            if similarity >= threshold:
                truth.add((a, b))
        return truth, similarities


def build_corpus(
    data: Path, documents: int, *, seed: int = 7, max_family: int = 5,
    typographic: float = 0.0, non_latin: float = 0.0,
) -> Corpus:
    """``documents`` documents in families of 1 to ``max_family`` members, shuffled.

    ``typographic``: the share of documents rendered with typographic punctuation;
    ``non_latin``: the share of families drawn from non-Latin web text. Both default to 0,
    which gives the plain corpus of earlier versions (same seed, same documents).
    """
    rng = random.Random(seed)
    mean_family = (1 + max_family) / 2
    bases = base_windows(data, limit=int(documents / mean_family * 1.3) + 10)
    vocabulary = sorted({w for window in bases[:2000] for w in window})
    foreign: list[list[str]] = []
    foreign_vocabulary: list[str] = []
    style = random.Random(seed + 1)  # a separate stream: the plain corpus stays as it was
    if non_latin > 0:
        foreign = base_windows(data, limit=1000, texts=non_latin_texts(data))
        foreign_vocabulary = sorted({w for window in foreign for w in window})
    entries: list[tuple[int, list[str]]] = []
    family = 0
    used_foreign = 0
    while len(entries) < documents:
        if foreign and style.random() < non_latin:
            base, words = foreign[used_foreign % len(foreign)], foreign_vocabulary
            if used_foreign >= len(foreign):
                base = edited_copy(base, 0.2, rng, words)
            used_foreign += 1
        else:
            base, words = bases[family % len(bases)], vocabulary
            if family >= len(bases):  # reuse a window, made distinct by heavy editing
                base = edited_copy(base, 0.2, rng, vocabulary)
        size = min(rng.randint(1, max_family), documents - len(entries))
        entries.append((family, base))
        for _ in range(size - 1):
            entries.append((family, edited_copy(base, rng.uniform(0.5, 1.0), rng, words)))
        family += 1
    rng.shuffle(entries)
    texts = [
        render_typographic(words, style) if typographic and style.random() < typographic
        else render_plain(words)
        for _, words in entries
    ]
    return Corpus(
        texts=texts,
        family=[fam for fam, _ in entries],
        words=[words for _, words in entries],
    )


def precision_recall(
    predicted: set[tuple[int, int]], truth: set[tuple[int, int]], corpus: Corpus,
    threshold: float = 0.8,
) -> dict[str, float]:
    """Pair precision and recall; predicted pairs across families are checked exactly."""
    truth = set(truth)
    for a, b in predicted:
        if corpus.family[a] != corpus.family[b]:
            pair = (min(a, b), max(a, b))
            sim = exact_jaccard(shingle_set(corpus.words[a]), shingle_set(corpus.words[b]))
            if sim >= threshold:
                truth.add(pair)
    true_positive = len(predicted & truth)
    return {
        "pairs_true": len(truth),
        "pairs_predicted": len(predicted),
        "precision": true_positive / len(predicted) if predicted else 1.0,
        "recall": true_positive / len(truth) if truth else 1.0,
    }


def cluster_pairs(kept_of) -> set[tuple[int, int]]:
    """Every two documents of one cluster, as the peers score it: (earlier, later) pairs
    of documents with the same kept document (clusters of one give none)."""
    members: dict[int, list[int]] = {}
    for doc, kept in enumerate(kept_of):
        members.setdefault(int(kept), []).append(doc)
    return {pair for docs in members.values() for pair in combinations(sorted(docs), 2)}


def union_find_clusters(documents: int, pairs) -> list[int]:
    """The earliest document of each document's connected component of ``pairs`` (to
    score a method that reports pairs, such as datasketch's LSH queries, by clusters)."""
    parent = list(range(documents))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(d) for d in range(documents)]


def _set_partitions(items: list[int]) -> Iterator[list[list[int]]]:
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for partition in _set_partitions(rest):
        for i in range(len(partition)):
            yield [*partition[:i], [first, *partition[i]], *partition[i + 1 :]]
        yield [[first], *partition]


def partition_ceiling(pairs, *, precision: float = 0.95, max_component: int = 9) -> dict:
    """The best cluster-pair precision/recall that *any* partition of the documents can
    reach when the truth is ``pairs`` (every two documents of a cluster are a predicted
    pair): whether a clustering rule can meet a target at all, or the truth is not a
    union of cliques.

    Exact, for components of up to ``max_component`` documents: each component's
    partitions give points (false pairs, true pairs); the upper concave hull of the sum
    over components is the merge of the components' hull edges by slope, and P and R are
    monotone along it, so the best min(P, R) is where the hull crosses P = R, and the best
    recall at a given ``precision`` where P falls to it. Components
    that are larger are counted (``skipped_components``) and left out of the bound."""
    from fractions import Fraction

    adjacency: dict[int, set[int]] = {}
    for a, b in pairs:
        adjacency.setdefault(a, set()).add(b)
        adjacency.setdefault(b, set()).add(a)
    seen: set[int] = set()
    edges: list[tuple[Fraction, int, int]] = []  # (slope, extra false, extra true pairs)
    true_pairs = skipped = base_true = 0
    for start in sorted(adjacency):
        if start in seen:
            continue
        component, stack = [], [start]
        seen.add(start)
        while stack:
            v = stack.pop()
            component.append(v)
            for u in adjacency[v] - seen:
                seen.add(u)
                stack.append(u)
        inside = sum(len(adjacency[v]) for v in component) // 2
        if len(component) > max_component:
            skipped += 1
            continue
        true_pairs += inside
        best: dict[int, int] = {}  # false pairs -> most true pairs
        for partition in _set_partitions(sorted(component)):
            tp = fp = 0
            for block in partition:
                for x, y in combinations(block, 2):
                    if y in adjacency[x]:
                        tp += 1
                    else:
                        fp += 1
            best[fp] = max(best.get(fp, -1), tp)
        fp, tp = 0, best[0]
        base_true += tp
        while True:  # upper hull from (0, best[0]): steepest next point each time
            steps = [(Fraction(t - tp, f - fp), f, t) for f, t in best.items() if f > fp]
            steps = [s for s in steps if s[0] > 0]
            if not steps:
                break
            slope, f, t = max(steps, key=lambda s: (s[0], s[1]))
            edges.append((slope, f - fp, t - tp))
            fp, tp = f, t
    edges.sort(key=lambda e: e[0], reverse=True)
    fp, tp = 0, base_true
    total = max(true_pairs, 1)
    balanced = recall_at = None
    for _, dfp, dtp in edges:  # along the hull P falls and R rises
        if balanced is None and tp + dtp + fp + dfp >= true_pairs:  # P = R: tp + fp = truth
            balanced = (tp + (true_pairs - tp - fp) / (dtp + dfp) * dtp) / total
        low = (1 - precision) * (tp + dtp) - precision * (fp + dfp)
        if recall_at is None and low < 0:  # P drops below ``precision`` on this edge
            high = (1 - precision) * tp - precision * fp
            recall_at = (tp + high / (high - low) * dtp) / total
        fp, tp = fp + dfp, tp + dtp
    return {
        "true_pairs": true_pairs,
        "best_balanced": balanced if balanced is not None else 1.0,  # max min(P, R)
        f"best_recall_at_precision_{precision}": recall_at if recall_at is not None else 1.0,
        "precision_at_full_recall": tp / (tp + fp) if tp + fp else 1.0,
        "skipped_components": skipped,
    }
