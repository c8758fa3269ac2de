"""The ingest readers on the real samples in ../shared/data and on damaged files made here.

Each reader must yield every good record, turn every bad one into a ReadProblem with its
place, and raise only when a source cannot be opened at all.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tracemalloc
from collections.abc import Iterable
from pathlib import Path

import pytest
import zstandard

from paddock.curation.core.documents import CurationInputError, RawDocument, ReadProblem
from paddock.curation.core.readers import (
    file_fingerprint,
    guess_format,
    open_binary,
    read_documents,
)
from tests.support.shared_data import shared_data


def split(
    items: Iterable[RawDocument | ReadProblem],
) -> tuple[list[RawDocument], list[ReadProblem]]:
    docs: list[RawDocument] = []
    problems: list[ReadProblem] = []
    for item in items:
        (docs if isinstance(item, RawDocument) else problems).append(item)
    return docs, problems


def read_all(path: Path, fmt: str = "auto", **fields: str):
    return split(read_documents(path, fmt, **fields))


def words(text: str) -> set[str]:
    return {word.strip(".,;:()[]«»\"'").lower() for word in text.split()} - {""}


def jsonl(*records: object) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


# --------------------------------------------------------------------------- real WARC / WET

WHIRLWIND_URL = "https://an.wikipedia.org/wiki/Escopete"


def test_whirlwind_warc_text_agrees_with_its_wet_record():
    warc_docs, warc_problems = read_all(
        shared_data("web-warc-samples", "whirlwind", "whirlwind.warc.gz")
    )
    wet_docs, wet_problems = read_all(
        shared_data("web-warc-samples", "whirlwind", "whirlwind.warc.wet.gz")
    )
    assert warc_problems == wet_problems == []
    [page] = warc_docs  # request and metadata records are not documents
    [reference] = wet_docs
    assert page.url == reference.url == WHIRLWIND_URL
    assert reference.metadata["WARC-Identified-Content-Language"] == "spa"
    assert page.metadata["encoding"] == "utf-8"
    assert page.text.startswith("Escopete")
    # The WET text is the whole page, menus included; ours is the main content only, so
    # nearly all of ours is in the WET text, and ours is a good part of it.
    ours, theirs = words(page.text), words(reference.text)
    assert len(ours & theirs) >= 0.85 * len(ours)
    assert len(ours & theirs) >= 0.3 * len(theirs)
    assert len(page.text) < len(reference.text)


def test_wget_warc_urls_lose_their_angle_brackets_and_resource_records_are_skipped():
    docs, problems = read_all(shared_data("web-warc-samples", "dolma", "sample-0000.warc.gz"))
    assert problems == []
    assert len(docs) == 22  # the 22 HTTP responses; not the wget resource/metadata records
    assert all(doc.url.startswith("https://") and ">" not in doc.url for doc in docs)
    assert docs[0].url == "https://www.semanticscholar.org/research/research-team"
    assert not any("gnu.org/software/wget" in doc.url for doc in docs)
    offsets = [int(doc.locator.removeprefix("offset ")) for doc in docs]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    # A chunked (Transfer-Encoding) response is de-chunked before extraction.
    weld = next(doc for doc in docs if doc.url.endswith("/faculty/weld"))
    assert "Contact" in weld.text and "\r\n" not in weld.text


def test_wget_warc_captures_of_one_page_read_the_same():
    docs, problems = read_all(shared_data("web-warc-samples", "dolma", "sample-0001.warc.gz"))
    assert problems == []
    assert len(docs) == 15
    captures = [doc.text for doc in docs if doc.url == "https://allenai.org/"]
    assert len(captures) == 3
    assert captures[1] == captures[2]  # byte-identical payloads


def test_common_crawl_warc_decodes_legacy_charsets():
    docs, problems = read_all(shared_data("web-warc-samples", "resiliparse", "warcfile.warc.gz"))
    assert problems == []
    assert len(docs) == 16
    pages = {doc.url: doc for doc in docs}
    russian = pages["http://01spb.ru/company/"]
    assert russian.metadata["encoding"] == "windows-1251"
    assert "компании" in russian.text
    chinese = pages["http://0760.jxtdw.com/area/sanxiang/"]
    assert chinese.metadata["encoding"] == "gb2312"  # from the server
    assert "中山英才网" in chinese.text
    sniffed = pages["http://041696.com/15477/list_6_4.html"]  # no charset: detected
    assert sniffed.metadata["encoding"] == "gbk"
    assert "企业公告" in sniffed.text


# --------------------------------------------------------------------------- real JSONL / text


@pytest.mark.parametrize(
    "name", ["cc_en_head-0091.jsonl.gz", "cc_en_head-0174.jsonl.gz", "dolma_documents_000.json.gz"]
)
def test_dolma_documents_take_their_url_from_id(name):
    docs, problems = read_all(shared_data("web-cc-docs", name))
    assert problems == []
    assert len(docs) == 10
    for number, doc in enumerate(docs, start=1):
        assert doc.locator == f"line {number}"
        assert doc.url == doc.metadata["id"]
        assert doc.url.startswith("http://")
        assert doc.metadata["source"] == "common-crawl"
        assert doc.metadata["language"] == "en"  # from the nested metadata object
        assert doc.text


def test_c4_sample_has_text_only():
    docs, problems = read_all(shared_data("web-c4-sample", "c4_demo.jsonl"))
    assert problems == []
    assert len(docs) == 300
    assert all(doc.url == "" and doc.metadata == {} and doc.text for doc in docs)
    assert docs[0].text.startswith("Don\u2019t think you need all the bells and whistles?")


def test_wikipedia_sample_is_one_article_a_line():
    path = shared_data("wikipedia-sample", "wiki_demo.txt")
    assert guess_format(path) == "lines"
    docs, problems = read_all(path, "lines")
    assert problems == []
    assert [doc.locator for doc in docs] == [f"line {n}" for n in range(1, 31)]
    assert docs[0].text.startswith("Anarchism is a political philosophy")
    assert not any(doc.text.endswith("\n") for doc in docs)


def test_alice_copies_as_a_text_folder():
    docs, problems = read_all(shared_data("gutenberg-alice-variants"))
    assert problems == []
    assert [doc.locator for doc in docs] == [
        "file markovrandomtext_pg11.txt",
        "file text2audiobook_pg11-images-3.txt",
        "file wordcloud_alice.txt",
    ]
    assert not docs[2].text.startswith("\ufeff")  # the BOM is encoding, not text
    assert all("Alice" in doc.text for doc in docs)


# --------------------------------------------------------------------------- bad JSONL


def test_a_malformed_line_between_good_ones(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_bytes(jsonl({"text": "one"}) + b'{"text": "two",\n' + jsonl({"text": "three"}))
    docs, problems = read_all(path)
    assert [(doc.text, doc.locator) for doc in docs] == [("one", "line 1"), ("three", "line 3")]
    [problem] = problems
    assert (problem.source, problem.locator, problem.kind) == (
        str(path),
        "line 2",
        "malformed_json",
    )
    assert str(problem).startswith(f"{path}: line 2: malformed_json: ")


def test_invalid_utf8_line_is_skipped(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_bytes(jsonl({"text": "ok"}) + b'{"text": "caf\xe9"}\n' + jsonl({"text": "fine"}))
    docs, problems = read_all(path)
    assert [doc.text for doc in docs] == ["ok", "fine"]
    assert [(p.locator, p.kind) for p in problems] == [("line 2", "not_utf8")]


def test_values_that_are_not_documents(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_bytes(
        jsonl([1, 2], "text", 7, None, {"body": "x"}, {"text": 3}, {"text": None}, {"text": ""})
    )
    docs, problems = read_all(path)
    assert [(p.locator, p.kind) for p in problems] == [
        ("line 1", "not_an_object"),
        ("line 2", "not_an_object"),
        ("line 3", "not_an_object"),
        ("line 4", "not_an_object"),
        ("line 5", "missing_text"),
        ("line 6", "missing_text"),
        ("line 7", "missing_text"),
    ]
    assert problems[4].detail == "field 'text' is missing"
    assert problems[5].detail == "field 'text' is int, not a string"
    # An empty document is a document: the pipeline drops it, with its reason.
    assert [(doc.text, doc.locator) for doc in docs] == [("", "line 8")]


def test_fields_urls_and_metadata(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf"  # a BOM before the first record
        + jsonl(
            {"body": "a", "link": "https://a.example/", "lang": "en", "tags": ["x"], "n": 3},
            {"body": "b", "id": "https://b.example/page", "metadata": {"lang": "de", "n": 1}},
            {"body": "c", "id": "doc-17", "metadata": {"link": "https://c.example/"}},
            {"body": "d", "id": "doc-18"},
        )
        + b"\n   \n"  # blank lines are not records
    )
    docs, problems = read_all(path, text_field="body", url_field="link")
    assert problems == []
    assert [doc.url for doc in docs] == [
        "https://a.example/",
        "https://b.example/page",
        "https://c.example/",
        "",
    ]
    assert docs[0].metadata == {"lang": "en", "n": 3}  # no text, url or list fields
    assert docs[1].metadata == {"lang": "de", "n": 1, "id": "https://b.example/page"}
    assert docs[3].metadata == {"id": "doc-18"}


def test_top_level_fields_win_over_nested_metadata(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_bytes(jsonl({"text": "t", "source": "top", "metadata": {"source": "nested"}}))
    [doc] = read_documents(path)
    assert doc.metadata == {"source": "top"}


def test_lone_surrogates_become_replacement_characters(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_bytes(b'{"text": "a\\ud800b \\ud83d\\ude00"}\n')
    [doc] = read_documents(path)
    assert doc.text == "a\ufffdb \U0001f600"
    doc.text.encode("utf-8")


def test_lines_format_skips_blank_lines_and_keeps_numbers(tmp_path):
    path = tmp_path / "articles.txt"
    path.write_bytes(b"first article\r\n\n  \nsecond \xff article\nthird article")
    docs, problems = read_all(path)
    assert [(doc.text, doc.locator) for doc in docs] == [
        ("first article", "line 1"),
        ("third article", "line 5"),
    ]
    assert [(p.locator, p.kind) for p in problems] == [("line 4", "not_utf8")]


# --------------------------------------------------------------------------- compression


def many_lines(count: int) -> bytes:
    return jsonl(*({"text": f"document number {n} " + "lorem ipsum " * 20} for n in range(count)))


@pytest.mark.parametrize("name", ["cut.jsonl.gz", "cut.jsonl.zst"])
def test_a_compressed_file_cut_in_the_middle(tmp_path, name):
    data = many_lines(2000)
    compressed = gzip.compress(data) if name.endswith(".gz") else zstandard.compress(data)
    path = tmp_path / name
    path.write_bytes(compressed[: len(compressed) // 2])
    docs, problems = read_all(path)
    assert 0 < len(docs) < 2000
    # Every document before the damage, in order and whole; nothing after it.
    assert [doc.locator for doc in docs] == [f"line {n}" for n in range(1, len(docs) + 1)]
    assert all(doc.text.endswith("lorem ipsum ") for doc in docs)
    [problem] = problems
    assert problem.kind == "truncated"
    assert problem.locator == f"line {len(docs) + 1}"
    assert "compressed byte" in problem.detail


def test_corrupt_gzip_data_stops_the_file_with_a_problem(tmp_path):
    texts = [os.urandom(100).hex() for _ in range(3000)]  # 600 kB that gzip cannot shrink
    compressed = bytearray(gzip.compress(jsonl(*({"text": text} for text in texts))))
    middle = len(compressed) // 2
    compressed[middle : middle + 64] = bytes(64)
    path = tmp_path / "corrupt.jsonl.gz"
    path.write_bytes(bytes(compressed))
    docs, problems = read_all(path)
    # Everything before the damage comes out as it was. Inflating garbage mostly makes
    # malformed lines, but can make a valid record or two, and gzip only notices at the
    # member's checksum: the problem comes last, and taints what came just before it.
    assert len(docs) > 1000
    assert [doc.text for doc in docs[:1000]] == texts[:1000]
    assert problems[-1].kind == "corrupt_stream"
    assert "gzip data is corrupt" in problems[-1].detail


def test_compression_is_found_by_content_not_by_name(tmp_path):
    data = many_lines(50)
    (tmp_path / "plain.jsonl.gz").write_bytes(data)  # says gzip, is not
    (tmp_path / "gzip.jsonl").write_bytes(gzip.compress(data))  # is gzip, does not say so
    (tmp_path / "zstd.jsonl").write_bytes(zstandard.compress(data))
    # Several gzip members (as from `cat a.gz b.gz`) and trailing zero padding.
    (tmp_path / "members.jsonl.gz").write_bytes(
        gzip.compress(data[:1000]) + gzip.compress(data[1000:]) + bytes(512)
    )
    for name in ["plain.jsonl.gz", "gzip.jsonl", "zstd.jsonl", "members.jsonl.gz"]:
        with open_binary(tmp_path / name) as stream:
            assert stream.read() == data, name
        docs, problems = read_all(tmp_path / name)
        assert len(docs) == 50 and problems == [], name


def test_a_gzip_bomb_inflates_in_bounded_pieces(tmp_path, monkeypatch):
    monkeypatch.setenv("PADDOCK_MAX_COMPRESSION_RATIO", "100000")  # read it all here
    path = tmp_path / "zeros.gz"
    path.write_bytes(gzip.compress(bytes(64 << 20), compresslevel=9))  # 64 MB in 65 kB
    tracemalloc.start()
    try:
        with open_binary(path) as stream:
            total = sum(len(chunk) for chunk in iter(lambda: stream.read(1 << 16), b""))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 64 << 20
    assert peak < 6 << 20  # one 16 kB input chunk would be 16 MB inflated at once


def test_reading_a_large_gzip_jsonl_keeps_memory_bounded(tmp_path):
    """About 64 MB of JSON Lines read with a small, flat peak of traced memory."""
    path = tmp_path / "large.jsonl.gz"
    block = os.urandom(6 << 10).hex()  # 12 kB of text that gzip cannot shrink much
    count = 5_000
    with gzip.open(path, "wb", compresslevel=1) as out:
        for n in range(count):
            out.write(b'{"id": %d, "text": "%s"}\n' % (n, block[n % 64 :].encode()))
    size = count * len(block)
    tracemalloc.start()
    try:
        seen = 0
        for item in read_documents(path):
            assert isinstance(item, RawDocument)
            seen += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == count
    assert peak < size / 10, f"peak {peak} bytes for {size} bytes of text"
    assert peak < 4 << 20


# --------------------------------------------------------------------------- synthetic WARC


def warc_record(warc_type: str, uri: str, block: bytes, content_type: str) -> bytes:
    header = (
        "WARC/1.0\r\n"
        f"WARC-Type: {warc_type}\r\n"
        f"WARC-Record-ID: <urn:sha256:{hashlib.sha256(block + uri.encode()).hexdigest()}>\r\n"
        "WARC-Date: 2024-05-01T00:00:00Z\r\n"
        f"WARC-Target-URI: {uri}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(block)}\r\n"
        "\r\n"
    )
    return header.encode() + block + b"\r\n\r\n"


def http_response(body: bytes, content_type: str, status: str = "200 OK") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
    return head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def page(words_: str) -> bytes:
    paragraphs = "".join(f"<p>{words_} paragraph {n} of the article.</p>" for n in range(6))
    return (
        f"<html><head><title>t</title></head><body><main>{paragraphs}</main></body></html>".encode()
    )


def response(uri: str, body: bytes, content_type: str = "text/html; charset=utf-8", **kw) -> bytes:
    block = http_response(body, content_type, **kw)
    return warc_record("response", uri, block, "application/http; msgtype=response")


def sample_warc() -> list[bytes]:
    """Records: warcinfo, request, 3 HTML pages, an image, a redirect, a resource."""
    return [
        warc_record("warcinfo", "", b"software: test\r\n", "application/warc-fields"),
        warc_record(
            "request",
            "<https://a.example/>",
            b"GET / HTTP/1.1\r\n\r\n",
            "application/http; msgtype=request",
        ),
        response("<https://a.example/>", page("Alpha")),
        response(
            "https://b.example/",
            "<p>Grüße aus Köln</p>".encode("latin-1"),
            "text/html; charset=utf-8",
        ),  # the server lies about the charset
        response("https://c.example/logo.png", b"\x89PNG....", "image/png"),
        response("https://d.example/", b"<a href=x>moved</a>", status="301 Moved Permanently"),
        response("https://e.example/", page("Epsilon")),
        warc_record(
            "resource", "<metadata://gnu.org/software/wget/warc/wget.log>", b"log", "text/plain"
        ),
    ]


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_synthetic_warc_yields_only_successful_html_responses(tmp_path, compression):
    records = sample_warc()
    path = tmp_path / "crawl.warc"
    path.write_bytes(b"".join(records))
    if compression == "gzip":  # one member a record, as crawlers write them
        path = tmp_path / "crawl.warc.gz"
        path.write_bytes(b"".join(gzip.compress(record) for record in records))
    elif compression == "zstd":
        path = tmp_path / "crawl.warc.zst"
        path.write_bytes(zstandard.compress(b"".join(records)))
    docs, problems = read_all(path)
    assert problems == []
    assert [doc.url for doc in docs] == [
        "https://a.example/",
        "https://b.example/",
        "https://e.example/",
    ]
    assert "Alpha paragraph 0 of the article." in docs[0].text
    assert "Grüße aus Köln" in docs[1].text  # undecodable as UTF-8: sniffed instead
    # Offsets are into the decompressed stream, whatever the compression.
    data = (tmp_path / "crawl.warc").read_bytes()
    offsets = [int(doc.locator.removeprefix("offset ")) for doc in docs]
    assert all(data[offset:].startswith(b"WARC/1.0\r\nWARC-Type: response") for offset in offsets)


def test_gzip_warc_cut_mid_record(tmp_path):
    records = sample_warc()
    members = [gzip.compress(record) for record in records]
    cut = sum(map(len, members[:6])) + len(members[6]) // 2  # inside the page of e.example
    path = tmp_path / "cut.warc.gz"
    path.write_bytes(b"".join(members)[:cut])
    docs, problems = read_all(path)
    assert [doc.url for doc in docs] == ["https://a.example/", "https://b.example/"]
    [problem] = problems
    assert problem.kind == "truncated"
    assert problem.locator == f"offset {sum(map(len, records[:6]))}"


def test_plain_warc_cut_mid_record(tmp_path):
    records = sample_warc()
    data = b"".join(records)
    start = sum(map(len, records[:6]))
    path = tmp_path / "cut.warc"
    path.write_bytes(data[: start + len(records[6]) - 40])
    docs, problems = read_all(path)
    assert len(docs) == 2
    assert [(p.locator, p.kind) for p in problems] == [(f"offset {start}", "truncated")]


def test_warc_record_with_a_broken_header(tmp_path):
    records = sample_warc()
    records[3] = records[3].replace(b"WARC/1.0", b"WARX/1.0", 1)
    path = tmp_path / "broken.warc"
    path.write_bytes(b"".join(records))
    docs, problems = read_all(path)
    assert [doc.url for doc in docs] == ["https://a.example/"]
    [problem] = problems
    assert problem.kind == "corrupt_record"
    assert problem.locator == f"offset {sum(map(len, records[:3]))}"


def test_wet_records(tmp_path):
    text = "Ein Absatz.\nNoch einer.\n"
    record = warc_record("conversion", "https://a.example/", text.encode(), "text/plain")
    record = record.replace(
        b"Content-Type:", b"WARC-Identified-Content-Language: deu\r\nContent-Type:", 1
    )
    path = tmp_path / "x.warc.wet.gz"
    path.write_bytes(gzip.compress(sample_warc()[0]) + gzip.compress(record))
    [doc] = read_documents(path)
    assert (doc.text, doc.url) == (text, "https://a.example/")
    assert doc.metadata["WARC-Identified-Content-Language"] == "deu"


# --------------------------------------------------------------------------- text folders


def test_text_folder_reads_txt_files_in_order(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "inner.txt").write_text("inner")
    (tmp_path / "a.txt").write_bytes("\ufeffalpha\r\n".encode())
    (tmp_path / "c.txt.gz").write_bytes(gzip.compress(b"gamma"))
    (tmp_path / "d.txt.zst").write_bytes(zstandard.compress(b"delta"))
    (tmp_path / "e.txt").write_bytes(b"\xff\xfe bad")
    (tmp_path / "f.txt.gz").write_bytes(gzip.compress(b"x" * 10_000)[:30])
    (tmp_path / "notes.md").write_text("not a text document")
    docs, problems = read_all(tmp_path)
    assert [(doc.locator, doc.text) for doc in docs] == [
        ("file a.txt", "alpha\r\n"),
        ("file b/inner.txt", "inner"),
        ("file c.txt.gz", "gamma"),
        ("file d.txt.zst", "delta"),
    ]
    assert [(p.locator, p.kind) for p in problems] == [
        ("file e.txt", "not_utf8"),
        ("file f.txt.gz", "truncated"),
    ]
    assert all(doc.source == str(tmp_path) for doc in docs)


def test_one_text_file_as_one_document(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text("line one\nline two\n")
    [doc] = read_documents(path, "text")
    assert (doc.text, doc.locator) == ("line one\nline two\n", "file book.txt")


# --------------------------------------------------------------------------- unreadable sources


def test_a_missing_file_raises_one_line_naming_it(tmp_path):
    missing = tmp_path / "nope" / "y.jsonl"
    with pytest.raises(CurationInputError) as caught:
        read_documents(missing)
    assert str(caught.value) == f"cannot read {missing}: no such file"
    with pytest.raises(CurationInputError, match="no such file"):
        read_documents(missing, "warc")


def test_a_folder_where_a_file_is_needed(tmp_path):
    with pytest.raises(CurationInputError) as caught:
        read_documents(tmp_path, "jsonl")
    assert str(caught.value) == f"cannot read {tmp_path}: it is a folder, not a file"


def test_an_unreadable_folder(tmp_path, monkeypatch):
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    folder.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make scandir refuse as it would for others
        real_scandir = os.scandir

        def refusing(path=".", *args, **kwargs):
            if Path(path) == folder:
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path, *args, **kwargs)

        monkeypatch.setattr(os, "scandir", refusing)
    try:
        with pytest.raises(CurationInputError) as caught:
            read_documents(folder)
        assert str(caught.value) == f"cannot read {folder}: permission denied"
        with pytest.raises(CurationInputError, match="permission denied"):
            file_fingerprint(folder)
    finally:
        folder.chmod(0o755)


def test_an_unguessable_format_asks_for_fmt(tmp_path):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(CurationInputError) as caught:
        read_documents(path)
    assert str(path) in str(caught.value)
    assert "pass fmt" in str(caught.value)
    with pytest.raises(ValueError, match="unknown format"):
        read_documents(path, "parquet")


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.jsonl", "jsonl"),
        ("a.JSON", "jsonl"),
        ("a.jsonl.gz", "jsonl"),
        ("a.json.gz", "jsonl"),
        ("a.jsonl.zst", "jsonl"),
        ("a.warc", "warc"),
        ("a.warc.gz", "warc"),
        ("a.warc.wet.gz", "wet"),
        ("a.wet", "wet"),
        ("a.wet.gz", "wet"),
        ("a.txt", "lines"),
        ("a.txt.gz", "lines"),
    ],
)
def test_guess_format(tmp_path, name, fmt):
    path = tmp_path / name
    path.write_bytes(b"")
    assert guess_format(path) == fmt
    assert guess_format(tmp_path) == "text"


# --------------------------------------------------------------------------- fingerprints


def test_file_fingerprint_is_the_sha256_of_the_bytes(tmp_path):
    path = tmp_path / "docs.jsonl.gz"
    data = gzip.compress(many_lines(100))
    path.write_bytes(data)
    assert file_fingerprint(path) == hashlib.sha256(data).hexdigest() == file_fingerprint(path)
    changed = bytearray(data)
    changed[len(changed) // 2] ^= 1
    path.write_bytes(bytes(changed))
    assert file_fingerprint(path) != hashlib.sha256(data).hexdigest()


def test_folder_fingerprint_sees_every_change(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("alpha")
    (tmp_path / "b.txt").write_text("beta")
    first = file_fingerprint(tmp_path)
    assert file_fingerprint(tmp_path) == first
    (tmp_path / "b.txt").write_text("betA")
    changed = file_fingerprint(tmp_path)
    assert changed != first
    (tmp_path / "b.txt").rename(tmp_path / "c.txt")
    assert file_fingerprint(tmp_path) not in {first, changed}


def test_fingerprint_of_a_missing_file(tmp_path):
    with pytest.raises(CurationInputError, match="no such file"):
        file_fingerprint(tmp_path / "missing.jsonl")


def test_fingerprint_of_real_files_is_stable():
    path = shared_data("web-c4-sample", "c4_demo.jsonl")
    assert file_fingerprint(path) == hashlib.sha256(path.read_bytes()).hexdigest()
