"""Property tests for storing what the readers give (curation.services.ingest.source_ingest).

Whatever a JSONL source holds, ingest ends READY with one stored document per document the
reader gave, whole (NUL characters dropped), one IngestProblem per problem (and one saying
the input held no documents, if so), and ingesting it again stores nothing twice.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paddock.curation.core.documents import RawDocument
from paddock.curation.core.readers import read_documents
from paddock.curation.models import IngestProblem, Source, SourceStatus
from paddock.curation.services.document_store import default_store
from paddock.curation.services.ingest import source_ingest
from tests.fuzz.strategies import FUZZ_DB, files_of, json_values, nasty_text, near, plain_keys

# Values stored in text and JSON columns are drawn without lone surrogates here (the tests
# below give them their own cases); NUL characters are in, ingest drops them.
storable_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=24)
records = near({
    "text": nasty_text,  # lone surrogates in the text are replaced by the reader
    "url": st.sampled_from(["https://a.example.org/x", "http://[::1]:80/", "mailto:x@y",
                            "https://xn--bcher-kva.example/", "", "//no-scheme.example"])
    | storable_text,
    "id": st.sampled_from(["http://from-id.example/", "doc-1"]),
    "metadata": st.dictionaries(plain_keys, json_values(plain_keys), max_size=3),
}, keys=plain_keys)


def stored_texts(source: Source) -> list[str]:
    return [text for (text,) in default_store().rows(source.store_key, ("text",))]


@pytest.mark.parametrize("fmt", ["jsonl", "lines"])
@FUZZ_DB
@given(data=files_of(records))
def test_ingest_stores_every_document_whole_and_every_problem_once(db, tmp_path, fmt, data):
    path = tmp_path / "source.jsonl"
    path.write_bytes(data)
    items = list(read_documents(path, fmt))
    docs = [item for item in items if isinstance(item, RawDocument)]
    name = f"fuzz-{fmt}-{hashlib.sha256(data).hexdigest()[:16]}"  # one name per file
    source, _created = source_ingest(path=path, name=name, fmt=fmt)
    assert source.status == SourceStatus.READY, source.error
    empty = 0 if docs else 1  # the empty_input problem
    assert (source.documents, source.problems) == (len(docs), len(items) - len(docs) + empty)
    assert stored_texts(source) == [doc.text.replace("\x00", "") for doc in docs]
    assert IngestProblem.objects.filter(source=source).count() == source.problems
    again, created = source_ingest(path=path, name=name, fmt=fmt)
    assert (again.pk, created) == (source.pk, False)
    assert len(stored_texts(source)) == len(docs)


# --------------------------------------------------------------------------- bugs


def ingest_one(tmp_path, line: bytes) -> Source:
    path = tmp_path / "one.jsonl"
    path.write_bytes(b'{"text": "a good document before the bad one"}\n' + line + b"\n")
    source, _created = source_ingest(path=path, name="one", fmt="jsonl")
    return source


def test_lone_surrogate_in_metadata_is_stored_or_reported(db, tmp_path):
    source = ingest_one(tmp_path, b'{"text": "hello", "note": "\\ud800"}')
    assert source.status == SourceStatus.READY and source.documents + source.problems == 2


def test_lone_surrogate_in_url_is_stored_or_reported(db, tmp_path):
    source = ingest_one(tmp_path, b'{"text": "hello", "url": "https://a.example/\\udc00"}')
    assert source.status == SourceStatus.READY and source.documents + source.problems == 2


def test_a_url_with_an_overlong_host_label_is_ingested(db, tmp_path):
    url = "https://" + "a" * 300 + ".com/"
    source = ingest_one(tmp_path, b'{"text": "hello", "url": "%s"}' % url.encode())
    assert source.status == SourceStatus.READY and source.documents == 2


def test_a_failed_ingest_is_marked_failed_with_its_error(db, tmp_path, monkeypatch, caplog):
    """The last write of an ingest fails (the database refuses it): the source says so
    instead of staying "ingesting" forever. (The write is made to fail here; the fuzzing
    found it with a lone surrogate, which the ingest now stores as U+FFFD.) People see a
    sentence; the database's own words, which may hold SQL, go to the log (issue 18)."""
    from django.db import DatabaseError

    def refused(*args, **kwargs):
        raise DatabaseError("could not extend file: No space left on device")

    monkeypatch.setattr("paddock.curation.services.ingest._flush", refused)
    with pytest.raises(DatabaseError):
        ingest_one(tmp_path, b'{"text": "hello"}')
    source = Source.objects.get(name="one")
    assert source.status == SourceStatus.FAILED
    assert "an unexpected error stopped this on the worker" in source.error
    assert f"source {source.pk}" in source.error and "No space left" not in source.error
    assert "No space left" in caplog.text
