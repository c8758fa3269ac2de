"""The preference readers: exact behaviour on small hand-made files, counts on the real data."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from paddock.kernel.vocabulary import (
    BETTER,
    NEGLIGIBLY_BETTER,
    SIGNIFICANTLY_BETTER,
    SLIGHTLY_BETTER,
)
from paddock.training.reward.pairs import Turn
from paddock.training.reward.readers import (
    PairFormatError,
    oasst_strength,
    read_hh_rlhf,
    read_oasst_trees,
    read_paddock_export,
    read_ukp_convarg,
    ukp_prompt,
    ukp_strength,
)
from tests.support.shared_data import shared_data


def write_lines(path: Path, lines: list[dict | str], *, gz: bool = False) -> Path:
    """Records (dicts, dumped) or raw lines (str, as they are) to a plain or gzip'd file."""
    text = "".join((json.dumps(line) if isinstance(line, dict) else line) + "\n"
                   for line in lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


def accounted(report) -> int:
    return report.pairs + sum(report.skipped.values())


# --------------------------------------------------------------------------- paddock export


def export_record(**overrides) -> dict:
    record = {
        "id": 17, "comparison_id": 4, "batch": "b-07", "split": "train",
        "axis": "safety", "risk_category": "illicit", "origin": "annotator",
        "conversation": [{"role": "user", "content": "How do I pick a lock?"},
                         {"role": "assistant", "content": "Why do you ask?"},
                         {"role": "user", "content": "I'm locked out."}],
        "chosen": "Call a locksmith.", "rejected": "Use a tension wrench.",
        "chosen_model": "m1", "rejected_model": "m2",
        "strength": "better", "margin_small": 2 / 3, "margin_large": 2.0,
        "chosen_safe": True, "rejected_safe": False, "safety_bin": "both_safe",
        "annotator": "a-0123456789abcdef", "is_gold": False,
    }
    record.update(overrides)
    return record


@pytest.mark.parametrize("gz", [False, True])
def test_paddock_export_maps_every_field(tmp_path, gz):
    path = write_lines(tmp_path / "1-preferences.jsonl.gz", [export_record()], gz=gz)
    reader = read_paddock_export(path)
    [pair] = list(reader)
    assert pair.id == "paddock:17"
    assert pair.source == "paddock:b-07"
    assert pair.context == (Turn("user", "How do I pick a lock?"),
                            Turn("assistant", "Why do you ask?"), Turn("user", "I'm locked out."))
    assert (pair.chosen, pair.rejected) == ("Call a locksmith.", "Use a tension wrench.")
    assert (pair.axis, pair.strength) == ("safety", "better")
    assert (pair.chosen_safe, pair.rejected_safe) == (True, False)
    assert pair.meta == {"split": "train", "batch": "b-07", "annotator": "a-0123456789abcdef",
                         "is_gold": False, "comparison_id": 4}
    assert reader.report.records == reader.report.pairs == 1
    assert reader.report.finished


def test_gzip_is_told_by_magic_bytes_not_by_name(tmp_path):
    lying_plain = write_lines(tmp_path / "plain.jsonl.gz", [export_record()])
    lying_gzip = write_lines(tmp_path / "zipped.jsonl", [export_record()], gz=True)
    assert len(list(read_paddock_export(lying_plain))) == 1
    assert len(list(read_paddock_export(lying_gzip))) == 1


def test_bad_lines_are_reported_with_line_and_field_and_the_rest_is_read(tmp_path):
    path = write_lines(tmp_path / "export.jsonl", [
        export_record(id=1),
        "{not json",
        "",
        export_record(id=2, strength=None),
        export_record(id=3, conversation=[{"role": "robot", "content": "beep"}]),
        "[1, 2]",
        export_record(id=4, axis="honesty"),
        export_record(id=5, chosen="same", rejected="same"),
        export_record(id=6),
    ])
    reader = read_paddock_export(path)
    assert [pair.id for pair in reader] == ["paddock:1", "paddock:6"]
    report = reader.report
    assert report.records == 9 == accounted(report)
    assert report.skipped == Counter({
        "malformed: not JSON": 1, "blank line": 1, "malformed: field strength": 1,
        "malformed: field conversation": 1, "malformed: not a JSON object": 1,
        "malformed: field axis": 1, "identical": 1,
    })
    where = [(problem.line, problem.field) for problem in report.errors]
    assert where == [(2, None), (4, "strength"), (5, "conversation[0].role"), (6, None),
                     (7, "axis")]
    assert str(report.errors[1]).startswith(f"{path}, line 4, field 'strength': missing")
    assert report.to_dict()["errors"][0].startswith(f"{path}, line 2: not JSON")


def test_a_record_over_the_read_limit_is_skipped_and_the_rest_is_read(tmp_path, monkeypatch):
    """One line over PADDOCK_MAX_RECORD_BYTES costs that record only, never the file: it
    is skipped unread and counted, and the pairs after it are trained on."""
    monkeypatch.setenv("PADDOCK_MAX_RECORD_BYTES", "4096")
    path = write_lines(tmp_path / "export.jsonl", [
        export_record(id=1),
        export_record(id=2, chosen="x" * 10_000),
        export_record(id=3),
    ])
    reader = read_paddock_export(path)
    assert [pair.id for pair in reader] == ["paddock:1", "paddock:3"]
    assert reader.report.records == 3 == accounted(reader.report)
    assert reader.report.skipped == Counter({"malformed: too long": 1})
    assert [problem.line for problem in reader.report.errors] == [2]


def test_strict_raises_on_the_first_malformed_record_naming_file_line_and_field(tmp_path):
    path = write_lines(tmp_path / "export.jsonl",
                       [export_record(id=1), export_record(id=2, strength=None)])
    reader = read_paddock_export(path, strict=True)
    with pytest.raises(PairFormatError) as raised:
        list(reader)
    error = raised.value
    assert (error.path, error.line, error.field) == (str(path), 2, "strength")
    assert f"{path}, line 2, field 'strength'" in str(error)


def test_a_mistyped_field_names_the_type(tmp_path):
    path = write_lines(tmp_path / "export.jsonl", [export_record(chosen=["a list"])])
    with pytest.raises(PairFormatError, match=r"field 'chosen': expected str, got list"):
        list(read_paddock_export(path, strict=True))


def test_a_truncated_gzip_file_raises_naming_the_file(tmp_path):
    whole = gzip.compress(("\n".join(json.dumps(export_record(id=i)) for i in range(200))
                           + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(PairFormatError, match="truncated or corrupt") as raised:
        list(read_paddock_export(path))
    assert raised.value.path == str(path)


def test_each_pass_rereads_with_a_fresh_report(tmp_path):
    path = write_lines(tmp_path / "export.jsonl", [export_record(id=1), export_record(id=2)])
    reader = read_paddock_export(path)
    assert len(list(reader)) == len(list(reader)) == 2
    assert reader.report.pairs == 2


def test_invalid_utf8_is_reported_not_raised(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_bytes(json.dumps(export_record()).encode() + b"\n\xff\xfe\n")
    reader = read_paddock_export(path)
    assert len(list(reader)) == 1
    assert reader.report.skipped == Counter({"malformed: not UTF-8": 1})
    assert reader.report.errors[0].line == 2


# --------------------------------------------------------------------------- HH-RLHF


def hh(chosen: str, rejected: str) -> dict:
    return {"chosen": chosen, "rejected": rejected}


PROMPT = "\n\nHuman: Hi there\n\nAssistant: Hello!\n\nHuman: Name a fruit."


@pytest.mark.parametrize("gz", [False, True])
def test_hh_splits_transcripts_into_context_and_final_response(tmp_path, gz):
    path = write_lines(tmp_path / "helpful-base" / "test.jsonl.gz", [
        hh(PROMPT + "\n\nAssistant: An apple.", PROMPT + "\n\nAssistant: No."),
    ], gz=gz)
    reader = read_hh_rlhf(path, axis="helpfulness")
    [pair] = list(reader)
    assert pair.context == (Turn("user", "Hi there"), Turn("assistant", "Hello!"),
                            Turn("user", "Name a fruit."))
    assert (pair.chosen, pair.rejected) == ("An apple.", "No.")
    assert pair.id == "hh-rlhf:helpful-base:1"
    assert pair.source == "hh-rlhf:helpful-base"
    assert (pair.axis, pair.strength) == ("helpfulness", None)


def test_hh_quirks_are_skipped_and_counted_by_reason(tmp_path):
    good = hh(PROMPT + "\n\nAssistant: A pear.", PROMPT + "\n\nAssistant: A rock.")
    path = write_lines(tmp_path / "harmless-base" / "test.jsonl", [
        hh(PROMPT + "\n\nAssistant: Same.", PROMPT + "\n\nAssistant: Same."),
        hh(PROMPT + "\n\nAssistant: A.", "\n\nHuman: Something else\n\nAssistant: B."),
        hh(PROMPT + "\n\nAssistant: ", PROMPT + "\n\nAssistant: A plum."),
        hh("\n\nHuman: no answer", "\n\nHuman: no answer at all"),
        hh(PROMPT + "\n\nAssistant: Kiwi. ", PROMPT + "\n\nAssistant:  Kiwi."),
        hh("Preamble" + PROMPT + "\n\nAssistant: A.", "Preamble" + PROMPT + "\n\nAssistant: B."),
        good,
        {"chosen": "only one side"},
    ])
    reader = read_hh_rlhf(path, axis="safety", source="anthropic-harmless")
    pairs = list(reader)
    assert [pair.id for pair in pairs] == ["anthropic-harmless:7"]
    assert pairs[0].axis == "safety"
    report = reader.report
    assert report.skipped == Counter({
        "identical": 2, "different contexts": 1, "empty response": 1,
        "no assistant turn": 1, "text before the first turn": 1,
        "malformed: field rejected": 1,
    })
    assert report.records == 8 == accounted(report)
    assert [(p.line, p.field, p.message) for p in report.errors] == [(8, "rejected", "missing")]


def test_hh_context_must_end_with_a_user_turn(tmp_path):
    two_assistants = "\n\nHuman: Hi\n\nAssistant: Hello"
    path = write_lines(tmp_path / "x" / "t.jsonl", [
        hh(two_assistants + "\n\nAssistant: A.", two_assistants + "\n\nAssistant: B."),
    ])
    reader = read_hh_rlhf(path, axis="helpfulness")
    assert list(reader) == []
    assert reader.report.skipped == Counter({"context does not end with a user turn": 1})


def test_hh_rejects_an_unknown_axis(tmp_path):
    with pytest.raises(ValueError, match="axis"):
        read_hh_rlhf(tmp_path / "t.jsonl", axis="honesty")


# --------------------------------------------------------------------------- OpenAssistant


def message(mid: str, role: str, text: str, rank: int | None = None, *replies: dict,
            deleted: bool = False) -> dict:
    return {"message_id": mid, "role": role, "text": text, "rank": rank,
            "deleted": deleted, "replies": list(replies)}


def tree() -> dict:
    follow_up = message("p2", "prompter", "And in Rust?", 0,
                        message("a4", "assistant", "Use Vec.", 1),
                        message("a5", "assistant", "Use a Vec<T>.", 0))
    root = message(
        "p1", "prompter", "How do I make a list in Python?", None,
        message("a1", "assistant", "Use [].", 1, follow_up),
        message("a2", "assistant", "Use list() or [].", 0),
        message("a3", "assistant", "Lists are hard.", 2),
        message("a6", "assistant", "Unranked answer."),
        message("a7", "assistant", "Deleted answer.", 3, deleted=True),
    )
    return {"message_tree_id": "t1", "tree_state": "ready_for_export", "prompt": root}


@pytest.mark.parametrize("gz", [False, True])
def test_oasst_pairs_every_ranked_sibling_group(tmp_path, gz):
    reader = read_oasst_trees(write_lines(tmp_path / "trees.jsonl", [tree()], gz=gz))
    pairs = {pair.id: pair for pair in reader}
    assert set(pairs) == {"oasst:a2>a1", "oasst:a2>a3", "oasst:a1>a3", "oasst:a5>a4"}
    assert {pid: pair.strength for pid, pair in pairs.items()} == {
        "oasst:a2>a1": SLIGHTLY_BETTER, "oasst:a2>a3": BETTER, "oasst:a1>a3": SLIGHTLY_BETTER,
        "oasst:a5>a4": SLIGHTLY_BETTER,
    }
    top = pairs["oasst:a2>a3"]
    assert top.context == (Turn("user", "How do I make a list in Python?"),)
    assert (top.chosen, top.rejected, top.axis) == ("Use list() or [].", "Lists are hard.",
                                                    "helpfulness")
    assert pairs["oasst:a5>a4"].context == (
        Turn("user", "How do I make a list in Python?"), Turn("assistant", "Use []."),
        Turn("user", "And in Rust?"))
    assert pairs["oasst:a5>a4"].meta["chosen_rank"] == 0
    report = reader.report
    assert report.skipped == Counter({"unranked reply": 1, "deleted reply": 1})
    assert report.counts == Counter({"trees": 1, "messages": 9, "assistant replies": 7,
                                     "ranked sibling groups": 2})


def test_oasst_skips_lone_replies_tied_ranks_and_deleted_context(tmp_path):
    lone = message("p1", "prompter", "Q1", None, message("a1", "assistant", "A1", 0))
    tied = message("p2", "prompter", "Q2", None, message("b1", "assistant", "B1", 0),
                   message("b2", "assistant", "B2", 0), message("b3", "assistant", "B3", 1))
    gone = message("p3", "prompter", "Q3", None,
                   message("c1", "assistant", "C1", 0,
                           message("p4", "prompter", "Q4", 0,
                                   message("d1", "assistant", "D1", 0),
                                   message("d2", "assistant", "D2", 1)),
                           deleted=True))
    trees = [{"message_tree_id": str(i), "prompt": root} for i, root in
             enumerate([lone, tied, gone])]
    reader = read_oasst_trees(write_lines(tmp_path / "trees.jsonl", trees))
    assert sorted(pair.id for pair in reader) == ["oasst:b1>b3", "oasst:b2>b3"]
    assert reader.report.skipped == Counter({
        "single ranked reply": 1, "tied rank": 1, "deleted reply": 1, "deleted context": 2})


def test_oasst_malformed_tree_names_the_message_path_and_gives_no_pairs(tmp_path):
    bad = tree()
    bad["prompt"]["replies"][0]["replies"][0]["replies"][1]["rank"] = "first"
    path = write_lines(tmp_path / "trees.jsonl", [tree(), bad])
    reader = read_oasst_trees(path)
    assert len(list(reader)) == 4
    [problem] = reader.report.errors
    assert (problem.line, problem.field) == (2, "prompt.replies[0].replies[0].replies[1].rank")
    assert reader.report.counts["trees"] == 1
    with pytest.raises(PairFormatError, match=r"line 2, field 'prompt.replies\[0\]"):
        list(read_oasst_trees(path, strict=True))


@pytest.mark.parametrize(("distance", "strength"), [
    (1, SLIGHTLY_BETTER), (2, BETTER), (3, SIGNIFICANTLY_BETTER), (5, SIGNIFICANTLY_BETTER),
])
def test_oasst_strength_grows_with_rank_distance(distance, strength):
    assert oasst_strength(distance) == strength


def test_oasst_strength_needs_a_distance():
    with pytest.raises(ValueError):
        oasst_strength(0)


# --------------------------------------------------------------------------- UKP ConvArg1


@pytest.mark.parametrize(("votes", "strength"), [
    ((5, 0, 0), SIGNIFICANTLY_BETTER), ((4, 0, 0), SIGNIFICANTLY_BETTER),
    ((4, 1, 0), BETTER), ((4, 0, 1), BETTER),
    ((3, 2, 0), SLIGHTLY_BETTER), ((3, 1, 1), SLIGHTLY_BETTER), ((3, 0, 2), SLIGHTLY_BETTER),
    ((3, 1, 0), SLIGHTLY_BETTER), ((3, 0, 1), SLIGHTLY_BETTER), ((2, 1, 0), SLIGHTLY_BETTER),
    ((2, 1, 2), NEGLIGIBLY_BETTER), ((2, 0, 3), NEGLIGIBLY_BETTER),
    ((1, 0, 4), NEGLIGIBLY_BETTER), ((2, 1, 1), NEGLIGIBLY_BETTER),
    ((1, 0, 3), NEGLIGIBLY_BETTER),
])
def test_ukp_strength_is_the_winners_share_of_all_votes(votes, strength):
    assert ukp_strength(*votes) == strength


@pytest.mark.parametrize("votes", [(2, 2, 1), (0, 0, 5), (1, 3, 1)])
def test_ukp_strength_refuses_a_tie_or_a_loser(votes):
    with pytest.raises(ValueError):
        ukp_strength(*votes)


def ukp(pair_id: str, a1: int, a2: int, equal: int, **overrides) -> dict:
    record = {"topic": "tv-books_books", "debate_title": "TV is better than Books",
              "pair_id": pair_id, "a1_id": "x1", "a1_stance": "Books", "a1_text": "Books rule.",
              "a2_id": "x2", "a2_stance": "Books", "a2_text": "Reading<br/>is deep.",
              "votes": {"a1": a1, "a2": a2, "equal": equal}, "gold_label": None,
              "in_strict": False}
    record.update(overrides)
    return record


@pytest.mark.parametrize("gz", [False, True])
def test_ukp_reads_votes_into_pairs_and_skips_ties(tmp_path, gz):
    path = write_lines(tmp_path / "full_votes.jsonl.gz", [
        ukp("p1", 1, 3, 1),
        ukp("p2", 5, 0, 0),
        ukp("p3", 2, 2, 1),
        ukp("p4", 0, 0, 5),
        ukp("p5", 3, 1, 1, a2_text="Books rule."),
        ukp("p6", 3, 1, 1, votes={"a1": 3, "equal": 1}),
    ], gz=gz)
    reader = read_ukp_convarg(path)
    pairs = {pair.id: pair for pair in reader}
    assert set(pairs) == {"ukp-convarg1:p1", "ukp-convarg1:p2"}
    first = pairs["ukp-convarg1:p1"]
    assert (first.chosen, first.rejected) == ("Reading\nis deep.", "Books rule.")
    assert first.strength == SLIGHTLY_BETTER
    assert first.context == (Turn("user", ukp_prompt("TV is better than Books", "Books")),)
    assert first.context[0].content == (
        "Debate: TV is better than Books\nStance: Books\n"
        "Write a convincing argument for this stance.")
    assert (first.axis, first.source) == ("helpfulness", "ukp-convarg1")
    assert pairs["ukp-convarg1:p2"].chosen == "Books rule."
    assert pairs["ukp-convarg1:p2"].strength == SIGNIFICANTLY_BETTER
    report = reader.report
    assert report.skipped == Counter({"tie": 2, "identical": 1, "malformed: field votes": 1})
    assert [(p.line, p.field) for p in report.errors] == [(6, "votes.a2")]
    assert report.records == 6 == accounted(report)


# --------------------------------------------------------------------------- real data

HH_SPLITS = {
    # split: (lines, pairs, skipped by reason), measured on ../shared/data.
    "harmless-base": (1618, 1611, {"different contexts": 4, "empty response": 3}),
    "helpful-base": (1648, 1637, {"different contexts": 6, "empty response": 3,
                                  "identical": 2}),
    "helpful-online": (796, 792, {"empty response": 2, "identical": 2}),
    "helpful-rejection-sampled": (1924, 1899, {"different contexts": 2, "identical": 23}),
}


def check_pairs_are_trainable(pairs) -> None:
    assert len({pair.id for pair in pairs}) == len(pairs)
    for pair in pairs:
        assert pair.context and pair.context[-1].role == "user", pair.id
        assert pair.chosen.strip() and pair.rejected.strip(), pair.id
        assert pair.chosen != pair.rejected, pair.id


@pytest.mark.parametrize("split", sorted(HH_SPLITS))
def test_real_hh_rlhf_counts(split):
    lines, expected_pairs, expected_skips = HH_SPLITS[split]
    axis = "safety" if split.startswith("harmless") else "helpfulness"
    reader = read_hh_rlhf(shared_data("hh-rlhf", split, "test.jsonl.gz"), axis=axis)
    pairs = list(reader)
    report = reader.report
    assert report.records == lines == accounted(report)
    assert report.pairs == len(pairs) == expected_pairs
    assert report.skipped == expected_skips
    assert not report.errors
    check_pairs_are_trainable(pairs)
    assert {pair.source for pair in pairs} == {f"hh-rlhf:{split}"}
    assert {pair.strength for pair in pairs} == {None}


def test_real_oasst_trees_give_the_readmes_486_pairs():
    reader = read_oasst_trees(shared_data("oasst-en-100-trees", "en_100_tree.jsonl"))
    pairs = list(reader)
    report = reader.report
    # The README counts 149 groups / 486 pairs over all ranked replies; this file has no
    # deleted message, so dropping deleted replies changes nothing.
    assert report.counts == {"trees": 70, "messages": 822, "assistant replies": 474,
                             "ranked sibling groups": 149}
    assert len(pairs) == report.pairs == 486
    assert report.skipped == {"unranked reply": 32}
    check_pairs_are_trainable(pairs)
    assert Counter(pair.strength for pair in pairs) == {
        SLIGHTLY_BETTER: 293, BETTER: 144, SIGNIFICANTLY_BETTER: 49}


def test_real_ukp_convarg_votes():
    reader = read_ukp_convarg(shared_data("ukp-convarg1", "full_votes.jsonl.gz"))
    pairs = list(reader)
    report = reader.report
    assert report.records == 11859 == accounted(report)
    assert report.skipped == {"tie": 1182, "identical": 2}
    assert len(pairs) == 10675
    check_pairs_are_trainable(pairs)
    assert Counter(pair.strength for pair in pairs) == {
        SIGNIFICANTLY_BETTER: 2264, BETTER: 2787, SLIGHTLY_BETTER: 3368,
        NEGLIGIBLY_BETTER: 2256}


def test_an_exports_weight_reaches_the_pair_and_a_bad_one_is_a_problem(tmp_path):
    """``weight`` (annotator reliability) is optional: 1 without it; a negative, infinite
    or non-numeric one makes that record a problem naming the field."""
    path = write_lines(tmp_path / "export.jsonl", [
        export_record(id=1, weight=0.4), export_record(id=2), export_record(id=3, weight=-1),
        export_record(id=4, weight="high"), export_record(id=5, weight=0)])
    reader = read_paddock_export(path)
    assert [(pair.id, pair.weight) for pair in reader] == [
        ("paddock:1", 0.4), ("paddock:2", 1.0), ("paddock:5", 0.0)]
    assert [problem.line for problem in reader.report.errors] == [3, 4]
    assert all("weight" in str(problem) for problem in reader.report.errors)
