"""Ingest a source: read it, measure every document once, write them to the document store.

Measurements that never change for a document (registered domain, normalised-content
hash, length, words, language, personal-information counts) are computed here, once, so
runs with different parameters only re-decide, never re-read. Documents and measurements
go to the document store (:mod:`paddock.curation.core.store`); PostgreSQL keeps only the
source and its problems.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from paddock.curation.core.documents import CurationInputError, RawDocument, ReadProblem
from paddock.curation.core.enrich import detect_language, registered_domain
from paddock.curation.core.normalize import content_hash
from paddock.curation.core.pii import count_pii
from paddock.curation.core.readers import file_fingerprint, guess_format, read_documents
from paddock.curation.core.readers.folders import _TEXT_FILE_SUFFIXES, walk_folder
from paddock.curation.core.readers.remote import as_source
from paddock.curation.core.store import DocumentStore
from paddock.curation.core.words import word_count
from paddock.curation.models import (
    IngestProblem,
    Source,
    SourceFormat,
    SourceStatus,
)
from paddock.curation.services.document_store import default_store
from paddock.kernel.progress import Progress, no_progress
from paddock.kernel.text_safety import storable
from paddock.platform.failure_text import failure_sentence

BATCH = 1000
COUNT_EVERY = 10_000  # documents between updates of the source's count (its progress)
logger = logging.getLogger(__name__)
MAX_STORED_CHARS = 5_000_000  # longer texts are stored cut (and dropped as too long by runs)


MAX_DOMAIN_CHARS = 253  # the longest DNS name


def measure(raw: RawDocument, position: int) -> dict[str, Any]:
    """One document's store row: its text and every measurement runs decide on."""
    text = storable(raw.text)
    url = storable(raw.url) if raw.url else ""
    domain = registered_domain(url) if url else ""
    # detect_language reads its own sample (10,000 characters: a shorter one changes
    # decisions, measured there), so the whole text goes in.
    language, score = detect_language(text)
    return {
        "position": position,
        "locator": raw.locator[:300],
        "url": url or "",
        # No DNS name is longer; a longer "host" is not one (and has no site to filter).
        "domain": domain if len(domain) <= MAX_DOMAIN_CHARS else "",
        "content_hash": content_hash(text),
        "length": len(text),
        "words": word_count(text),
        "language": language[:16],
        "language_score": float(score),
        "pii_counts": {str(k): v for k, v in count_pii(text).items() if v},
        "text": text[:MAX_STORED_CHARS],
        "metadata": storable(raw.metadata),
    }


def source_identity(*, fingerprint: str, name: str, fmt: str, text_field: str,
                    url_field: str) -> str:
    """What makes two ingests the same: the bytes and every option that changes what is
    read from them (a corrected --text-field reads other documents: a new source)."""
    data = json.dumps({"fingerprint": fingerprint, "name": name, "format": fmt,
                       "text_field": text_field, "url_field": url_field}, sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()


def source_ingest(
    *,
    path: str | Path,
    name: str,
    fmt: str = "auto",
    text_field: str = "text",
    url_field: str = "url",
    progress: Progress = no_progress,
    store: DocumentStore | None = None,
) -> tuple[Source, bool]:
    """Ingest ``path``; returns (source, created). The same file with the same name and
    options twice is a no-op; another source's name is refused with a clear error.

    A source left half-ingested by a crash is cleared and read again. Reading errors of
    single records are stored as IngestProblem rows and never stop the ingest.
    """
    path = as_source(path)  # a local path, or a URL read through fsspec
    store = store or default_store()
    fmt = guess_format(path) if fmt == "auto" else SourceFormat(fmt).value
    fingerprint = file_fingerprint(path)
    identity = source_identity(fingerprint=fingerprint, name=name, fmt=fmt,
                               text_field=text_field, url_field=url_field)
    existing = Source.objects.filter(identity=identity).first()
    if (existing is not None and existing.status == SourceStatus.READY
            and store.complete(existing.store_key)):
        return existing, False
    if existing is None:
        clash = Source.objects.filter(name=name).first()
        if clash is not None:
            raise CurationInputError(
                f"a source named {name!r} already exists (source {clash.pk}, read from "
                f"{clash.path}); give this one another name")
    try:
        with transaction.atomic():
            if existing is not None:  # an earlier attempt died half-way: start over
                existing.problem_set.all().delete()
                source = existing
                source.status, source.documents, source.problems = SourceStatus.INGESTING, 0, 0
                source.save()
            else:
                source = Source.objects.create(
                    name=name, path=str(path), format=fmt, text_field=text_field,
                    url_field=url_field, fingerprint=fingerprint, identity=identity,
                )
    except IntegrityError:  # another worker is ingesting the same source right now
        return Source.objects.get(identity=identity), False

    problems: list[IngestProblem] = []
    position = 0
    try:
        writer = store.writer(source.store_key)
        if fmt == SourceFormat.TEXT and path.is_dir():
            problems.extend(_skipped_files(source, path))
        for item in read_documents(path, fmt, text_field=text_field, url_field=url_field):
            if isinstance(item, ReadProblem):
                problems.append(
                    IngestProblem(
                        source=source, locator=item.locator[:300], kind=item.kind,
                        detail=item.detail,
                    )
                )
            else:
                writer.add(measure(item, position))
                position += 1
                if position % COUNT_EVERY == 0:
                    Source.objects.filter(pk=source.pk).update(documents=position)
                    # How far into a compressed stream we are is unknown: report the count.
                    progress(0.0, f"{position} documents read")
            if len(problems) >= BATCH:
                _flush(source, problems)
        if position == 0:
            problems.append(IngestProblem(
                source=source, locator="", kind="empty_input",
                detail=f"{path.name} holds no documents in {fmt} format"
                       + (f" (text field {text_field!r})" if fmt == "jsonl" else "")))
        _flush(source, problems)
        writer.close(source=source.name, fingerprint=fingerprint)
    except Exception as exc:
        try:  # keep the problems read before the failure, if they can be stored
            _flush(source, problems)
        except Exception:  # noqa: S110 - the first error is the one to report
            pass
        logger.error("ingest of source %s failed", source.pk, exc_info=exc)
        sentence = failure_sentence(exc, reference=f"source {source.pk}")
        Source.objects.filter(pk=source.pk).update(
            status=SourceStatus.FAILED, error=sentence[:2000], documents=position)
        raise
    Source.objects.filter(pk=source.pk).update(
        status=SourceStatus.READY, ingested_at=timezone.now(), documents=position,
    )
    source.refresh_from_db()
    progress(1.0, f"{source.documents} documents, {source.problems} problems")
    return source, True


def _skipped_files(source: Source, root: Path) -> list[IngestProblem]:
    """A folder's files that are not text: said, not silently left out."""
    return [
        IngestProblem(source=source, locator=f"file {entry.relative}"[:300], kind="skipped_file",
                      detail="not a .txt, .txt.gz or .txt.zst file: not read")
        for entry in walk_folder(root)
        if not entry.error and not entry.relative.lower().endswith(_TEXT_FILE_SUFFIXES)
    ]


def _flush(source: Source, problems: list[IngestProblem]) -> None:
    if not problems:
        return
    with transaction.atomic():
        IngestProblem.objects.bulk_create(problems)
        source.problems += len(problems)
        Source.objects.filter(pk=source.pk).update(problems=source.problems)
    problems.clear()
