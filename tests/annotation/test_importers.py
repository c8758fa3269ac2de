"""The import parsers: every format's happy path, every problem kind with its line, and the
real HH-RLHF test splits in ../shared/data.

A bad line must become exactly one ImportProblem with its 1-based line number and the
reader must go on: most cases here sit between two good lines, and both must come out.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import tracemalloc
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from paddock.annotation import importers
from paddock.annotation.importers import (
    MAX_TEXT_CHARS,
    MAX_TURNS,
    PROBLEM_KINDS,
    Axis,
    HHTranscriptError,
    ImportProblem,
    ParsedPair,
    ParsedPreference,
    ParsedPrompt,
    ResponseSpec,
    RiskCategory,
    Turn,
    parse_hh_transcript,
    read_hh_rlhf,
    read_pairs,
    read_prompts,
)
from tests.support.shared_data import shared_data

Line = dict[str, Any] | str | bytes

HH_SPLITS = ["harmless-base", "helpful-base", "helpful-online", "helpful-rejection-sampled"]


def encode(line: Line) -> bytes:
    """A dict as JSON, a str as is (to write malformed JSON), bytes raw (bad UTF-8)."""
    if isinstance(line, dict):
        return json.dumps(line).encode()
    if isinstance(line, str):
        return line.encode()
    return line


def write_jsonl(path: Path, lines: Iterable[Line], *, compress: str = "") -> Path:
    data = b"".join(encode(line) + b"\n" for line in lines)
    if compress == "gzip":
        data = gzip.compress(data)
    elif compress == "zstd":
        data = zstandard.compress(data)
    path.write_bytes(data)
    return path


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def hh(*turns: tuple[str, str]) -> str:
    return "".join(f"\n\n{speaker}: {text}" for speaker, text in turns)


def problem_kinds(items: Iterable[object]) -> Counter[str]:
    return Counter(item.kind for item in items if isinstance(item, ImportProblem))


def assert_one_problem_between_good_lines(
    items: list[Any], good_type: type, field: str, kind: str
) -> ImportProblem:
    """The file was [good, bad, good]: both good lines kept, one problem on line 2."""
    assert [type(item) for item in items] == [good_type, ImportProblem, good_type], items
    assert [items[0].line, items[2].line] == [1, 3]
    problem = items[1]
    assert (problem.line, problem.field, problem.kind) == (2, field, kind), problem
    assert problem.kind in PROBLEM_KINDS
    assert "expected" in problem.message, problem.message
    if field:
        assert problem.message.startswith(f"{field}: "), problem.message
    return problem


# --------------------------------------------------------------------------- prompts

GOOD_PROMPT: dict[str, Any] = {"prompt": "Name three birds."}


def test_prompts_happy_path(tmp_path):
    path = write_jsonl(
        tmp_path / "prompts.jsonl",
        [
            {"prompt": "Write a haiku about rain.\n"},
            {
                "turns": [user("Hi"), assistant("Hello!\n\nHow can I help?"), user("A joke.")],
                "axis": "safety",
                "risk_category": "unqualified_advice",
                "id": "ext-7",
                "metadata": {"vendor": "acme", "tags": ["a", "b"]},
            },
            {"prompt": "Plain", "axis": None, "risk_category": None, "id": None},
            {"turns": [user("Only one turn")], "axis": "helpfulness"},
        ],
    )
    assert list(read_prompts(path)) == [
        ParsedPrompt(
            1, (Turn("user", "Write a haiku about rain.\n"),), Axis.HELPFULNESS, None, "", {}
        ),
        ParsedPrompt(
            2,
            (
                Turn("user", "Hi"),
                Turn("assistant", "Hello!\n\nHow can I help?"),
                Turn("user", "A joke."),
            ),
            Axis.SAFETY,
            RiskCategory.UNQUALIFIED_ADVICE,
            "ext-7",
            {"vendor": "acme", "tags": ["a", "b"]},
        ),
        ParsedPrompt(3, (Turn("user", "Plain"),), Axis.HELPFULNESS, None, "", {}),
        ParsedPrompt(4, (Turn("user", "Only one turn"),), Axis.HELPFULNESS, None, "", {}),
    ]


def alternating(count: int) -> list[dict[str, str]]:
    return [(user if n % 2 == 0 else assistant)(f"turn {n}") for n in range(count)]


PROMPT_PROBLEMS: list[tuple[Line, str, str]] = [
    ('{"prompt": "unclosed', "", "malformed_json"),
    ('{"prompt": NaN}', "", "malformed_json"),
    ("[" * 100_000 + "]" * 100_000, "", "malformed_json"),  # deeper than the recursion limit
    ('["a", "list"]', "", "not_an_object"),
    ('"just a string"', "", "not_an_object"),
    (b'{"prompt": "caf\xe9"}', "", "not_utf8"),  # Latin-1, not UTF-8
    ({}, "prompt", "missing_field"),
    ({"prompt": None}, "prompt", "missing_field"),
    ({"prompt": 5}, "prompt", "wrong_type"),
    ({"prompt": " \n\t"}, "prompt", "empty_text"),
    ({"prompt": "x" * (MAX_TEXT_CHARS + 1)}, "prompt", "too_long"),
    ({"prompt": "a\x00b"}, "prompt", "invalid_character"),
    ('{"prompt": "a\\ud800b"}', "prompt", "not_utf8"),  # an unpaired surrogate escape
    ({"prompt": "a", "turns": [user("b")]}, "turns", "conflicting_fields"),
    ({"prompt": "a", "axsi": "safety"}, "axsi", "unknown_field"),
    ({"turns": "hello"}, "turns", "wrong_type"),
    ({"turns": []}, "turns", "empty_conversation"),
    ({"turns": alternating(MAX_TURNS + 1)}, "turns", "too_long"),
    ({"turns": ["hello"]}, "turns[0]", "wrong_type"),
    ({"turns": [{"content": "hi"}]}, "turns[0].role", "missing_field"),
    ({"turns": [{"role": 1, "content": "hi"}]}, "turns[0].role", "wrong_type"),
    ({"turns": [{"role": "system", "content": "hi"}]}, "turns[0].role", "unknown_role"),
    ({"turns": [{"role": "user"}]}, "turns[0].content", "missing_field"),
    ({"turns": [user("a"), assistant(""), user("b")]}, "turns[1].content", "empty_text"),
    ({"turns": [{"role": "user", "content": "hi", "name": "x"}]}, "turns[0].name", "unknown_field"),
    ({"turns": [user("a"), assistant("b")]}, "turns", "ends_with_assistant"),
    ({"turns": [assistant("a"), user("b")]}, "turns", "turn_order"),
    ({"turns": [user("a"), user("b")]}, "turns", "turn_order"),
    ({"prompt": "a", "axis": "harmlessness"}, "axis", "unknown_axis"),
    ({"prompt": "a", "axis": "Safety"}, "axis", "unknown_axis"),
    ({"prompt": "a", "axis": 1}, "axis", "wrong_type"),
    ({"prompt": "a", "axis": "safety"}, "risk_category", "missing_risk_category"),
    ({"prompt": "a", "axis": "safety", "risk_category": "spam"}, "risk_category",
     "unknown_risk_category"),
    ({"prompt": "a", "risk_category": "hateful_harmful"}, "risk_category",
     "unexpected_risk_category"),
    ({"prompt": "a", "id": 7}, "id", "wrong_type"),
    ({"prompt": "a", "id": ""}, "id", "empty_text"),
    ({"prompt": "a", "id": "i" * 201}, "id", "too_long"),
    ({"prompt": "a", "metadata": ["x"]}, "metadata", "wrong_type"),
    ({"prompt": "a", "metadata": {"deep": [{"k": "v\x00"}]}}, "metadata", "invalid_character"),
]


@pytest.mark.parametrize(("bad", "field", "kind"), PROMPT_PROBLEMS)
def test_a_bad_prompt_line_is_one_problem_and_the_neighbours_are_kept(tmp_path, bad, field, kind):
    path = write_jsonl(tmp_path / "prompts.jsonl", [GOOD_PROMPT, bad, GOOD_PROMPT])
    assert_one_problem_between_good_lines(list(read_prompts(path)), ParsedPrompt, field, kind)


def test_a_prompt_problem_message_says_what_is_expected(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "a", "axis": "harmlessness"}])
    [problem] = read_prompts(path)
    assert problem.message == "axis: 'harmlessness', expected one of 'helpfulness', 'safety'"


def test_a_prompt_file_read_as_pairs_says_which_field_is_missing(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [GOOD_PROMPT])
    [problem] = read_pairs(path)
    assert (problem.field, problem.kind) == ("response_a", "missing_field")


# --------------------------------------------------------------------------- pairs

GOOD_PAIR: dict[str, Any] = {"prompt": "Say hi.", "response_a": "Hi!", "response_b": "Hello."}


def test_pairs_happy_path(tmp_path):
    path = write_jsonl(
        tmp_path / "pairs.jsonl",
        [
            GOOD_PAIR,
            {
                "turns": [user("Q1"), assistant("A1"), user("Q2")],
                "axis": "safety",
                "risk_category": "illicit_criminal",
                "id": "p-2",
                "metadata": {"round": 3},
                "response_a": {
                    "text": "Sure.", "model": "rlhf-v3", "temperature": 1, "top_p": 0.9,
                    "seed": 42,
                },
                "response_b": {"text": "I can't help with that.", "temperature": 0.7},
            },
        ],
    )
    first, second = read_pairs(path)
    assert first == ParsedPair(
        1, (Turn("user", "Say hi."),), Axis.HELPFULNESS, None, "", {},
        ResponseSpec("Hi!"), ResponseSpec("Hello."),
    )
    assert first.response_a.model == "imported"
    assert second == ParsedPair(
        2,
        (Turn("user", "Q1"), Turn("assistant", "A1"), Turn("user", "Q2")),
        Axis.SAFETY,
        RiskCategory.ILLICIT_CRIMINAL,
        "p-2",
        {"round": 3},
        ResponseSpec("Sure.", "rlhf-v3", 1.0, 0.9, 42),
        ResponseSpec("I can't help with that.", "imported", 0.7, None, None),
    )
    assert isinstance(second.response_a.temperature, float)


def pair(response_a: Any = "One.", response_b: Any = "Two.", **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"prompt": "Q?", **fields}
    if response_a is not None:
        record["response_a"] = response_a
    if response_b is not None:
        record["response_b"] = response_b
    return record


PAIR_PROBLEMS: list[tuple[Line, str, str]] = [
    (pair(response_b=None), "response_b", "missing_field"),
    (pair(response_a=3), "response_a", "wrong_type"),
    (pair(response_a=""), "response_a", "empty_text"),
    (pair(response_a={"model": "m"}), "response_a.text", "missing_field"),
    (pair(response_a={"text": "   "}), "response_a.text", "empty_text"),
    (pair(response_a={"text": "x" * (MAX_TEXT_CHARS + 1)}), "response_a.text", "too_long"),
    (pair(response_a={"text": "ok", "logprob": -1.0}), "response_a.logprob", "unknown_field"),
    (pair(response_a={"text": "ok", "model": ""}), "response_a.model", "empty_text"),
    (pair(response_a={"text": "ok", "model": 3}), "response_a.model", "wrong_type"),
    (pair(response_a={"text": "ok", "model": "m" * 201}), "response_a.model", "too_long"),
    (pair(response_b={"text": "ok", "temperature": "hot"}), "response_b.temperature",
     "wrong_type"),
    (pair(response_b={"text": "ok", "temperature": -0.1}), "response_b.temperature",
     "out_of_range"),
    # JSON has no infinity; 1e999 overflows to one, refused by the kernel's reader for the
    # whole line (issue 18, M3: in metadata it failed the whole import).
    ('{"prompt": "Q?", "response_a": "One.", "response_b": {"text": "ok", "temperature": 1e999}}',
     "", "number_out_of_range"),
    (pair(response_b={"text": "ok", "top_p": 0}), "response_b.top_p", "out_of_range"),
    (pair(response_b={"text": "ok", "top_p": 1.5}), "response_b.top_p", "out_of_range"),
    (pair(response_b={"text": "ok", "seed": 1.5}), "response_b.seed", "wrong_type"),
    (pair(response_b={"text": "ok", "seed": True}), "response_b.seed", "wrong_type"),
    (pair(response_b={"text": "ok", "seed": 2**64}), "", "number_out_of_range"),  # > 64 bits
    (pair("Same answer.", " Same answer.\n"), "response_b", "identical_responses"),
    (pair("Same.", {"text": "Same.", "model": "other"}), "response_b", "identical_responses"),
    ({"response_a": "a", "response_b": "b"}, "prompt", "missing_field"),
    (pair(turns=[user("a")]), "turns", "conflicting_fields"),
    (pair(extra=1), "extra", "unknown_field"),
]


@pytest.mark.parametrize(("bad", "field", "kind"), PAIR_PROBLEMS)
def test_a_bad_pair_line_is_one_problem_and_the_neighbours_are_kept(tmp_path, bad, field, kind):
    path = write_jsonl(tmp_path / "pairs.jsonl", [GOOD_PAIR, bad, GOOD_PAIR])
    assert_one_problem_between_good_lines(list(read_pairs(path)), ParsedPair, field, kind)


# --------------------------------------------------------------------------- HH-RLHF

GOOD_HH: dict[str, str] = {
    "chosen": hh(("Human", "Hi"), ("Assistant", "Hello!")),
    "rejected": hh(("Human", "Hi"), ("Assistant", "Go away.")),
}


def test_hh_rlhf_happy_path(tmp_path):
    conversation = (
        ("Human", "What is 2+2?"),
        ("Assistant", "4.\nAnything else?"),
        ("Human", "Write it as a word.  "),
    )
    record = {
        "chosen": hh(*conversation, ("Assistant", "Four.\n\nThat's it.")),
        "rejected": hh(*conversation, ("Assistant", "  4  ")),
    }
    path = write_jsonl(tmp_path / "hh.jsonl", [record])
    assert list(read_hh_rlhf(path)) == [
        ParsedPreference(
            1,
            (
                Turn("user", "What is 2+2?"),
                Turn("assistant", "4.\nAnything else?"),
                Turn("user", "Write it as a word."),
            ),
            chosen="Four.\n\nThat's it.",
            rejected="4",
        )
    ]


H, A = "Human", "Assistant"

HH_PROBLEMS: list[tuple[Line, str, str]] = [
    ({"chosen": GOOD_HH["chosen"]}, "rejected", "missing_field"),
    ({"chosen": 1, "rejected": GOOD_HH["rejected"]}, "chosen", "wrong_type"),
    ({"chosen": GOOD_HH["chosen"], "rejected": GOOD_HH["chosen"]}, "rejected",
     "identical_responses"),
    ({"chosen": hh((H, "Hi"), (A, "Same")), "rejected": hh((H, "Hi"), (A, "Same  "))},
     "rejected", "identical_responses"),
    ({"chosen": hh((H, "Hi"), (A, "Yes")), "rejected": hh((H, "Hello"), (A, "No"))},
     "rejected", "prefix_mismatch"),
    # A response with an "Assistant:" marker of its own: which part is the response is a guess.
    ({"chosen": hh((H, "Hi"), (A, "Yes")), "rejected": hh((H, "Hi"), (A, "Well"), (A, "No"))},
     "rejected", "prefix_mismatch"),
    ({"chosen": hh((H, "Hi")), "rejected": hh((H, "Hi"), (A, "No"))}, "chosen",
     "no_assistant_turn"),
    ({"chosen": hh((H, "Hi"), (A, "Yes")), "rejected": hh((H, "Hi"), (A, "No"), (H, "Ok"))},
     "rejected", "no_assistant_turn"),
    ({"chosen": hh((H, "Hi"), (A, "")), "rejected": hh((H, "Hi"), (A, "No"))}, "chosen",
     "empty_text"),
    ({"chosen": hh((H, ""), (A, "Yes")), "rejected": hh((H, ""), (A, "No"))}, "chosen",
     "empty_text"),
    ({"chosen": hh((H, "Hi"), (A, "x" * (MAX_TEXT_CHARS + 1))),
      "rejected": hh((H, "Hi"), (A, "No"))}, "chosen", "too_long"),
    ({"chosen": "no markers at all", "rejected": hh((H, "Hi"), (A, "No"))}, "chosen",
     "malformed_transcript"),
    ({"chosen": "Preface" + hh((H, "Hi"), (A, "Yes")), "rejected": hh((H, "Hi"), (A, "No"))},
     "chosen", "malformed_transcript"),
    ({"chosen": hh((H, "Hi"), (A, "a"), (A, "b"), (H, "Ok"), (A, "Yes")),
      "rejected": hh((H, "Hi"), (A, "a"), (A, "b"), (H, "Ok"), (A, "No"))}, "chosen",
     "turn_order"),
    ({"chosen": hh((H, "Hi"), (A, "a"), (A, "Yes")),
      "rejected": hh((H, "Hi"), (A, "a"), (A, "No"))}, "chosen", "ends_with_assistant"),
    ({"chosen": hh((A, "Yes")), "rejected": hh((A, "No"))}, "chosen", "empty_conversation"),
    ({"chosen": hh(*[(H, "q"), (A, "a")] * (MAX_TURNS // 2 + 1)),
      "rejected": hh(*[(H, "q"), (A, "a")] * (MAX_TURNS // 2), (H, "q"), (A, "b"))},
     "chosen", "too_long"),  # 101 turns before the response
    ({"chosen": hh((H, "Hi\x00"), (A, "Yes")), "rejected": hh((H, "Hi\x00"), (A, "No"))},
     "chosen", "invalid_character"),
]


@pytest.mark.parametrize(("bad", "field", "kind"), HH_PROBLEMS)
def test_a_bad_hh_line_is_one_problem_and_the_neighbours_are_kept(tmp_path, bad, field, kind):
    path = write_jsonl(tmp_path / "hh.jsonl", [GOOD_HH, bad, GOOD_HH])
    assert_one_problem_between_good_lines(list(read_hh_rlhf(path)), ParsedPreference, field, kind)


def test_hh_extra_fields_are_ignored(tmp_path):
    path = write_jsonl(tmp_path / "hh.jsonl", [{**GOOD_HH, "source": "mirror"}])
    [preference] = read_hh_rlhf(path)
    assert (preference.chosen, preference.rejected) == ("Hello!", "Go away.")


def test_parse_hh_transcript_splits_on_blank_line_markers_only():
    text = (
        "\n\nHuman: Quote this: Human: hi\nAssistant: hello\n\n\n"
        "\n\nAssistant:  Sure:\n\n  Human: hi  \n\nHuman:\n\nAssistant:"
    )
    assert parse_hh_transcript(text) == (
        Turn("user", "Quote this: Human: hi\nAssistant: hello"),
        Turn("assistant", "Sure:\n\n  Human: hi"),
        Turn("user", ""),
        Turn("assistant", ""),
    )
    # The first marker may stand at the very start, without its blank line.
    assert parse_hh_transcript("Human: a\n\nAssistant: b") == (
        Turn("user", "a"), Turn("assistant", "b"),
    )


@pytest.mark.parametrize("text", ["", "   ", "Hello there", "Intro\n\nHuman: hi"])
def test_parse_hh_transcript_rejects_text_outside_turns(text):
    with pytest.raises(HHTranscriptError) as caught:
        parse_hh_transcript(text)
    assert caught.value.kind == "malformed_transcript"


# --------------------------------------------------------------------------- files and lines


def test_every_problem_kind_is_exercised():
    line_level = {"not_utf8", "malformed_json", "not_an_object", "too_long", "truncated",
                  "corrupt_stream", "too_large", "too_many_problems"}
    covered = {kind for cases in (PROMPT_PROBLEMS, PAIR_PROBLEMS, HH_PROBLEMS)
               for _, _, kind in cases}
    assert covered | line_level == PROBLEM_KINDS


@pytest.mark.parametrize("compress", ["gzip", "zstd"])
def test_compressed_files_are_found_by_content(tmp_path, compress):
    path = write_jsonl(tmp_path / "pairs.jsonl", [GOOD_PAIR, "{", GOOD_PAIR], compress=compress)
    items = list(read_pairs(path))
    assert [(type(item), item.line) for item in items] == [
        (ParsedPair, 1), (ImportProblem, 2), (ParsedPair, 3)
    ]


def test_blank_lines_are_skipped_but_counted_and_a_bom_is_dropped(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"prompt": "a"}\r\n\n   \r\n{"prompt": "b"}')  # no final newline
    items = list(read_prompts(path))
    assert [(item.line, item.turns[0].content) for item in items] == [(1, "a"), (4, "b")]


def test_mixed_good_and_bad_lines_keep_every_good_line(tmp_path):
    lines: list[Line] = []
    for n in range(300):
        if n % 3 == 0:
            lines.append({"prompt": f"good {n}"})
        else:
            lines.append(PROMPT_PROBLEMS[n % len(PROMPT_PROBLEMS)][0])
    path = write_jsonl(tmp_path / "mixed.jsonl.gz", lines, compress="gzip")
    items = list(read_prompts(path))
    assert len(items) == 300
    assert [item.line for item in items] == list(range(1, 301))
    good = [item for item in items if isinstance(item, ParsedPrompt)]
    assert [item.turns[0].content for item in good] == [f"good {n}" for n in range(0, 300, 3)]
    assert all(isinstance(item, ImportProblem) for item in items if item.line % 3 != 1)


def test_an_over_long_line_is_skipped_unread(tmp_path, monkeypatch):
    monkeypatch.setenv("PADDOCK_MAX_RECORD_BYTES", "1000")  # read at each call
    path = write_jsonl(
        tmp_path / "prompts.jsonl", [GOOD_PROMPT, {"prompt": "x" * 100_000}, GOOD_PROMPT]
    )
    problem = assert_one_problem_between_good_lines(
        list(read_prompts(path)), ParsedPrompt, "", "too_long"
    )
    assert "1,000 bytes" in problem.message


def test_a_truncated_gzip_keeps_the_lines_before_the_cut(tmp_path):
    lines = [{"prompt": os.urandom(200).hex()} for _ in range(200)]
    path = write_jsonl(tmp_path / "cut.jsonl.gz", lines, compress="gzip")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    items = list(read_prompts(path))
    *good, problem = items
    assert 0 < len(good) < 200
    assert [item.turns[0].content for item in good] == [
        line["prompt"] for line in lines[: len(good)]
    ]
    assert (problem.line, problem.field, problem.kind) == (len(good) + 1, "", "truncated")


def test_a_corrupt_gzip_ends_the_file_with_a_problem(tmp_path):
    lines = [{"prompt": os.urandom(100).hex()} for _ in range(3000)]
    path = write_jsonl(tmp_path / "corrupt.jsonl.gz", lines, compress="gzip")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    items = list(read_prompts(path))
    assert items[-1].kind == "corrupt_stream"
    assert all(isinstance(item, ParsedPrompt) for item in items[:1000])


def test_a_missing_file_raises_file_not_found_at_the_call(tmp_path):
    missing = tmp_path / "nope.jsonl"
    for reader in (read_prompts, read_pairs, read_hh_rlhf):
        with pytest.raises(FileNotFoundError) as caught:
            reader(missing)  # no iteration needed: it fails before the first line
        assert str(missing) in str(caught.value)
    with pytest.raises(IsADirectoryError):
        read_prompts(tmp_path)


def test_reading_is_streaming_in_constant_memory(tmp_path):
    """About 20 MB of pairs read with a peak of traced memory far below the file size."""
    path = tmp_path / "large.jsonl.gz"
    block = os.urandom(5 << 10).hex()
    with gzip.open(path, "wb", compresslevel=1) as out:
        for n in range(2000):
            record = {"prompt": f"{n} {block}", "response_a": f"a{n}{block}", "response_b": block}
            out.write(json.dumps(record).encode() + b"\n")
    tracemalloc.start()
    try:
        count = sum(1 for item in read_pairs(path) if isinstance(item, ParsedPair))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 2000
    assert peak < 4 << 20


def test_labels_match_the_annotation_models():
    from paddock.annotation import models

    assert {axis.value for axis in Axis} == set(models.Axis.values)
    assert {category.value for category in RiskCategory} == set(models.RiskCategory.values)
    assert models.Conversation._meta.get_field("external_id").max_length == importers.MAX_NAME_CHARS
    assert models.Response._meta.get_field("model_version").max_length == importers.MAX_NAME_CHARS


# --------------------------------------------------------------------------- real HH-RLHF


def count_lines(path: Path) -> int:
    with gzip.open(path, "rb") as stream:
        return sum(1 for _ in stream)


def real_items(split: str) -> tuple[Path, Iterator[ParsedPreference | ImportProblem]]:
    path = shared_data("hh-rlhf", split, "test.jsonl.gz")
    return path, read_hh_rlhf(path)


@pytest.mark.parametrize("split", HH_SPLITS)
def test_real_hh_rlhf_split(split):
    path, items = real_items(split)
    preferences: list[ParsedPreference] = []
    problems: list[ImportProblem] = []
    for item in items:
        (problems if isinstance(item, ImportProblem) else preferences).append(item)
    lines = count_lines(path)
    kinds = problem_kinds(problems)
    print(f"{split}: {lines} lines, {len(preferences)} preferences, problems {dict(kinds)}")

    assert len(preferences) + len(problems) == lines
    assert sorted(item.line for item in [*preferences, *problems]) == list(range(1, lines + 1))
    # The known quirks are there but rare (README: chosen == rejected and differing prompt
    # prefixes are a few per split; helpful-rejection-sampled has the most identical pairs).
    assert 0 <= kinds["identical_responses"] <= 0.02 * lines
    assert 0 <= kinds["prefix_mismatch"] <= 0.01 * lines
    assert len(problems) <= 0.03 * lines
    assert set(kinds) <= PROBLEM_KINDS - {"truncated", "corrupt_stream", "not_utf8"}
    for preference in preferences:
        roles = [turn.role for turn in preference.turns]
        assert roles[0] == roles[-1] == "user"
        assert all(a != b for a, b in itertools.pairwise(roles))
        assert all(turn.content for turn in preference.turns)
        assert preference.chosen and preference.rejected
        assert preference.chosen != preference.rejected


def test_real_hh_rlhf_first_record_of_helpful_base():
    _, items = real_items("helpful-base")
    first = next(items)
    assert isinstance(first, ParsedPreference)
    assert first.line == 1
    assert first.turns == (
        Turn("user", "Do you know why turkeys became the official food of thanksgiving?"),
    )
    assert first.chosen.startswith("To be honest, I don\N{RIGHT SINGLE QUOTATION MARK}t know")
    assert first.rejected.endswith("maybe this will help you figure it out?")


def test_a_prompt_has_one_id_whatever_its_spelling_of_quotes_dashes_case_and_spaces():
    from paddock.annotation.importers import prompt_id

    def one(text: str) -> str:
        return prompt_id([{"role": "user", "content": text}])

    plain = one("Don't you know \"green\" tea - and oolong...?")
    assert one("Don\u2019t  you KNOW \u201cgreen\u201d tea \u2014 and oolong\u2026?") == plain
    assert one("Don\u2019t you know \u201cgreen\u201d tea \u2013 and oolong...?") == plain
    assert one("Don't you know green tea - and oolong...?") != plain  # quotes are content
    assert prompt_id([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "A"},
                      {"role": "user", "content": "More"}]) != one("Hi")  # the thread counts
