"""Exports that reward-model training reads directly, streamed in constant memory.

Two kinds, both gzip'd JSONL with a manifest:

- ``preferences``: one line per (non-skipped) judgement: conversation, chosen, rejected,
  strength with its margin under the small and large tables (Llama 2 paper, section
  3.2.2), axis, safety bin, batch, split, pseudonymous annotator, model versions. Safety
  judgements whose chosen response is unsafe and the other safe are left out, as Llama 2
  did (section 3.2.1); the manifest counts them. Judgements on a comparison with a
  placeholder response (model version ``stand-in...``, the ``StandInGenerator``'s) are
  never training data: left out too, and counted (``left_out_stand_in``).
  Judgements a data manager excluded (their current mark is "excluded from export", see
  :mod:`paddock.annotation.services.judgement_browser`) are left out and counted
  (``left_out_excluded``).
- ``raw``: every judgement exactly as stored, skips and exclusions included, for audits
  and re-analysis; each record carries its current mark (``mark``: review, excluded, or
  null).

Each batch holds out a test split: ``ceil(fraction * comparisons)`` comparisons (the
fraction :data:`HELD_OUT_FRACTION` unless the caller gives one: the pipeline passes its
plan's), at most the batch's ``test_split_size`` (and the caller's ``maximum``), so a small
first batch still has most of its comparisons to train on. Which ones is decided by a
hash of the comparison, so the split never changes between exports and all judgements of
one comparison land on the same side. The fraction and maximum are written in the
manifest and an export without them reuses the ones of the batch's last export, so a later
export (the API's, or the next week's pipeline) keeps the split the first one made; an
export written before the fraction existed held out ``test_split_size`` (fraction 1.0).
Comparisons of a prompt the pipeline re-asked (``metadata["reasked"]``: it was training
data in an earlier batch) are never held out. Files are written beside their final name
and renamed when complete.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import math
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

from paddock.annotation.generation import is_stand_in
from paddock.annotation.models import (
    MARGINS,
    Axis,
    Batch,
    Comparison,
    Judgement,
    JudgementMark,
    MarkState,
    SafetyBin,
    Turn,
    safety_bin,
)
from paddock.kernel.atomic_write import atomic_file, write_atomically
from paddock.kernel.exchange import PREFERENCES, manifest_path, schema_fields
from paddock.kernel.progress import Progress, no_progress

CHUNK = 2000
KINDS = ("preferences", "raw")


@lru_cache(maxsize=100_000)
def pseudonym(user_id: int) -> str:
    """A stable annotator id that reveals nobody: HMAC of the user id under a secret."""
    key = settings.PADDOCK_PSEUDONYM_KEY or settings.SECRET_KEY
    return "a-" + hmac.new(key.encode(), str(user_id).encode(), hashlib.sha256).hexdigest()[:16]


HELD_OUT_FRACTION = 0.2  # of a batch's comparisons held out as its test split
REASKED = "reasked"  # Conversation.metadata key: a prompt asked again (training data before)


def _manifest_path(batch: Batch, kind: str) -> Path:
    return manifest_path(export_path(batch, kind))


def held_out_rule(batch: Batch, fraction: float | None = None,
                  maximum: int | None = None) -> dict[str, Any]:
    """The fraction and maximum of the batch's split: those given, else those of its last
    export (1.0 for one written before fractions: it held out ``test_split_size``), else
    :data:`HELD_OUT_FRACTION` and no maximum beyond ``test_split_size``."""
    if fraction is None or maximum is None:
        for kind in KINDS:
            try:
                earlier = json.loads(_manifest_path(batch, kind).read_text())
            except (OSError, ValueError):
                continue
            rule = earlier.get("held_out") or {"fraction": 1.0, "max": None}
            fraction = rule.get("fraction") if fraction is None else fraction
            maximum = rule.get("max") if maximum is None else maximum
            break
    fraction = HELD_OUT_FRACTION if fraction is None else float(fraction)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"held-out fraction {fraction}: expected a number in (0, 1]")
    return {"fraction": fraction, "max": None if maximum is None else int(maximum)}


def held_out_comparisons(batch: Batch, fraction: float | None = None,
                         maximum: int | None = None) -> set[int]:
    """Ids of the batch's held-out comparisons: of the comparisons whose prompt was not
    re-asked, the ``min(test_split_size, maximum, ceil(fraction * count))`` smallest
    hashes (the rule: :func:`held_out_rule`). Gold comparisons count like any other."""
    rule = held_out_rule(batch, fraction, maximum)

    def rank(comparison_id: int) -> bytes:
        return hashlib.sha256(f"paddock-split:{batch.pk}:{comparison_id}".encode()).digest()

    ids = [
        comparison_id for comparison_id, metadata in
        Comparison.objects.filter(batch=batch)
        .values_list("id", "conversation__metadata").iterator(10_000)
        if not (isinstance(metadata, dict) and metadata.get(REASKED))
    ]
    size = min(batch.test_split_size, math.ceil(rule["fraction"] * len(ids)))
    if rule["max"] is not None:
        size = min(size, rule["max"])
    return set(sorted(ids, key=rank)[:size])


# Plain rows, not model instances: building six related objects per judgement was most of
# the export's time (1,000,000 judgements took 203 s that way).
PREFERENCE_FIELDS = (
    "id", "comparison_id", "comparison__axis", "comparison__is_gold",
    "comparison__conversation_id", "comparison__conversation__risk_category",
    "comparison__conversation__origin", "chosen__text", "rejected__text",
    "chosen__model_version", "rejected__model_version", "strength", "chosen_safe",
    "rejected_safe", "annotator_id",
)
RAW_FIELDS = (
    "id", "comparison_id", "annotator_id", "left_response_id", "chosen_id", "rejected_id",
    "strength", "chosen_safe", "rejected_safe", "skipped", "skip_reason", "flagged_harmful",
    "comment", "seconds", "assignment__leased_at", "created_at",
)


def _rows(batch: Batch, fields: tuple[str, ...], **filters) -> Iterator[list[dict[str, Any]]]:
    """The batch's judgements as dicts, in id order, a chunk at a time (server-side cursor)."""
    rows = (
        Judgement.objects.filter(comparison__batch=batch, **filters)
        .order_by("id")
        .values(*fields)
        .iterator(chunk_size=CHUNK)
    )
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _conversations(ids: set[int]) -> dict[int, list[dict[str, str]]]:
    turns: dict[int, list[dict[str, str]]] = {i: [] for i in ids}
    for conversation, role, content in (
        Turn.objects.filter(conversation_id__in=ids)
        .order_by("conversation_id", "index")
        .values_list("conversation_id", "role", "content")
    ):
        turns[conversation].append({"role": role, "content": content})
    return turns


def preference_record(
    row: dict[str, Any], conversation: list[dict[str, str]], batch: Batch, split: str
) -> dict[str, Any]:
    bin_ = safety_bin(row["chosen_safe"], row["rejected_safe"])
    strength = row["strength"]
    return {
        "id": row["id"],
        "comparison_id": row["comparison_id"],
        "batch": batch.name,
        "split": split,
        "axis": row["comparison__axis"],
        "risk_category": row["comparison__conversation__risk_category"] or None,
        "origin": row["comparison__conversation__origin"],
        "conversation": conversation,
        "chosen": row["chosen__text"],
        "rejected": row["rejected__text"],
        "chosen_model": row["chosen__model_version"],
        "rejected_model": row["rejected__model_version"],
        "strength": strength,
        "margin_small": MARGINS["small"][strength],
        "margin_large": MARGINS["large"][strength],
        "chosen_safe": row["chosen_safe"],
        "rejected_safe": row["rejected_safe"],
        "safety_bin": bin_.value if bin_ else None,
        "annotator": pseudonym(row["annotator_id"]),
        "is_gold": row["comparison__is_gold"],
    }


def current_marks(batch: Batch) -> dict[int, str]:
    """The batch's judgements that carry a mark now (review or excluded): few rows, read
    once per export."""
    return dict(
        JudgementMark.objects.filter(judgement__comparison__batch=batch, current=True)
        .exclude(state=MarkState.NONE).values_list("judgement_id", "state")
    )


def raw_record(row: dict[str, Any], batch: Batch, split: str,
               mark: str | None = None) -> dict[str, Any]:
    return {
        "id": row["id"],
        "comparison_id": row["comparison_id"],
        "batch": batch.name,
        "split": split,
        "annotator": pseudonym(row["annotator_id"]),
        "left_response_id": row["left_response_id"],
        "chosen_response_id": row["chosen_id"],
        "rejected_response_id": row["rejected_id"],
        "strength": row["strength"] or None,
        "chosen_safe": row["chosen_safe"],
        "rejected_safe": row["rejected_safe"],
        "skipped": row["skipped"],
        "skip_reason": row["skip_reason"] or None,
        "flagged_harmful": row["flagged_harmful"],
        "comment": row["comment"] or None,
        "seconds": row["seconds"],
        "leased_at": row["assignment__leased_at"].isoformat(),
        "submitted_at": row["created_at"].isoformat(),
        "mark": mark,
    }


def _records(batch: Batch, kind: str, held_out: set[int], counts: dict[str, int]) -> Iterator[str]:
    def split_of(row: dict[str, Any]) -> str:
        return "test" if row["comparison_id"] in held_out else "train"

    marks = current_marks(batch)
    if kind == "raw":
        for chunk in _rows(batch, RAW_FIELDS):
            for row in chunk:
                split = split_of(row)
                counts[split] += 1
                yield json.dumps(raw_record(row, batch, split, marks.get(row["id"])),
                                 ensure_ascii=False)
        return
    counts["skipped"] = Judgement.objects.filter(comparison__batch=batch, skipped=True).count()
    for chunk in _rows(batch, PREFERENCE_FIELDS, skipped=False):
        conversations = _conversations({row["comparison__conversation_id"] for row in chunk})
        for row in chunk:
            if marks.get(row["id"]) == MarkState.EXCLUDED:
                counts["left_out_excluded"] += 1
                continue
            if is_stand_in(row["chosen__model_version"]) or is_stand_in(
                row["rejected__model_version"]
            ):
                counts["left_out_stand_in"] += 1
                continue
            if (
                row["comparison__axis"] == Axis.SAFETY
                and safety_bin(row["chosen_safe"], row["rejected_safe"])
                == SafetyBin.PREFERRED_UNSAFE_OTHER_SAFE
            ):
                counts["excluded_preferred_unsafe"] += 1
                continue
            split = split_of(row)
            counts[split] += 1
            record = preference_record(
                row, conversations[row["comparison__conversation_id"]], batch, split
            )
            yield json.dumps(record, ensure_ascii=False)


def export_path(batch: Batch, kind: str) -> Path:
    return Path(settings.ARTIFACTS_DIR) / "annotation" / "exports" / f"{batch.pk}-{kind}.jsonl.gz"


def export_batch(
    batch: Batch, kind: str, *, progress: Progress = no_progress,
    held_out_fraction: float | None = None, held_out_max: int | None = None,
) -> dict[str, Any]:
    """Write the batch's export of ``kind``; returns its manifest (also written beside).
    ``held_out_fraction`` and ``held_out_max`` set the test split (:func:`held_out_rule`)."""
    if kind not in KINDS:
        raise ValueError(f"export kind must be one of {', '.join(KINDS)}, not {kind!r}")
    path = export_path(batch, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    total = Judgement.objects.filter(comparison__batch=batch).count()
    rule = held_out_rule(batch, held_out_fraction, held_out_max)
    held_out = held_out_comparisons(batch, rule["fraction"], rule["max"])
    counts = {"train": 0, "test": 0, "skipped": 0, "excluded_preferred_unsafe": 0,
              "left_out_stand_in": 0, "left_out_excluded": 0}
    written = 0
    # Each export writes its own temporary file (two clicks can queue two exports of one
    # batch); a full disk or a crash leaves the last complete export as it was. The gzip
    # header names the file as it always has (the temporary name once was "{name}.tmp"),
    # not the random temporary name, so equal data gives equal bytes.
    with (
        atomic_file(path) as raw,
        gzip.GzipFile(
            filename=f"{path.name}.tmp", fileobj=raw, mode="wb", mtime=0, compresslevel=6
        ) as out,
    ):
        for line in _records(batch, kind, held_out, counts):
            out.write(line.encode("utf-8") + b"\n")
            written += 1
            if written % 10_000 == 0:
                progress(written / max(total, 1), f"{written:,} of {total:,} judgements")
    manifest = {
        "batch": batch.name,
        "kind": kind,
        "file": path.name,
        "records": counts["train"] + counts["test"],
        "counts": counts,
        "test_split_size": batch.test_split_size,
        "held_out": {**rule, "comparisons": len(held_out)},
        "margins": {table: dict(values) for table, values in MARGINS.items()},
        # The trainer reads this version (paddock.kernel.exchange) before the records.
        **(schema_fields(PREFERENCES) if kind == "preferences" else {}),
    }
    write_atomically(
        _manifest_path(batch, kind), json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    )
    progress(1.0, f"{manifest['records']:,} records")
    return manifest
