"""PII detectors: precision and recall per type on labelled data, throughput on web text.

Quality, on two sets, matched by type and overlap (see ``paddock.curation.core.pii.evaluate``):

- ``presidio``: Presidio's synthetic PII sentences (../shared/data/presidio-synth-pii);
- ``hard``: pages rendered by ``tests/support/pii_layouts.py`` in the layouts held out of
  any tuning (footers, vCards, forum signatures, people-search results, header tables),
  twelve languages, national phone formats of ten countries and hard negatives, with
  the report seed (not the seed the detectors were tuned on). ``hard_tuning`` is the same
  generator on the tuning layouts and seed, for comparison.

Throughput: ``count_pii`` over the 300-document C4 sample, repeated to a few MB, on one core.

    python -m benchmarks.pii [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

from benchmarks.common import write_results
from paddock.curation.core.pii import (
    GoldSpan,
    PiiType,
    count_pii,
    evaluate,
    rate_per_1000_words,
    word_count,
)

# Presidio's entity names for the types we detect; its other entities (PERSON,
# STREET_ADDRESS, IBAN_CODE, ...) are left out, so a detection on one counts as wrong.
PRESIDIO_TYPES = {
    "EMAIL_ADDRESS": PiiType.EMAIL,
    "PHONE_NUMBER": PiiType.PHONE,
    "IP_ADDRESS": PiiType.IP_ADDRESS,
    "US_SSN": PiiType.US_SSN,
    "CREDIT_CARD": PiiType.CREDIT_CARD,
}
PRESIDIO_FILE = ("presidio-synth-pii", "synth_dataset_v2.json")
WEB_FILE = ("web-c4-sample", "c4_demo.jsonl")


def shared_data_dir() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("PADDOCK_SHARED_DATA", default))


def load_presidio_samples(path: Path) -> list[tuple[str, list[GoldSpan]]]:
    """(text, gold spans of the types we detect) for each sample of the Presidio set."""
    samples = []
    for record in json.loads(path.read_text(encoding="utf-8")):
        gold = [
            (PRESIDIO_TYPES[span["entity_type"]], span["start_position"], span["end_position"])
            for span in record["spans"]
            if span["entity_type"] in PRESIDIO_TYPES
        ]
        samples.append((record["full_text"], gold))
    return samples


def web_corpus(path: Path, target_bytes: int) -> list[str]:
    """The sample's documents, repeated until they hold ``target_bytes`` of UTF-8."""
    documents = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]
    corpus: list[str] = []
    size = 0
    for document in itertools.cycle(documents):
        if size >= target_bytes:
            break
        corpus.append(document)
        size += len(document.encode("utf-8"))
    return corpus


def _per_type(samples: list[tuple[str, list[GoldSpan]]]) -> dict[str, dict[str, float | int]]:
    return {
        pii_type.value: {
            "precision": round(result.precision, 4),
            "recall": round(result.recall, 4),
            "gold_spans": result.gold,
        }
        for pii_type, result in evaluate(samples).items()
    }


def pii_quality(quick: bool) -> dict[str, dict[str, dict[str, float | int]]]:
    """Per set ("presidio", "hard", "hard_tuning"), per type: precision, recall, gold spans.

    Importable by other benchmarks. ``quick`` renders fewer pages of the generated sets
    (30 instead of 200 per layout); the Presidio set is always whole. Raises
    FileNotFoundError when the shared Presidio file is missing.
    """
    from tests.support.pii_layouts import (
        HELD_OUT_LAYOUTS,
        REPORT_SEED,
        TUNING_LAYOUTS,
        TUNING_SEED,
        hard_set,
    )

    presidio = shared_data_dir().joinpath(*PRESIDIO_FILE)
    if not presidio.exists():
        raise FileNotFoundError(f"{presidio} is missing (PADDOCK_SHARED_DATA sets the folder)")
    pages = 30 if quick else 200
    return {
        "presidio": _per_type(load_presidio_samples(presidio)),
        "hard": _per_type(hard_set(REPORT_SEED, list(HELD_OUT_LAYOUTS), pages_per_layout=pages)),
        "hard_tuning": _per_type(
            hard_set(TUNING_SEED, list(TUNING_LAYOUTS), pages_per_layout=pages)
        ),
    }


def quality_figures(quick: bool) -> dict[str, float | int]:
    """Flat keys: ``phone_precision`` (the Presidio set, as before), ``hard_phone_recall``..."""
    figures: dict[str, float | int] = {}
    for set_name, per_type in pii_quality(quick).items():
        prefix = "" if set_name == "presidio" else f"{set_name}_"
        for pii_type, values in per_type.items():
            figures[f"{prefix}{pii_type}_gold_spans"] = values["gold_spans"]
            figures[f"{prefix}{pii_type}_precision"] = values["precision"]
            figures[f"{prefix}{pii_type}_recall"] = values["recall"]
    return figures


def throughput_figures(path: Path, *, target_bytes: int, repeats: int) -> dict[str, float | int]:
    """Best of ``repeats`` passes, in wall-clock time and in this process's CPU time: on a
    machine shared with other work the CPU figure is the steadier one to compare."""
    corpus = web_corpus(path, target_bytes)
    megabytes = sum(len(document.encode("utf-8")) for document in corpus) / 1e6
    best = best_cpu = float("inf")
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        for document in corpus:
            count_pii(document)
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    unique = corpus[: min(len(corpus), 300)]
    detections = sum(sum(count_pii(document).values()) for document in unique)
    words = sum(word_count(document) for document in unique)
    return {
        "web_documents": len(corpus),
        "web_megabytes": round(megabytes, 2),
        "count_pii_documents_per_second": round(len(corpus) / best, 1),
        "count_pii_megabytes_per_second": round(megabytes / best, 2),
        "count_pii_documents_per_cpu_second": round(len(corpus) / best_cpu, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "web_pii_per_1000_words": round(rate_per_1000_words(detections, words), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 MB of web text, one pass")
    args = parser.parse_args()

    data = shared_data_dir()
    presidio, web = data.joinpath(*PRESIDIO_FILE), data.joinpath(*WEB_FILE)
    for path in (presidio, web):
        if not path.exists():
            sys.exit(f"benchmarks.pii: {path} is missing (PADDOCK_SHARED_DATA sets the folder)")

    figures = quality_figures(args.quick)
    figures.update(
        throughput_figures(
            web,
            target_bytes=1_000_000 if args.quick else 8_000_000,
            repeats=1 if args.quick else 5,
        )
    )
    write_results("pii", figures, quick=args.quick)


if __name__ == "__main__":
    main()
