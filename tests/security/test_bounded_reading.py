"""Issue 18, H1 and M4: every reader's memory and time are bounded whatever the input.

Each bomb is generated here (``tests.security.hostile``), then read in a child process
whose address space may grow by at most 1 GiB (``tests.security.bounded_child``): holding
a bomb's 1 GiB kills it with MemoryError. Each must finish in seconds, keep every good
record and name the bad one with its place. On the code before the fix the WARC body bomb
took the worker to 9 GB, the 1 GiB line to 2 GB and 15 minutes.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import brotli
import pytest

from paddock.curation.core.readers import read_documents
from paddock.curation.core.readers.http_body import read_body
from paddock.kernel.limits import LimitSettingError, ReadLimits, read_limits
from tests.security.hostile import (
    GIB,
    html_response,
    nested_json_line,
    page,
    repeated,
    warc_record,
    warc_with_body_bomb,
    write_gzip,
)
from tests.support.timing import timeout_scale

ROOT = Path(__file__).resolve().parents[2]
GOOD_PROMPT = b'{"prompt": "What is a paddock?"}\n'
GOOD_TEXT = b'{"text": "an honest document"}\n'


def read_bounded(reader: str, path: Path, *args: str, env: dict[str, str] | None = None):
    """What ``reader`` makes of ``path`` in a child held to 1 GiB over its start."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.security.bounded_child", reader, str(path), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120 * timeout_scale(),
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def kinds(outcome) -> list[str]:
    return [item[1] if item[0] == "problem" else "record" for item in outcome["items"]]


def test_a_gzip_encoded_warc_body_with_1_gib_inside_is_skipped_with_its_offset(tmp_path):
    path = warc_with_body_bomb(tmp_path / "bomb.warc.gz")
    assert path.stat().st_size < 2 << 20
    outcome = read_bounded("curation", path, "warc")
    assert kinds(outcome) == ["record", "too_large", "record"]
    assert outcome["items"][1][2].startswith("offset ")
    assert outcome["seconds"] < 5 * timeout_scale()


@pytest.mark.parametrize("reader", ["curation", "kernel", "importer"])
def test_a_1_gib_line_in_a_small_gzip_ends_the_file_with_too_large(tmp_path, reader):
    good = GOOD_TEXT if reader == "curation" else GOOD_PROMPT
    path = write_gzip(tmp_path / "bomb.jsonl.gz", [good], repeated(b"x", GIB), [b"\n", good])
    outcome = read_bounded(reader, path, *(["jsonl"] if reader == "curation" else []))
    assert kinds(outcome) == ["record", "too_large"]
    assert outcome["items"][1][2] == "line 2"
    assert outcome["seconds"] < 5 * timeout_scale()


def test_a_gzip_of_1_gib_of_newlines_stops_at_the_compression_ratio(tmp_path):
    """Nothing but blank lines: no record, no problem, and without a bound minutes of a
    worker's time (33 s for 32 MiB of newlines on the old code)."""
    path = write_gzip(tmp_path / "newlines.txt.gz", [b"one honest line\n"], repeated(b"\n", GIB))
    outcome = read_bounded("curation", path, "lines")
    assert kinds(outcome) == ["record", "too_large"]
    assert outcome["seconds"] < 30 * timeout_scale()


def test_the_file_limit_ends_a_file_of_honest_looking_lines(tmp_path):
    lines = (GOOD_TEXT * 20_000 for _ in range(4))  # 2.5 MB of varied-enough lines
    path = write_gzip(tmp_path / "big.jsonl.gz", lines)
    outcome = read_bounded(
        "curation", path, "jsonl", env={"PADDOCK_MAX_FILE_DECOMPRESSED_BYTES": str(1 << 20)}
    )
    *records, last = kinds(outcome)
    assert set(records) == {"record"} and 0 < len(records) < 80_000
    assert last == "too_large"


def test_a_line_over_the_record_limit_is_skipped_and_the_next_line_read(tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_bytes(GOOD_TEXT + b'{"text": "' + b"y" * (3 << 20) + b'"}\n' + GOOD_TEXT)
    outcome = read_bounded(
        "curation", path, "jsonl", env={"PADDOCK_MAX_RECORD_BYTES": str(1 << 20)}
    )
    assert kinds(outcome) == ["record", "too_long", "record"]


def test_a_text_folder_file_over_the_record_limit_is_a_problem_and_the_others_are_read(
    tmp_path, monkeypatch
):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text("first")
    write_gzip(folder / "b.txt.gz", [os.urandom(1 << 20).hex().encode()])  # 2 MiB of text
    (folder / "c.txt").write_text("third")
    monkeypatch.setenv("PADDOCK_MAX_RECORD_BYTES", str(1 << 20))
    items = list(read_documents(folder, "text"))
    assert [getattr(item, "kind", "record") for item in items] == [
        "record", "too_large", "record"
    ]
    assert items[1].locator == "file b.txt.gz"
    assert "PADDOCK_MAX_RECORD_BYTES" in items[1].detail


def test_a_wet_record_over_the_record_limit_is_skipped_not_held(tmp_path, monkeypatch):
    big_text = os.urandom(1 << 20).hex().encode()  # 2 MiB that do not compress
    records = [
        warc_record("conversion", "https://a.example/", b"small text", "text/plain"),
        warc_record("conversion", "https://b.example/", big_text, "text/plain"),
        warc_record("conversion", "https://c.example/", b"more text", "text/plain"),
    ]
    path = tmp_path / "crawl.warc.wet.gz"
    path.write_bytes(gzip.compress(b"".join(records)))
    monkeypatch.setenv("PADDOCK_MAX_RECORD_BYTES", str(1 << 20))
    items = list(read_documents(path, "wet"))
    assert [getattr(item, "kind", "record") for item in items] == [
        "record", "too_large", "record"
    ]


def test_deep_json_nesting_is_one_bad_line(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_bytes(GOOD_TEXT + nested_json_line(5_000_000) + GOOD_TEXT)
    outcome = read_bounded("curation", path, "jsonl")
    assert kinds(outcome) == ["record", "malformed_json", "record"]
    assert outcome["seconds"] < 10 * timeout_scale()


@pytest.mark.parametrize("reader", ["curation", "importer"])
def test_two_million_bad_lines_in_a_small_gzip_stop_after_the_run_limit(tmp_path, reader):
    """M4: 3,960 bytes of gzip holding 2,000,000 bad lines held the default worker 317 s."""
    good = GOOD_TEXT if reader == "curation" else GOOD_PROMPT
    path = write_gzip(tmp_path / "bad.jsonl.gz", [good], repeated(b"x\n", 4_000_000))
    assert path.stat().st_size < 10_000
    outcome = read_bounded(reader, path, *(["jsonl"] if reader == "curation" else []))
    found = kinds(outcome)
    assert found[-1] == "too_many_problems"
    assert len(found) == 1 + read_limits().problems_in_a_row + 1
    assert outcome["seconds"] < 10 * timeout_scale()


def test_bad_lines_spread_through_a_file_never_stop_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PADDOCK_MAX_PROBLEMS_IN_A_ROW", "3")
    path = tmp_path / "mixed.jsonl"
    path.write_bytes((b"x\n" * 2 + GOOD_TEXT) * 50)
    items = list(read_documents(path, "jsonl"))
    assert len(items) == 150
    assert not any(getattr(item, "kind", "") == "too_many_problems" for item in items)


# ------------------------------------------------------------------ honest HTTP encodings


def _warc_of(tmp_path: Path, body: bytes, encoding: str) -> Path:
    path = tmp_path / f"page-{encoding or 'plain'}.warc"
    path.write_bytes(html_response("https://honest.example/", body, encoding))
    return path


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("", lambda data: data),
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),  # the zlib format, as HTTP says
        ("deflate", lambda data: zlib.compress(data, wbits=-15)),  # raw, as servers send
        ("br", brotli.compress),
        ("gzip, br", lambda data: brotli.compress(gzip.compress(data))),
    ],
)
def test_an_honest_encoded_page_reads_as_the_plain_one(tmp_path, encoding, encode):
    body = page("Honest")
    plain = list(read_documents(_warc_of(tmp_path, body, ""), "warc"))
    encoded = list(read_documents(_warc_of(tmp_path, encode(body), encoding), "warc"))
    assert len(plain) == 1 and plain[0].text
    assert [doc.text for doc in encoded] == [plain[0].text]


def test_a_damaged_encoded_body_is_a_corrupt_record(tmp_path):
    damaged = gzip.compress(page("Damaged"))[:12] + b"\xff" * 40
    items = list(read_documents(_warc_of(tmp_path, damaged, "gzip"), "warc"))
    assert [item.kind for item in items] == ["corrupt_record"]


def test_a_br_body_bomb_is_cut_at_the_limit():
    bomb = brotli.compress(b"\0" * (256 << 20))

    class Reader:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def read(self, size: int) -> bytes:
            piece, self.data = self.data[:size], self.data[size:]
            return piece

    assert len(read_body(Reader(bomb), "br", 1 << 20)) == (1 << 20) + 1


def test_a_zstd_bomb_is_cut_without_holding_it(tmp_path):
    import zstandard

    path = tmp_path / "bomb.jsonl.zst"
    compressor = zstandard.ZstdCompressor().compressobj()
    data = [compressor.compress(piece) for piece in repeated(b"\n", GIB)]
    path.write_bytes(b"".join([*data, compressor.flush()]))
    outcome = read_bounded("kernel", path)
    assert kinds(outcome) == ["too_large"]


def test_a_limit_that_is_not_a_positive_number_is_refused_with_its_name():
    with pytest.raises(LimitSettingError, match="PADDOCK_MAX_RECORD_BYTES='lots'"):
        read_limits({"PADDOCK_MAX_RECORD_BYTES": "lots"})
    assert read_limits({"PADDOCK_MAX_RECORD_BYTES": "8_388_608"}) == ReadLimits(
        record_bytes=8 << 20
    )
