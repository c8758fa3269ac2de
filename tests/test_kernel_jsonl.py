"""The kernel's one JSONL reader: compressed by magic bytes, numbered lines, one problem type."""

import gzip

import pytest
import zstandard

from paddock.kernel.jsonl import JsonLine, LineProblem, read_jsonl

LINES = b'{"a": 1}\n\n{"a": 2}\n'


def items(path, **kwargs):
    return [(i.line, i.record if isinstance(i, JsonLine) else i.code)
            for i in read_jsonl(path, **kwargs)]


@pytest.mark.parametrize("pack", [
    lambda data: data,
    gzip.compress,
    lambda data: gzip.compress(data[:9]) + gzip.compress(data[9:]),  # two members
    lambda data: zstandard.ZstdCompressor().compress(data),
    lambda data: (zstandard.ZstdCompressor().compress(data[:9])
                  + zstandard.ZstdCompressor().compress(data[9:])),  # two frames
], ids=["plain", "gzip", "gzip-members", "zstd", "zstd-frames"])
def test_every_encoding_gives_the_same_numbered_records(tmp_path, pack):
    path = tmp_path / "any-name.txt"
    path.write_bytes(pack(LINES))
    assert items(path) == [(1, {"a": 1}), (3, {"a": 2})]


def test_bad_lines_are_one_problem_each_and_reading_goes_on(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\xef\xbb\xbf{}\n\xff\n{\n[1]\n" + b"[" * 100_000 + b"\n"
                     + b'{"x": NaN}\n' + b'{"long": "' + b"x" * 100 + b'"}\n{"ok": 1}')
    assert items(path, max_line_bytes=64) == [
        (1, {}), (2, "not_utf8"), (3, "malformed_json"), (4, "not_an_object"),
        (5, "too_long"), (6, "malformed_json"), (7, "too_long"), (8, {"ok": 1}),
    ]
    [deep] = [i for i in read_jsonl(path) if i.line == 5]
    assert isinstance(deep, LineProblem) and deep.code == "malformed_json"


def test_a_cut_stream_keeps_what_came_before_and_ends_with_one_problem(tmp_path):
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(b'{"a": 1}\n' * 1000)[:-8])
    got = list(read_jsonl(path))
    assert all(isinstance(i, JsonLine) for i in got[:-1])
    assert isinstance(got[-1], LineProblem) and got[-1].code == "truncated"
    assert got[-1].line == len(got)


def test_a_missing_file_fails_at_the_call(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_jsonl(tmp_path / "none.jsonl")
