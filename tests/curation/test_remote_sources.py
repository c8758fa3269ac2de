"""A source named by a URL is read through fsspec, as a local file is: same documents,
same fingerprint, same problems (tested on fsspec's in-memory file system)."""

import gzip
import json
import uuid

import fsspec
import pytest

from paddock.curation.core.documents import CurationInputError, RawDocument
from paddock.curation.core.readers import file_fingerprint, guess_format, read_documents
from paddock.curation.core.readers.remote import RemoteFile, as_source, is_url

LINES = [json.dumps({"text": f"Document {i} about tides and the moon.", "url": f"https://e.org/{i}"})
         for i in range(5)] + ["{not json"]


def put(name: str, data: bytes) -> str:
    url = f"memory://paddock-test-{uuid.uuid4().hex[:8]}/{name}"
    with fsspec.open(url, "wb") as handle:
        handle.write(data)
    return url


def test_a_url_is_remote_and_a_path_is_not(tmp_path):
    assert is_url("s3://bucket/a.jsonl") and is_url("memory://x/a.jsonl")
    assert not is_url(str(tmp_path / "a.jsonl")) and not is_url("file:///tmp/a.jsonl")
    assert isinstance(as_source("memory://x/a.jsonl"), RemoteFile)


def test_a_gzip_jsonl_on_a_file_system_reads_as_the_local_copy(tmp_path):
    data = gzip.compress(("\n".join(LINES) + "\n").encode(), mtime=0)
    local = tmp_path / "crawl.jsonl.gz"
    local.write_bytes(data)
    url = put("crawl.jsonl.gz", data)
    assert guess_format(url) == guess_format(local) == "jsonl"
    assert file_fingerprint(url) == file_fingerprint(local)
    remote_items = list(read_documents(url))
    local_items = list(read_documents(local))
    assert [(type(i).__name__, i.locator) for i in remote_items] == [
        (type(i).__name__, i.locator) for i in local_items]
    assert [i.text for i in remote_items if isinstance(i, RawDocument)] == [
        i.text for i in local_items if isinstance(i, RawDocument)]
    assert all(str(i.source) == url for i in remote_items)


def test_a_missing_remote_file_is_one_clear_error():
    with pytest.raises(CurationInputError, match=r"memory://nowhere-.*/gone\.jsonl"):
        list(read_documents(f"memory://nowhere-{uuid.uuid4().hex[:6]}/gone.jsonl", "jsonl"))


@pytest.mark.django_db
def test_ingest_reads_a_url_into_the_store(ingest):
    url = put("pages.jsonl", ("\n".join(LINES) + "\n").encode())
    source = ingest(url, "remote-pages")
    assert (source.documents, source.problems, source.path) == (5, 1, url)
    again = ingest(url, "remote-pages")
    assert again.pk == source.pk  # the same bytes, name and options: nothing new
