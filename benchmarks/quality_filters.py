"""Quality filters: throughput of the whole chain against datatrove 0.10.1's, agreement
with datatrove's decisions per filter, word-count and language-ID cost, and language-ID
agreement with Common Crawl's CLD2 labels (old resiliparse identifier against fastText).

Documents: the C4 sample (300), the CCNet documents of web-cc-docs (30), Wikipedia
articles (30), and edge cases generated with a fixed seed near every threshold (see
:func:`edge_cases`). Language labels: CLD2's in the Common Crawl WARC metadata records
and WET headers of web-warc-samples, CCNet's (fastText) in web-cc-docs, and the message
languages of the OpenAssistant trees. One process, so docs/s is per core.

    python -m benchmarks.quality_filters [--quick]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import write_results
from paddock.curation.core.enrich import detect_language
from paddock.curation.core.filters import (
    C4QualityConfig,
    FineWebQualityConfig,
    GopherQualityConfig,
    GopherRepetitionConfig,
    c4_quality,
    fineweb_quality,
    gopher_quality,
    gopher_repetition,
    split_line_words,
    split_words,
)
from paddock.curation.core.quality import QualityConfig, quality_drop
from paddock.curation.core.words import word_count

FILTERS = ("gopher_repetition", "gopher_quality", "c4", "fineweb")


def shared_data_dir() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("PADDOCK_SHARED_DATA", default))


# --- documents ---------------------------------------------------------------------------


def real_documents(quick: bool = False) -> dict[str, list[str]]:
    """Real English documents by corpus; a corpus whose file is missing is left out."""
    root = shared_data_dir()
    corpora: dict[str, list[str]] = {}
    c4 = root / "web-c4-sample" / "c4_demo.jsonl"
    if c4.exists():
        lines = c4.read_text(encoding="utf-8").splitlines()
        corpora["c4"] = [json.loads(line)["text"] for line in lines[: 100 if quick else None]]
    cc = sorted((root / "web-cc-docs").glob("*.json*.gz"))
    if cc:
        corpora["web-cc-docs"] = [
            json.loads(line)["text"] for path in cc for line in gzip.open(path, "rt")
        ]
    wiki = root / "wikipedia-sample" / "wiki_demo.txt"
    if wiki.exists():
        corpora["wikipedia"] = wiki.read_text(encoding="utf-8").splitlines()[: 5 if quick else None]
    return corpora


_POOL = (
    "The river town was founded in 1843 by farmers who wanted to trade grain downstream. "
    "Over the following decades the settlement grew into a busy market with mills and a "
    "school. Today it is known for its old stone bridge, restored in 2015 with the help of "
    "volunteers. Visitors walk along the bank to see the herons that nest in the reeds. "
    "The harvest festival brings together musicians, bakers and craftspeople of the region. "
    "Families have lived in the valley for generations and share its history with anyone. "
    "A small museum displays tools, photographs and letters from the past. Prices start at "
    "$25 per night, and rooms 3-5 have a view of the water. Call us today for a free quote! "
    "Is it worth a visit? Many say yes, and some come back every year."
).split(". ")
_VOCABULARY = sorted({w.strip(",!?$").lower() for s in _POOL for w in s.split()} - {""})
_SPAM = ("buy cheap shoes online", "click here", "best price guaranteed", "free shipping")
_ODD = ("Lorem ipsum dolor sit amet.", "Please enable javascript to continue.",
        "This site uses cookies, see our privacy policy.", "var x = {a: 1};", "#tag #news")


def edge_cases(count: int, seed: int = 0) -> list[str]:
    """Documents built to sit near the filters' thresholds: each draws, with a fixed seed,
    its own share of unpunctuated, bulleted, truncated ("..."), short, duplicated and
    numeric lines, of repeated spam phrases, hash tags and C4's trigger lines, with
    shares spread across each rule's threshold."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test documents, not secrets
    documents = []
    for _ in range(count):
        # each trait absent from half the documents, else a share skewed towards small
        shares = {name: 0.0 if rng.random() < 0.5 else rng.random() ** 2 for name in
                  ("unpunct", "bullet", "ellipsis", "short", "dup", "number", "spam", "odd")}
        lines: list[str] = []
        for _line in range(rng.randint(3, 30)):
            roll = rng.random
            if lines and roll() < shares["dup"] * 0.6:
                lines.append(rng.choice(lines))
                continue
            words = [rng.choice(_VOCABULARY) for _ in range(rng.randint(4, 40))]
            if roll() < shares["short"]:
                words = words[: rng.randint(1, 5)]
            if roll() < shares["number"]:
                words += [str(rng.randint(0, 9999)) for _ in range(rng.randint(1, 12))]
            if roll() < shares["spam"]:
                words += rng.choice(_SPAM).split() * rng.randint(1, 6)
            line = " ".join(words)
            if roll() < shares["ellipsis"]:
                line += rng.choice(("...", "…"))
            elif roll() >= shares["unpunct"]:
                line += rng.choice(".!?.")
            if roll() < shares["bullet"]:
                line = rng.choice(("- ", "• ")) + line
            if roll() < shares["odd"] * 0.15:
                line = rng.choice(_ODD)
            lines.append(line)
        separator = "\n\n" if rng.random() < 0.3 else "\n"
        documents.append(separator.join(lines))
    return documents


# --- decisions --------------------------------------------------------------------------


def our_decisions(text: str) -> dict[str, str | None]:
    """Rule name (or None: kept) of each of our filters, each on the original text, with
    the tokens shared as the quality chain shares them."""
    line_tokens = split_line_words(text)
    tokens = [token for line in line_tokens for token in line]
    return {
        "gopher_repetition": _rule(gopher_repetition(text, GopherRepetitionConfig(), tokens)),
        "gopher_quality": _rule(gopher_quality(text, GopherQualityConfig(), tokens)),
        "c4": _rule(c4_quality(text, C4QualityConfig(), line_tokens)),
        "fineweb": _rule(fineweb_quality(text, FineWebQualityConfig(), tokens)),
    }


def _rule(drop: tuple[str, Any] | None) -> str | None:
    return None if drop is None else drop[0]


def datatrove_filters() -> dict[str, Any]:
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    return {
        "gopher_repetition": GopherRepetitionFilter(),
        "gopher_quality": GopherQualityFilter(),
        "c4": C4QualityFilter(),
        "fineweb": FineWebQualityFilter(),
    }


def datatrove_decisions(text: str, filters: dict[str, Any]) -> dict[str, str | None]:
    """datatrove's rule name (None: kept) per filter, each on the original text."""
    from datatrove.data import Document

    decisions: dict[str, str | None] = {}
    for name, dt_filter in filters.items():
        result = dt_filter.filter(Document(text=text, id="x"))
        decisions[name] = None if result is True else (
            result[1] if isinstance(result, tuple) else "dropped"
        )
    return decisions


def agreement(texts: list[str]) -> dict[str, Any]:
    """Share of documents on which we and datatrove decide alike (keep, or drop by the
    same rule), per filter and for the chain (kept by all four, or dropped by the first
    that drops); the disagreements are listed by document index."""
    filters = datatrove_filters()
    same = Counter()
    chain_same = 0
    disagreements = []
    for index, text in enumerate(texts):
        ours = our_decisions(text)
        theirs = datatrove_decisions(text, filters)
        for name in FILTERS:
            if ours[name] == theirs[name]:
                same[name] += 1
            else:
                disagreements.append((index, name, ours[name], theirs[name]))
        first = [next(((n, d[n]) for n in FILTERS if d[n]), None) for d in (ours, theirs)]
        chain_same += first[0] == first[1]
    total = max(len(texts), 1)
    return {
        "documents": len(texts),
        "per_filter": {name: round(same[name] / total, 4) for name in FILTERS},
        "chain": round(chain_same / total, 4),
        "disagreements": disagreements[:20],
    }


# --- throughput ----------------------------------------------------------------------------


def _docs_per_second(texts: list[str], decide: Callable[[str], Any], min_seconds: float) -> float:
    """Documents per CPU-second of this process (one core): the machine these figures come
    from is shared, and wall time there measures the neighbours' load as much as ours."""
    done = 0
    start = time.process_time()
    while True:
        for text in texts:
            decide(text)
        done += len(texts)
        elapsed = time.process_time() - start
        if elapsed >= min_seconds:
            return done / elapsed


def throughput(texts: list[str], quick: bool) -> dict[str, float]:
    config = QualityConfig()

    def ours(text: str) -> Any:
        return quality_drop(text=text, words=word_count(text), length=len(text), config=config)

    filters = datatrove_filters()
    chain = [filters[name] for name in FILTERS]

    def theirs(text: str) -> Any:
        from datatrove.data import Document

        document = Document(text=text, id="x")
        for dt_filter in chain:  # as a pipeline: stop at the first drop
            if dt_filter.filter(document) is not True:
                return False
        return True

    ours_rate = _docs_per_second(texts, ours, 1.0 if quick else 5.0)
    theirs_rate = _docs_per_second(texts, theirs, 0.1 if quick else 5.0)
    return {
        "filters_docs_per_second": round(ours_rate, 1),
        "datatrove_docs_per_second": round(theirs_rate, 1),
        "speedup": round(ours_rate / theirs_rate, 1),
        "mean_doc_chars": round(sum(map(len, texts)) / len(texts)),
    }


def _cold_split_words(text: str) -> list[str]:
    """:func:`split_words` with its chunk cache emptied first: the worst case, a document
    sharing no chunk with those before it (the warm figure is the steady state of a
    stream of documents in one language)."""
    from paddock.curation.core.filters.tokens import _CHUNK_TOKENS

    _CHUNK_TOKENS.clear()
    return split_words(text)


def per_call_microseconds(texts: list[str], function: Callable[[str], Any], repeats: int) -> float:
    """CPU microseconds per call (see :func:`_docs_per_second` on why CPU time)."""
    start = time.process_time()
    for _ in range(repeats):
        for text in texts:
            function(text)
    return round((time.process_time() - start) / (repeats * len(texts)) * 1e6, 1)


# --- language identification ----------------------------------------------------------------


def resiliparse_language(text: str) -> tuple[str, float]:
    """The identifier paddock used before fastText (resiliparse ``detect_fast``, as
    ``enrich.detect_language`` called it at commit 994cce8)."""
    from resiliparse.parse.lang import detect_fast

    sample = text[:10_000]
    if len(sample.strip()) < 20:
        return "", 0.0
    sample = unicodedata.normalize("NFC", sample.lower())
    language, rank = detect_fast(sample, cutoff=1200)
    return ("", 0.0) if language == "unknown" else (language, max(0.0, 1 - rank / 1200))


_ISO3 = {"spa": "es", "eng": "en", "zho": "zh", "deu": "de", "rus": "ru", "nld": "nl",
         "fra": "fr", "jpn": "ja"}


def labelled_texts(quick: bool) -> dict[str, list[tuple[str, str]]]:
    """(text, label) pairs by label source."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    from paddock.curation.core.readers import read_documents

    root = shared_data_dir()
    sets: dict[str, list[tuple[str, str]]] = {}
    warc = root / "web-warc-samples" / "resiliparse" / "warcfile.warc.gz"
    if warc.exists():
        labels = {}
        with warc.open("rb") as handle:
            for record in ArchiveIterator(handle, record_types=WarcRecordType.metadata):
                for line in record.reader.read().decode("utf-8").splitlines():
                    if line.startswith("languages-cld2:"):
                        found = json.loads(line.split(":", 1)[1])["languages"]
                        if found:
                            labels[record.headers.get("WARC-Target-URI")] = found[0]["code"]
        pairs = [(doc.text, labels[doc.url]) for doc in read_documents(warc) if doc.url in labels]
        wet = root / "web-warc-samples" / "whirlwind" / "whirlwind.warc.wet.gz"
        if wet.exists():
            with wet.open("rb") as handle:
                for record in ArchiveIterator(handle, record_types=WarcRecordType.conversion):
                    code = record.headers.get("WARC-Identified-Content-Language", "")
                    text = record.reader.read().decode("utf-8")
                    if code:
                        pairs.append((text, _ISO3.get(code.split(",")[0], code)))
        sets["cld2_common_crawl"] = pairs
    cc = sorted((root / "web-cc-docs").glob("*.json*.gz"))
    if cc:
        sets["ccnet_web_cc_docs"] = [
            (record["text"], record["metadata"]["language"])
            for path in cc
            for record in map(json.loads, gzip.open(path, "rt"))
            if record.get("metadata", {}).get("language")
        ]
    oasst = root / "oasst-en-100-trees" / "en_100_tree.jsonl"
    if oasst.exists():
        messages: list[tuple[str, str]] = []

        def walk(message: dict) -> None:
            if message.get("lang") and len(message["text"].strip()) >= 20:
                messages.append((message["text"], message["lang"]))
            for reply in message.get("replies", []):
                walk(reply)

        for line in oasst.read_text(encoding="utf-8").splitlines():
            walk(json.loads(line)["prompt"])
        sets["oasst_messages"] = messages[: 200 if quick else None]
    return sets


def language_figures(quick: bool) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name, pairs in labelled_texts(quick).items():
        old = sum(resiliparse_language(text)[0] == label for text, label in pairs)
        new = sum(detect_language(text)[0] == label for text, label in pairs)
        figures[name] = {
            "documents": len(pairs),
            "labels": dict(Counter(label for _text, label in pairs)),
            "old_resiliparse_agreement": round(old / max(len(pairs), 1), 4),
            "new_fasttext_agreement": round(new / max(len(pairs), 1), 4),
        }
    return figures


# --- figures -------------------------------------------------------------------------------


def filters_figures(quick: bool) -> dict[str, Any]:
    """The headline figures, for other benchmarks to import: docs/s of our whole filter
    chain on one core, and the chain's agreement with datatrove's decisions."""
    real = [text for texts in real_documents(quick).values() for text in texts]
    edges = edge_cases(100 if quick else 500, seed=0)
    on_real = agreement(real)
    on_edges = agreement(edges)
    speed = throughput(real or edges, quick)
    both = on_real["documents"] + on_edges["documents"]
    chain = (on_real["chain"] * on_real["documents"]
             + on_edges["chain"] * on_edges["documents"]) / max(both, 1)
    return {
        "filters_docs_per_second": speed["filters_docs_per_second"],
        "filters_agreement_with_datatrove": round(chain, 4),
        "throughput": speed,
        "agreement_real_documents": on_real,
        "agreement_edge_cases": on_edges,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer documents, short timings")
    args = parser.parse_args()
    figures = filters_figures(args.quick)
    real = [t for texts in real_documents(args.quick).values() for t in texts]
    kilobyte = [t[:1000] for t in real if len(t) >= 1000]
    repeats = 1 if args.quick else 20
    figures["word_count_us_per_1kb_doc"] = per_call_microseconds(kilobyte, word_count, repeats)
    figures["word_count_us_per_1kb_doc_non_ascii"] = per_call_microseconds(
        [t.replace("e", "\u00e9") for t in kilobyte], word_count, repeats
    )
    figures["split_words_us_per_1kb_doc"] = per_call_microseconds(kilobyte, split_words, repeats)
    figures["split_words_us_per_1kb_doc_cold_cache"] = per_call_microseconds(
        kilobyte, _cold_split_words, repeats
    )
    detect_language("warm the model up before timing it")
    figures["detect_language_us_per_doc"] = {
        "new_fasttext": per_call_microseconds(real, detect_language, repeats),
        "old_resiliparse": per_call_microseconds(real, resiliparse_language, repeats),
        "mean_doc_chars": round(sum(map(len, real)) / max(len(real), 1)),
    }
    figures["language_id"] = language_figures(args.quick)
    figures["timing"] = (
        "CPU time of one process (one core); load average at the end "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(json.dumps(figures, indent=2))
    path = write_results("quality_filters", figures, quick=args.quick)
    print(f"written to {path.relative_to(Path(__file__).resolve().parents[1])}")


if __name__ == "__main__":
    main()
