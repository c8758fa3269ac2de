"""Property tests for the training-side readers: reward pairs (paddock export, HH-RLHF,
OpenAssistant, UKP ConvArg) and the policy's prompt files (sampling.read_conversations).

Reward readers: any line is a pair, a counted skip, or a malformed record listed with
file, line and field (strict=True raises PairFormatError for the first one instead).
read_conversations: the conversations of a file, or ConversationFileError listing every
bad line with file, line and field; and what it accepts, the annotation importer (whose
format it mirrors, and which imports the sampled pairs) accepts too.
"""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paddock.annotation.importers import ImportProblem, read_prompts
from paddock.kernel.vocabulary import AXES, STRENGTHS
from paddock.training.policy.sampling import ConversationFileError, read_conversations
from paddock.training.reward.pairs import PreferencePair
from paddock.training.reward.readers import (
    PairFormatError,
    read_hh_rlhf,
    read_oasst_trees,
    read_paddock_export,
    read_ukp_convarg,
)
from tests.fuzz.annotation_strategies import RECORDS, good_text, hh_records, texts
from tests.fuzz.strategies import (
    FUZZ,
    files_of,
    gzipped,
    is_blank,
    json_values,
    mutated,
    numbered_lines,
)

# --------------------------------------------------------------------------- records

roles = st.sampled_from(["user", "assistant", "system", "robot"])
conversation = st.lists(
    mutated(st.fixed_dictionaries({"role": roles, "content": texts}),
            {"role": roles, "content": texts}),
    max_size=3,
)
EXPORT_FIELDS = {
    "id": st.integers(0, 10**6) | good_text,
    "batch": good_text,
    "split": st.sampled_from(["train", "test"]),
    "axis": st.sampled_from(AXES),
    "strength": st.sampled_from(STRENGTHS),
    "conversation": conversation,
    "chosen": texts,
    "rejected": texts,
    "chosen_safe": st.booleans(),
    "rejected_safe": st.booleans(),
    "annotator": good_text,
    "is_gold": st.booleans(),
}
export_records = mutated(st.fixed_dictionaries(EXPORT_FIELDS), EXPORT_FIELDS)


OASST_FIELDS = {
    "message_id": good_text,
    "role": st.sampled_from(["prompter", "assistant", "system"]),
    "text": texts,
    "rank": st.none() | st.integers(-1, 4),
    "deleted": st.booleans(),
}


@st.composite
def oasst_trees(draw):
    """A message tree, prompter and assistant turns alternating, assistant replies mostly
    ranked; then up to two messages damaged (a field dropped, retyped or added)."""
    messages: list[dict] = []

    def message(role: str, depth: int) -> dict:
        other = "assistant" if role == "prompter" else "prompter"
        width = 0 if depth >= 3 else draw(st.integers(0, 3))
        node = {
            "message_id": f"m{len(messages)}",
            "role": role,
            "text": draw(texts),
            "rank": draw(st.none() | st.integers(0, 3)) if role == "assistant" else None,
            "deleted": draw(st.sampled_from([False] * 7 + [True])),
        }
        messages.append(node)
        node["replies"] = [message(other, depth + 1) for _ in range(width)]
        return node

    root = message("prompter", 0)
    for _ in range(draw(st.integers(0, 2))):
        target = draw(st.sampled_from(messages))
        target.update(draw(mutated(st.just({}), {**OASST_FIELDS, "replies": json_values()})))
    tree = {"message_tree_id": "t", "prompt": root}
    if draw(st.integers(0, 3)) == 0:
        tree = draw(mutated(st.just(tree), {"message_tree_id": json_values(),
                                             "prompt": json_values()}))
    return tree


oasst_records = oasst_trees()
votes = st.integers(-1, 6)
UKP_FIELDS = {
    "pair_id": good_text,
    "debate_title": texts,
    "a1_text": texts,
    "a2_text": texts,
    "a1_stance": st.sampled_from(["pro", "con", " pro "]),
    "a2_stance": st.sampled_from(["pro", "con"]),
    "votes": mutated(st.fixed_dictionaries({"a1": votes, "a2": votes, "equal": votes}),
                     {"a1": votes, "a2": votes, "equal": votes}),
    "topic": good_text,
}
ukp_records = mutated(st.fixed_dictionaries(UKP_FIELDS), UKP_FIELDS)

READERS = {
    "paddock": (lambda path, strict: read_paddock_export(path, strict=strict), export_records),
    "hh": (lambda path, strict: read_hh_rlhf(path, "helpfulness", strict=strict),
           hh_records()),
    "oasst": (lambda path, strict: read_oasst_trees(path, strict=strict), oasst_records),
    "ukp": (lambda path, strict: read_ukp_convarg(path, strict=strict), ukp_records),
}
FILES = {name: files_of(records) for name, (_read, records) in READERS.items()}
ONE_LINE_ONE_PAIR = {"paddock", "hh", "ukp"}


def check_pair(pair: PreferencePair) -> None:
    assert isinstance(pair, PreferencePair)
    assert pair.chosen != pair.rejected
    assert pair.axis in AXES and (pair.strength is None or pair.strength in STRENGTHS)
    assert all(isinstance(turn.content, str) for turn in pair.context)


@pytest.mark.parametrize("name", sorted(READERS))
def test_every_line_is_a_pair_a_skip_or_a_placed_error(tmp_path, name):
    read, _records = READERS[name]

    @FUZZ
    @given(content=FILES[name], compress=st.booleans())
    def check(content, compress):
        path = tmp_path / "pairs.jsonl"
        path.write_bytes(gzipped(content) if compress else content)
        reader = read(path, False)
        pairs = list(reader)
        report = reader.report
        assert report.finished
        assert report.records == len(numbered_lines(content))
        assert report.pairs == len(pairs)
        for pair in pairs:
            check_pair(pair)
        if name in ONE_LINE_ONE_PAIR:
            assert report.records == report.pairs + sum(report.skipped.values())
        assert len(report.errors) == min(report.malformed, 100)
        for problem in report.errors:
            assert problem.path == str(path) and 1 <= problem.line <= report.records
            assert problem.message
        # strict: the same pairs, or the first error raised with its place.
        strict = read(path, True)
        if report.malformed == 0:
            assert list(strict) == pairs
        else:
            first = report.errors[0]
            with pytest.raises(PairFormatError) as raised:
                list(strict)
            assert (raised.value.path, raised.value.line, raised.value.field) == (
                str(path), first.line, first.field)

    check()


@pytest.mark.parametrize("name", sorted(READERS))
def test_a_cut_gzip_raises_pair_format_error_naming_the_file(tmp_path, name):
    read, _records = READERS[name]

    @FUZZ
    @given(content=FILES[name], cut=st.integers(min_value=2))
    def check(content, cut):
        compressed = gzipped(content)
        path = tmp_path / "cut.jsonl.gz"
        path.write_bytes(compressed[: 2 + cut % (len(compressed) - 2)])
        with pytest.raises(PairFormatError) as raised:
            list(read(path, False))
        assert raised.value.path == str(path) and str(path) in str(raised.value)

    check()


# --------------------------------------------------------------------------- prompts files

PROMPT_FILES = files_of(RECORDS["prompts"]())


def test_read_conversations_accepts_a_file_or_lists_every_bad_line(tmp_path):
    @FUZZ
    @given(content=PROMPT_FILES)
    def check(content):
        path = tmp_path / "prompts.jsonl"
        path.write_bytes(content)
        lines = [n for n, line in numbered_lines(content) if not is_blank(line, n)]
        try:
            conversations = read_conversations(path)
        except ConversationFileError as error:
            assert error.problems and error.path == str(path)
            assert str(path) in str(error)
            for problem in error.problems:
                assert problem.path == str(path) and problem.line in lines
                assert isinstance(problem.field, str) and problem.message
            return
        assert {c.line for c in conversations} <= set(lines)
        # Mirrored format: every conversation accepted here imports as a prompt.
        imported = {item.line: item for item in read_prompts(path)}
        for conversation in conversations:
            item = imported[conversation.line]
            assert not isinstance(item, ImportProblem), (
                f"read_conversations accepts line {conversation.line} but the importer "
                f"refuses it: {item}")
            assert [dict(m) for m in conversation.messages] == [
                {"role": t.role, "content": t.content} for t in item.turns]

    check()


# ------------------------------------------------------- bugs the fuzzing found (fixed)

DEEP = b"[" * 100_000


@pytest.mark.parametrize("name", sorted(READERS))
def test_a_deeply_nested_line_is_a_malformed_record(tmp_path, name):
    read, _records = READERS[name]
    path = tmp_path / "deep.jsonl"
    path.write_bytes(DEEP + b"\n")
    reader = read(path, False)
    assert list(reader) == [] and reader.report.malformed == 1


def test_read_conversations_reports_a_deeply_nested_line(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_bytes(b'{"prompt": "Hi"}\n' + DEEP + b"\n")
    with pytest.raises(ConversationFileError) as raised:
        read_conversations(path)
    assert [p.line for p in raised.value.problems] == [2]


def test_read_conversations_reports_a_cut_gzip_with_its_file(tmp_path):
    path = tmp_path / "prompts.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"prompt": "Hi"}\n' * 50)[:-12])
    with pytest.raises(ConversationFileError) as raised:
        read_conversations(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize("line", [
    b'{"prompt": "Hi", "metadata": {"note": "\\u0000"}}',
    b'{"prompt": "Hi", "metadata": {"note": "\\udc00"}}',
    b'{"prompt": "Hi", "id": "a\\u0000b"}',
    b'{"prompt": "Hi", "metadata": {"score": NaN}}',
    b'{"turns": [' + b", ".join([b'{"role": "user", "content": "q"}, '
                                 b'{"role": "assistant", "content": "a"}'] * 50)
    + b', {"role": "user", "content": "last"}]}',
], ids=["nul-in-metadata", "surrogate-in-metadata", "nul-in-id", "nan-in-metadata",
        "101-turns"])
def test_what_read_conversations_accepts_the_importer_accepts(tmp_path, line):
    path = tmp_path / "prompts.jsonl"
    path.write_bytes(line + b"\n")
    try:
        read_conversations(path)
    except ConversationFileError:
        return  # refused before sampling: consistent
    [item] = read_prompts(path)
    assert not isinstance(item, ImportProblem), item
