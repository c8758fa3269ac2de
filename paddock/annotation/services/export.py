"""Exports that reward-model training reads directly, streamed in constant memory.

Two kinds, both gzip'd JSONL with a manifest:

- ``preferences``: one line per (non-skipped) judgement: conversation, chosen, rejected,
  strength with its margin under the small and large tables (Llama 2 paper, section
  3.2.2), axis, safety bin, batch, split, pseudonymous annotator, model versions. Safety
  judgements whose chosen response is unsafe and the other safe are left out, as Llama 2
  did (section 3.2.1); the manifest counts them.
- ``raw``: every judgement exactly as stored, skips included, for audits and re-analysis.

Each batch holds out a test split of ``test_split_size`` comparisons chosen by a hash of
the comparison, so the split never changes between exports and all judgements of one
comparison land on the same side. Files are written beside their final name and renamed
when complete.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Prefetch

from paddock.annotation.models import (
    MARGINS,
    Axis,
    Batch,
    Comparison,
    Judgement,
    SafetyBin,
    Turn,
)
from paddock.platform.progress import Progress, no_progress

CHUNK = 2000
KINDS = ("preferences", "raw")


def pseudonym(user_id: int) -> str:
    """A stable annotator id that reveals nobody: HMAC of the user id under a secret."""
    key = settings.PADDOCK_PSEUDONYM_KEY or settings.SECRET_KEY
    return "a-" + hmac.new(key.encode(), str(user_id).encode(), hashlib.sha256).hexdigest()[:16]


def held_out_comparisons(batch: Batch) -> set[int]:
    """Ids of the batch's held-out comparisons: the ``test_split_size`` smallest hashes."""
    def rank(comparison_id: int) -> bytes:
        return hashlib.sha256(f"paddock-split:{batch.pk}:{comparison_id}".encode()).digest()

    ids = Comparison.objects.filter(batch=batch).values_list("id", flat=True).iterator(10_000)
    return set(sorted(ids, key=rank)[: batch.test_split_size])


def _judgements(batch: Batch):
    return (
        Judgement.objects.filter(comparison__batch=batch)
        .select_related(
            "comparison__conversation", "chosen", "rejected", "assignment", "left_response"
        )
        .prefetch_related(
            Prefetch("comparison__conversation__turns", queryset=Turn.objects.order_by("index"))
        )
        .order_by("id")
    )


def preference_record(judgement: Judgement, batch: Batch, split: str) -> dict[str, Any]:
    comparison = judgement.comparison
    conversation = comparison.conversation
    bin_ = judgement.safety_bin
    return {
        "id": judgement.pk,
        "comparison_id": comparison.pk,
        "batch": batch.name,
        "split": split,
        "axis": comparison.axis,
        "risk_category": conversation.risk_category or None,
        "origin": conversation.origin,
        "conversation": [
            {"role": turn.role, "content": turn.content} for turn in conversation.turns.all()
        ],
        "chosen": judgement.chosen.text,
        "rejected": judgement.rejected.text,
        "chosen_model": judgement.chosen.model_version,
        "rejected_model": judgement.rejected.model_version,
        "strength": judgement.strength,
        "margin_small": MARGINS["small"][judgement.strength],
        "margin_large": MARGINS["large"][judgement.strength],
        "chosen_safe": judgement.chosen_safe,
        "rejected_safe": judgement.rejected_safe,
        "safety_bin": bin_.value if bin_ else None,
        "annotator": pseudonym(judgement.annotator_id),
        "is_gold": comparison.is_gold,
    }


def raw_record(judgement: Judgement, batch: Batch, split: str) -> dict[str, Any]:
    assignment = judgement.assignment
    return {
        "id": judgement.pk,
        "comparison_id": judgement.comparison_id,
        "batch": batch.name,
        "split": split,
        "annotator": pseudonym(judgement.annotator_id),
        "left_response_id": judgement.left_response_id,
        "chosen_response_id": judgement.chosen_id,
        "rejected_response_id": judgement.rejected_id,
        "strength": judgement.strength or None,
        "chosen_safe": judgement.chosen_safe,
        "rejected_safe": judgement.rejected_safe,
        "skipped": judgement.skipped,
        "skip_reason": judgement.skip_reason or None,
        "flagged_harmful": judgement.flagged_harmful,
        "comment": judgement.comment or None,
        "seconds": judgement.seconds,
        "leased_at": assignment.leased_at.isoformat(),
        "submitted_at": judgement.created_at.isoformat(),
    }


def _records(batch: Batch, kind: str, held_out: set[int], counts: dict[str, int]) -> Iterator[str]:
    for judgement in _judgements(batch).iterator(chunk_size=CHUNK):
        split = "test" if judgement.comparison_id in held_out else "train"
        if kind == "raw":
            yield json.dumps(raw_record(judgement, batch, split), ensure_ascii=False)
            counts[split] += 1
            continue
        if judgement.skipped:
            counts["skipped"] += 1
            continue
        if (
            judgement.comparison.axis == Axis.SAFETY
            and judgement.safety_bin == SafetyBin.PREFERRED_UNSAFE_OTHER_SAFE
        ):
            counts["excluded_preferred_unsafe"] += 1
            continue
        yield json.dumps(preference_record(judgement, batch, split), ensure_ascii=False)
        counts[split] += 1


def export_path(batch: Batch, kind: str) -> Path:
    return Path(settings.ARTIFACTS_DIR) / "annotation" / "exports" / f"{batch.pk}-{kind}.jsonl.gz"


def export_batch(batch: Batch, kind: str, *, progress: Progress = no_progress) -> dict[str, Any]:
    """Write the batch's export of ``kind``; returns its manifest (also written beside)."""
    if kind not in KINDS:
        raise ValueError(f"export kind must be one of {', '.join(KINDS)}, not {kind!r}")
    path = export_path(batch, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    total = Judgement.objects.filter(comparison__batch=batch).count()
    held_out = held_out_comparisons(batch)
    counts = {"train": 0, "test": 0, "skipped": 0, "excluded_preferred_unsafe": 0}
    tmp = path.with_name(path.name + ".tmp")
    written = 0
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        for line in _records(batch, kind, held_out, counts):
            out.write(line.encode("utf-8") + b"\n")
            written += 1
            if written % 10_000 == 0:
                progress(written / max(total, 1), f"{written:,} of {total:,} judgements")
    os.replace(tmp, path)
    manifest = {
        "batch": batch.name,
        "kind": kind,
        "file": path.name,
        "records": counts["train"] + counts["test"],
        "counts": counts,
        "test_split_size": batch.test_split_size,
        "margins": {table: dict(values) for table, values in MARGINS.items()},
    }
    manifest_path = path.with_name(path.name.replace(".jsonl.gz", ".manifest.json"))
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    progress(1.0, f"{manifest['records']:,} records")
    return manifest
