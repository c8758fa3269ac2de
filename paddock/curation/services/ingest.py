"""Ingest a source: read it, measure every document once, store documents and problems.

Measurements that never change for a document (registered domain, normalised-content
hash, length, words, language, personal-information counts) are computed here, once, so
runs with different parameters only re-decide, never re-read.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils import timezone

from paddock.curation.core.documents import RawDocument, ReadProblem
from paddock.curation.core.enrich import detect_language, registered_domain
from paddock.curation.core.normalize import content_hash
from paddock.curation.core.pii import count_pii, word_count
from paddock.curation.core.readers import file_fingerprint, guess_format, read_documents
from paddock.curation.models import (
    Document,
    IngestProblem,
    Source,
    SourceFormat,
    SourceStatus,
)
from paddock.kernel.progress import Progress, no_progress
from paddock.kernel.text_safety import storable
from paddock.platform.failure_text import failure_sentence

BATCH = 1000
logger = logging.getLogger(__name__)
MAX_STORED_CHARS = 5_000_000  # longer texts are stored cut (and dropped as too long by runs)


MAX_DOMAIN_CHARS = 253  # the longest DNS name


def measure(raw: RawDocument, source: Source, position: int) -> Document:
    text = storable(raw.text)
    url = storable(raw.url) if raw.url else ""
    domain = registered_domain(url) if url else ""
    language, _score = detect_language(text[:5000])
    return Document(
        source=source,
        position=position,
        locator=raw.locator[:300],
        url=url or "",
        # No DNS name is longer; a longer "host" is not one (and has no site to filter).
        domain=domain if len(domain) <= MAX_DOMAIN_CHARS else "",
        content_hash=content_hash(text),
        length=len(text),
        words=word_count(text),
        language=language[:16],
        pii_counts={str(k): v for k, v in count_pii(text).items() if v},
        text=text[:MAX_STORED_CHARS],
        metadata=storable(raw.metadata),
    )


def source_ingest(
    *,
    path: str | Path,
    name: str,
    fmt: str = "auto",
    text_field: str = "text",
    url_field: str = "url",
    progress: Progress = no_progress,
) -> tuple[Source, bool]:
    """Ingest ``path``; returns (source, created). The same file twice is a no-op.

    A source left half-ingested by a crash is cleared and read again. Reading errors of
    single records are stored as IngestProblem rows and never stop the ingest.
    """
    path = Path(path)
    fmt = guess_format(path) if fmt == "auto" else SourceFormat(fmt).value
    fingerprint = file_fingerprint(path)
    existing = Source.objects.filter(fingerprint=fingerprint).first()
    if existing is not None and existing.status == SourceStatus.READY:
        return existing, False
    try:
        with transaction.atomic():
            if existing is not None:  # an earlier attempt died half-way: start over
                existing.document_set.all().delete()
                existing.problem_set.all().delete()
                source = existing
                source.status, source.documents, source.problems = SourceStatus.INGESTING, 0, 0
                source.save()
            else:
                source = Source.objects.create(
                    name=name, path=str(path), format=fmt, text_field=text_field,
                    url_field=url_field, fingerprint=fingerprint,
                )
    except IntegrityError:  # another worker is ingesting the same file right now
        return Source.objects.get(fingerprint=fingerprint), False

    documents: list[Document] = []
    problems: list[IngestProblem] = []
    position = 0
    try:
        for item in read_documents(path, fmt, text_field=text_field, url_field=url_field):
            if isinstance(item, ReadProblem):
                problems.append(
                    IngestProblem(
                        source=source, locator=item.locator[:300], kind=item.kind,
                        detail=item.detail,
                    )
                )
            else:
                documents.append(measure(item, source, position))
                position += 1
            if len(documents) >= BATCH or len(problems) >= BATCH:
                _flush(source, documents, problems)
                # How far into a compressed stream we are is unknown: report the count.
                progress(0.0, f"{position} documents read")
        _flush(source, documents, problems)
    except Exception as exc:
        try:  # keep what was read before the failure, if it can be stored
            _flush(source, documents, problems)
        except Exception:  # noqa: S110 - the first error is the one to report
            pass
        logger.error("ingest of source %s failed", source.pk, exc_info=exc)
        sentence = failure_sentence(exc, reference=f"source {source.pk}")
        Source.objects.filter(pk=source.pk).update(
            status=SourceStatus.FAILED, error=sentence[:2000])
        raise
    Source.objects.filter(pk=source.pk).update(
        status=SourceStatus.READY, ingested_at=timezone.now()
    )
    source.refresh_from_db()
    progress(1.0, f"{source.documents} documents, {source.problems} problems")
    return source, True


def _flush(source: Source, documents: list[Document], problems: list[IngestProblem]) -> None:
    if not documents and not problems:
        return
    with transaction.atomic():
        Document.objects.bulk_create(documents)
        IngestProblem.objects.bulk_create(problems)
        source.documents += len(documents)
        source.problems += len(problems)
        Source.objects.filter(pk=source.pk).update(
            documents=source.documents, problems=source.problems
        )
    documents.clear()
    problems.clear()
