"""Property tests for the annotation import parsers (prompts, pairs, HH-RLHF).

The contract (paddock.annotation.importers): each non-blank line gives exactly one parsed
record or one ImportProblem with its line, field and a message naming the field; a parsed
record is one the platform can store and serve (alternating turns ending with the user,
storable non-blank texts, labels consistent).
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paddock.annotation.importers import (
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    PROBLEM_KINDS,
    Axis,
    ImportProblem,
    ParsedPair,
    ParsedPreference,
    ParsedPrompt,
    read_hh_rlhf,
    read_pairs,
    read_prompts,
)
from tests.fuzz.annotation_strategies import RECORDS
from tests.fuzz.strategies import FUZZ, files_of, gzipped, is_blank, numbered_lines

READERS = {"prompts": read_prompts, "pairs": read_pairs, "hh_rlhf": read_hh_rlhf}
LINE_KINDS = {"not_utf8", "malformed_json", "not_an_object", "number_out_of_range", "too_long",
              "truncated", "corrupt_stream", "too_large", "too_many_problems"}


def storable(text: str, limit: int = MAX_TEXT_CHARS) -> bool:
    return (bool(text.strip()) and len(text) <= limit
            and not any(c == "\x00" or "\ud800" <= c <= "\udfff" for c in text))


def check_turns(turns) -> None:
    assert turns and turns[0].role == "user" and turns[-1].role == "user"
    for index, turn in enumerate(turns):
        assert turn.role == ("user" if index % 2 == 0 else "assistant")
        assert storable(turn.content), turn


def record_of(line: bytes, number: int) -> dict:
    if number == 1:
        line = line.removeprefix(b"\xef\xbb\xbf")
    return json.loads(line.decode("utf-8"))


def check_parsed(item, line: bytes) -> None:
    record = record_of(line, item.line)
    check_turns(item.turns)
    if isinstance(item, ParsedPreference):
        assert storable(item.chosen) and storable(item.rejected)
        assert item.chosen != item.rejected
        return
    # Prompt fields are kept verbatim.
    if record.get("prompt") is not None:
        assert [t.content for t in item.turns] == [record["prompt"]]
    else:
        assert [(t.role, t.content) for t in item.turns] == [
            (t["role"], t["content"]) for t in record["turns"]]
    assert (item.axis is Axis.SAFETY) == (item.risk_category is not None)
    assert item.external_id == (record.get("id") or "")
    assert item.external_id == "" or storable(item.external_id, MAX_NAME_CHARS)
    assert item.metadata == (record.get("metadata") or {})
    if isinstance(item, ParsedPair):
        a, b = item.response_a, item.response_b
        assert a.text.strip() != b.text.strip()
        for response in (a, b):
            assert storable(response.text) and storable(response.model, MAX_NAME_CHARS)
            assert response.temperature is None or (
                math.isfinite(response.temperature) and response.temperature >= 0)
            assert response.top_p is None or 0 < response.top_p <= 1
            assert response.seed is None or -(2**63) <= response.seed < 2**63


def check_problem(item: ImportProblem) -> None:
    assert item.kind in PROBLEM_KINDS, item
    assert item.message, item
    if item.kind in LINE_KINDS:
        assert item.field == "", item
    elif item.field:
        assert item.message.startswith(f"{item.field}: "), item  # names where
    else:  # only an unknown field whose name is "" (the line's key "")
        assert item.kind == "unknown_field", item


FILES = {kind: files_of(records()) for kind, records in RECORDS.items()}


@pytest.mark.parametrize("kind", sorted(READERS))
def test_every_non_blank_line_gives_one_record_or_one_problem(tmp_path, kind):
    @FUZZ
    @given(content=FILES[kind])
    def check(content):
        path = tmp_path / f"{kind}.jsonl"
        path.write_bytes(content)
        items = list(READERS[kind](path))
        lines = numbered_lines(content)
        expected = [number for number, line in lines if not is_blank(line, number)]
        assert [item.line for item in items] == expected
        by_number = dict(lines)
        for item in items:
            if isinstance(item, ImportProblem):
                check_problem(item)
            else:
                assert isinstance(item, ParsedPrompt | ParsedPair | ParsedPreference)
                check_parsed(item, by_number[item.line])
        # Compression changes nothing: the same items from a gzip'd copy.
        packed = tmp_path / f"{kind}.jsonl.gz"
        packed.write_bytes(gzipped(content))
        assert list(READERS[kind](packed)) == items

    check()


@pytest.mark.parametrize("kind", sorted(READERS))
def test_a_cut_gzip_keeps_the_lines_before_the_cut(tmp_path, kind):
    @FUZZ
    @given(content=FILES[kind], cut=st.integers(min_value=2))
    def check(content, cut):
        compressed = gzipped(content)
        cut = 2 + cut % (len(compressed) - 2)  # 2 <= cut < len: the magic stays, the end goes
        path = tmp_path / "cut.jsonl.gz"
        path.write_bytes(compressed[:cut])
        whole = tmp_path / "whole.jsonl"
        whole.write_bytes(content)
        full = list(READERS[kind](whole))
        items = list(READERS[kind](path))
        assert items[:-1] == full[: len(items) - 1]
        last = items[-1]
        assert isinstance(last, ImportProblem) and last.kind in {"truncated", "corrupt_stream"}

    check()
