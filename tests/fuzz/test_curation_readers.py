"""Property tests for the curation ingest readers (JSONL, lines, text folders, WARC, WET).

The contract (paddock.curation.core.readers): a reader yields documents and
ReadProblems naming file and place, goes on after a bad record, never raises for one, and
never yields part of a document. A damaged compressed stream ends the source with one
problem, keeping what came before.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from paddock.curation.core.documents import RawDocument, ReadProblem
from paddock.curation.core.readers import read_documents
from tests.fuzz.strategies import (
    FUZZ,
    files_of,
    gzipped,
    is_blank,
    json_values,
    nasty_text,
    near,
    numbered_lines,
)

KINDS = {"malformed_json", "not_an_object", "missing_text", "not_utf8", "truncated",
         "corrupt_stream", "corrupt_record", "undecodable_html", "unreadable",
         "number_out_of_range", "too_long", "too_large", "too_many_problems"}
LINE = re.compile(r"line (\d+)")
OFFSET = re.compile(r"offset (\d+)")

curation_records = near({
    "text": nasty_text,
    "url": st.sampled_from(["https://example.org/a", "http://ex.com", "", "not a url"]),
    "id": st.sampled_from(["http://from-id.example/", "doc-1"]),
    "metadata": st.dictionaries(st.text(max_size=5), json_values(), max_size=3),
})


def read(path: Path, fmt: str) -> list[RawDocument | ReadProblem]:
    items = list(read_documents(path, fmt))
    for item in items:
        assert isinstance(item, RawDocument | ReadProblem), item
        assert item.source == str(path)
        if isinstance(item, ReadProblem):
            assert item.kind in KINDS, item
            assert item.detail, item
    return items


def by_line(items) -> dict[int, RawDocument | ReadProblem]:
    out: dict[int, RawDocument | ReadProblem] = {}
    for item in items:
        match = LINE.fullmatch(item.locator)
        assert match, f"locator {item.locator!r} is not 'line N'"
        number = int(match.group(1))
        assert number not in out, f"two items for line {number}"
        out[number] = item
    return out


def expected_jsonl(line: bytes, number: int) -> str | None:
    """The text of the document this line must give, or the problem kind, or None."""
    if number == 1:
        line = line.removeprefix(b"\xef\xbb\xbf")
    try:
        decoded = line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return "problem:not_utf8"
    if not decoded.strip():
        return None
    try:  # NaN and Infinity are not JSON: the kernel's reader refuses them everywhere
        record = json.loads(decoded, parse_constant=reject_constant)
    except ValueError:
        return "problem:malformed_json"
    if not isinstance(record, dict):
        return "problem:not_an_object"
    if not isinstance(record.get("text"), str):
        return "problem:missing_text"
    return "doc:" + re.sub("[\ud800-\udfff]", "\ufffd", record["text"])


def reject_constant(name: str) -> None:
    raise ValueError(name)


@FUZZ
@given(data=files_of(curation_records))
@example(data=b'{"text": "ok"}\n{"text": "\\ud83d\\ude00 pair", "url": 5}\n\n{"text": 1}')
def test_jsonl_gives_one_item_per_non_blank_line_and_whole_documents(tmp_path, data):
    path = tmp_path / "docs.jsonl"
    path.write_bytes(data)
    items = by_line(read(path, "jsonl"))
    lines = dict(numbered_lines(data))
    assert set(items) <= set(lines)
    for number, line in lines.items():
        want = expected_jsonl(line, number)
        got = items.get(number)
        if want is None:
            assert got is None, (number, line, got)
        elif want.startswith("problem:"):
            assert isinstance(got, ReadProblem) and got.kind == want.removeprefix("problem:")
        else:
            assert isinstance(got, RawDocument), (number, line, got)
            assert got.text == want.removeprefix("doc:")  # whole, never part of it
            assert isinstance(got.url, str) and isinstance(got.metadata, dict)
            json.dumps(got.metadata)  # still JSON


@FUZZ
@given(data=files_of(nasty_text))
def test_lines_gives_each_non_blank_line_whole(tmp_path, data):
    path = tmp_path / "docs.txt"
    path.write_bytes(data)
    items = by_line(read(path, "lines"))
    for number, line in numbered_lines(data):
        got = items.get(number)
        if is_blank(line, number):
            assert got is None
            continue
        head = line.removeprefix(b"\xef\xbb\xbf") if number == 1 else line
        try:
            text = head.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            assert isinstance(got, ReadProblem) and got.kind == "not_utf8"
        else:
            assert isinstance(got, RawDocument) and got.text == text


@FUZZ
@given(data=files_of(curation_records), cut=st.integers(min_value=0))
def test_a_cut_gzip_keeps_the_documents_before_the_cut_and_says_so(tmp_path, data, cut):
    whole = tmp_path / "whole.jsonl.gz"
    whole.write_bytes(gzipped(data))
    compressed = whole.read_bytes()
    cut %= len(compressed) + 1
    damaged = tmp_path / "cut.jsonl.gz"
    damaged.write_bytes(compressed[:cut])
    full = [(i.locator, i.text) for i in read(whole, "jsonl") if isinstance(i, RawDocument)]
    items = read(damaged, "jsonl")
    docs = [(i.locator, i.text) for i in items if isinstance(i, RawDocument)]
    if cut >= 2:  # under 2 bytes there is no gzip magic: it is read as a plain file
        assert docs == full[: len(docs)], "a document of a cut stream differs from the whole"
    if 2 <= cut < len(compressed):
        assert isinstance(items[-1], ReadProblem)
        assert items[-1].kind in {"truncated", "corrupt_stream"}
        assert LINE.fullmatch(items[-1].locator)


@FUZZ
@given(files=st.dictionaries(
    st.sampled_from(["a.txt", "b/c.txt", "b/d/e.TXT", "f.txt.gz", "g.bin", "h.md"]),
    st.binary(max_size=40) | nasty_text.map(lambda s: s.encode("utf-8", "surrogatepass")),
    max_size=6,
))
def test_a_text_folder_gives_each_text_file_whole_or_a_problem(tmp_path, files):
    root = tmp_path / "folder"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzipped(content) if name.endswith(".gz") else content)
    items = {item.locator: item for item in read(root, "text")}
    wanted = {f"file {name}": content for name, content in files.items()
              if name.lower().endswith((".txt", ".txt.gz"))}
    assert set(items) == set(wanted)
    for locator, content in wanted.items():
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            assert items[locator].kind == "not_utf8"
        else:
            assert items[locator].text == text


# --------------------------------------------------------------------------- WARC / WET


def warc_record(warc_type: str, uri: str, block: bytes, content_type: str, number: int) -> bytes:
    head = (
        "WARC/1.0\r\n"
        f"WARC-Type: {warc_type}\r\n"
        f"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-{number:012d}>\r\n"
        "WARC-Date: 2024-05-01T00:00:00Z\r\n"
        f"WARC-Target-URI: {uri}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(block)}\r\n"
        "\r\n"
    )
    return head.encode() + block + b"\r\n\r\n"


def http_block(status: int, content_type: str, body: bytes) -> bytes:
    head = (f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


payloads = st.one_of(
    st.binary(max_size=60),
    nasty_text.map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.builds(lambda words: f"<html><body><p>{words}</p></body></html>".encode(),
              st.text(st.characters(codec="utf-8", exclude_characters="<>&"), max_size=40)),
)
warc_records = st.one_of(
    st.builds(
        lambda status, ctype, body: ("response", http_block(status, ctype, body),
                                     "application/http; msgtype=response"),
        st.sampled_from([200, 204, 301, 404, 500]),
        st.sampled_from(["text/html; charset=utf-8", "text/html; charset=koi8-r",
                         "text/html; charset=bogus", "text/html", "image/png",
                         "application/xhtml+xml"]),
        payloads,
    ),
    st.builds(lambda block: ("response", block, "application/http; msgtype=response"),
              st.binary(max_size=60)),  # not an HTTP message at all
    st.builds(lambda body: ("conversion", body, "text/plain"), payloads),
    st.builds(lambda body: ("request", body, "application/http; msgtype=request"),
              st.binary(max_size=20)),
    st.just(("warcinfo", b"software: fuzz\r\n", "application/warc-fields")),
)


@st.composite
def warc_files(draw) -> tuple[bytes, bytes]:
    """(an intact WARC, the same with damage: cut, overwritten or with bytes inserted)."""
    records = draw(st.lists(warc_records, min_size=1, max_size=5))
    intact = b"".join(
        warc_record(kind, f"https://site{n}.example/p", block, ctype, n)
        for n, (kind, block, ctype) in enumerate(records)
    )
    where = draw(st.integers(min_value=0, max_value=len(intact)))
    how = draw(st.sampled_from(["cut", "overwrite", "insert", "none"]))
    noise = draw(st.binary(min_size=1, max_size=8))
    damaged = {
        "cut": intact[:where],
        "overwrite": intact[:where] + noise + intact[where + len(noise):],
        "insert": intact[:where] + noise + intact[where:],
        "none": intact,
    }[how]
    return intact, damaged


def check_offsets(items) -> None:
    offsets = []
    for item in items:
        match = OFFSET.fullmatch(item.locator)
        assert match, f"locator {item.locator!r} is not 'offset N'"
        offsets.append(int(match.group(1)))
    assert offsets == sorted(offsets), "items out of file order"


@pytest.mark.parametrize("fmt", ["warc", "wet"])
@FUZZ
@given(pair=warc_files(), compress=st.booleans())
def test_warc_and_wet_never_raise_and_place_every_problem(tmp_path, fmt, pair, compress):
    intact, damaged = pair
    whole = tmp_path / f"intact.{fmt}"
    whole.write_bytes(gzipped(intact) if compress else intact)
    intact_items = read(whole, fmt)
    check_offsets(intact_items)
    # Whole records: the only problems a well-formed file can have are in its payloads.
    assert {i.kind for i in intact_items if isinstance(i, ReadProblem)} <= {
        "not_utf8", "undecodable_html", "corrupt_record"}
    path = tmp_path / f"damaged.{fmt}"
    path.write_bytes(gzipped(damaged) if compress else damaged)
    items = read(path, fmt)
    check_offsets(items)
    if damaged == intact[: len(damaged)]:  # cut: what is kept is what the whole file gives
        full = [(i.locator, i.text) for i in intact_items if isinstance(i, RawDocument)]
        docs = [(i.locator, i.text) for i in items if isinstance(i, RawDocument)]
        assert docs == full[: len(docs)], "a document of a cut file differs from the whole"


@FUZZ
@given(texts=st.lists(payloads, min_size=1, max_size=5))
def test_wet_conversion_records_give_their_text_whole(tmp_path, texts):
    data = b"".join(warc_record("conversion", f"https://s{n}.example/", body, "text/plain", n)
                    for n, body in enumerate(texts))
    path = tmp_path / "intact.wet"
    path.write_bytes(data)
    items = read(path, "wet")
    assert len(items) == len(texts)
    for item, body in zip(items, texts, strict=True):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            assert isinstance(item, ReadProblem) and item.kind == "not_utf8"
        else:
            assert isinstance(item, RawDocument) and item.text == text


# --------------------------------------------------------------------------- bugs


def test_deeply_nested_json_line_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_bytes(b'{"text": "fine"}\n' + b"[" * 100_000 + b"\n" + b'{"text": "after"}\n')
    items = read(path, "jsonl")
    assert [type(i).__name__ for i in items] == ["RawDocument", "ReadProblem", "RawDocument"]
    assert (items[1].locator, items[1].kind) == ("line 2", "malformed_json")
