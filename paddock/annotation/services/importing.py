"""Importing files into a batch: prompts, prompt + two responses, public preferences.

Good lines are stored in chunks, each in one transaction with the import's progress
marker (the last line done), so a crash loses nothing already stored and a second run,
keyed by the file's fingerprint, resumes after that line or, when complete, does nothing.
Every bad line is recorded with its line number on the BatchImport row.

:func:`import_run` also says whether the file had already been imported completely (a
re-upload), so the job's result can say "nothing new was added" rather than nothing
(:mod:`paddock.annotation.services.import_summary` words it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.db import transaction

from paddock.annotation import importers
from paddock.annotation.models import (
    Axis,
    Batch,
    BatchImport,
    ConversationOrigin,
    ImportKind,
    PublicPreference,
    Response,
)
from paddock.annotation.services.comparisons import (
    ResponseSpec,
    TurnSpec,
    comparison_create,
    conversation_create,
)
from paddock.annotation.services.import_summary import import_headline
from paddock.curation.core.readers import file_fingerprint
from paddock.kernel.progress import Progress, no_progress
from paddock.platform import uploads

CHUNK = 500
KEPT_PROBLEMS = 1000
# Each reader of (path, axis): prompt and pair lines carry their own axis, HH-RLHF lines
# take the import's.
READERS = {
    ImportKind.PROMPTS: lambda path, _axis: importers.read_prompts(path),
    ImportKind.PAIRS: lambda path, _axis: importers.read_pairs(path),
    ImportKind.HH_RLHF: importers.read_hh_rlhf,
}


def upload_save(upload) -> Path:
    """An uploaded file onto the shared artifacts folder, where any worker can read it
    (:func:`paddock.platform.uploads.upload_save`: the uploader's name behind a random
    prefix)."""
    return uploads.upload_save(upload, Path(settings.ARTIFACTS_DIR) / "annotation" / "uploads")


NAME_CHARS = 200  # BatchImport.dataset and .file_name, Conversation.external_id


def _external_id(dataset: str, line: int) -> str:
    """``dataset:line``, the dataset name cut so the whole fits the column."""
    suffix = f":{line}"
    return dataset[: NAME_CHARS - len(suffix)] + suffix


def _turns(parsed) -> list[TurnSpec]:
    return [TurnSpec(turn.role, turn.content) for turn in parsed.turns]


def _response(spec: importers.ResponseSpec) -> ResponseSpec:
    return ResponseSpec(spec.text, spec.model, spec.temperature, spec.top_p, spec.seed)


def _store(batch: Batch, record, kind: str, dataset: str) -> None:
    if kind == ImportKind.HH_RLHF:
        conversation = conversation_create(
            batch=batch, turns=_turns(record), axis=record.axis.value,
            risk_category=record.risk_category.value if record.risk_category else "",
            origin=ConversationOrigin.OPEN_SOURCE, external_id=_external_id(dataset, record.line),
        )
        chosen, rejected = (
            Response.objects.create(conversation=conversation, text=text, model_version=dataset)
            for text in (record.chosen, record.rejected)
        )
        PublicPreference.objects.create(
            batch=batch, dataset=dataset, axis=record.axis.value, conversation=conversation,
            chosen=chosen,
            rejected=rejected, line=record.line,
        )
        return
    conversation = conversation_create(
        batch=batch, turns=_turns(record), axis=record.axis.value,
        risk_category=record.risk_category.value if record.risk_category else "",
        origin=ConversationOrigin.IMPORTED, external_id=record.external_id,
        metadata=record.metadata,
    )
    if kind == ImportKind.PAIRS:
        comparison_create(
            conversation=conversation, response_a=_response(record.response_a),
            response_b=_response(record.response_b),
        )


def _chunks(items: Iterator, size: int) -> Iterator[list]:
    while chunk := list(islice(items, size)):
        yield chunk


@dataclass(frozen=True)
class ImportOutcome:
    """One run of an import: its BatchImport row, and ``repeat`` when the file had already
    been imported completely into the batch before this run (nothing new was added)."""

    report: BatchImport
    repeat: bool


def import_file(*, batch: Batch, path: str | Path, kind: str, **options) -> BatchImport:
    """Import ``path`` into ``batch``, as :func:`import_run` (the same ``options``), for
    callers that want only its BatchImport row."""
    return import_run(batch=batch, path=path, kind=kind, **options).report


def import_run(
    *,
    batch: Batch,
    path: str | Path,
    kind: str,
    dataset: str = "",
    axis: str = Axis.HELPFULNESS,
    created_by=None,
    progress: Progress = no_progress,
) -> ImportOutcome:
    """Import ``path`` into ``batch``. ``dataset`` and ``axis`` label public preferences
    (e.g. ``hh-rlhf/harmless-base`` is safety data; its lines are not categorised unless
    they carry their own ``risk_category``)."""
    kind = ImportKind(kind)
    path = Path(path)
    # Raises for a missing file (or a bad axis) before anything is stored.
    records = READERS[kind](path, axis)
    shown = uploads.upload_display_name(path)
    report, _created = BatchImport.objects.get_or_create(
        batch=batch, kind=kind, fingerprint=file_fingerprint(path),
        defaults={
            "file_name": shown[:NAME_CHARS], "created_by": created_by,
            "dataset": (dataset or (shown if kind == ImportKind.HH_RLHF else ""))[:NAME_CHARS],
        },
    )
    if report.complete:
        progress(1.0, import_headline(report, repeat=True))
        return ImportOutcome(report, repeat=True)
    resume_after = report.last_line
    pending = (item for item in records if item.line > resume_after)
    for chunk in _chunks(pending, CHUNK):
        problems = [item for item in chunk if isinstance(item, importers.ImportProblem)]
        good = [item for item in chunk if not isinstance(item, importers.ImportProblem)]
        with transaction.atomic():
            for record in good:
                _store(batch, record, kind, report.dataset)
            report.imported += len(good)
            report.problem_count += len(problems)
            room = KEPT_PROBLEMS - len(report.problems)
            report.problems += [
                {"line": p.line, "field": p.field, "kind": p.kind, "message": p.message}
                for p in problems[: max(room, 0)]
            ]
            report.last_line = chunk[-1].line
            report.save(update_fields=["imported", "problem_count", "problems", "last_line"])
        progress(0.0, import_headline(report))
    report.complete = True
    report.save(update_fields=["complete"])
    progress(1.0, import_headline(report))
    return ImportOutcome(report, repeat=False)
