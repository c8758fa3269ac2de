"""Property tests for the import service (annotation.services.importing.import_file).

Whatever a file holds, the import completes: every good line stored (and nothing else),
every bad line recorded with its line number, and importing the same file again into the
same batch stores nothing twice.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from paddock.annotation.importers import ImportProblem, read_hh_rlhf, read_pairs, read_prompts
from paddock.annotation.models import Comparison, Conversation, PublicPreference
from paddock.annotation.services.importing import import_file
from tests.annotation.factories import make_batch
from tests.fuzz.annotation_strategies import RECORDS
from tests.fuzz.strategies import FUZZ_DB, files_of, plain_keys

READERS = {"prompts": read_prompts, "pairs": read_pairs, "hh_rlhf": read_hh_rlhf}
# Field names without NUL or lone surrogates: an unknown field named so crashes the import
# (test_an_unknown_field_named_with_a_nul_is_recorded_not_a_crash below).
FILES = {kind: files_of(records(keys=plain_keys)) for kind, records in RECORDS.items()}


def stored(batch) -> list[tuple[tuple[str, str], ...]]:
    conversations = Conversation.objects.filter(batch=batch).order_by("pk")
    return [tuple(c.turns.order_by("index").values_list("role", "content"))
            for c in conversations]


@pytest.mark.parametrize("kind", sorted(READERS))
def test_good_lines_are_stored_bad_lines_recorded_and_a_second_import_is_a_no_op(
        db, tmp_path, kind):
    @FUZZ_DB
    @given(content=FILES[kind])
    def check(content):
        path = tmp_path / f"{kind}.jsonl"
        path.write_bytes(content)
        items = list(READERS[kind](path))
        good = [item for item in items if not isinstance(item, ImportProblem)]
        problems = [item for item in items if isinstance(item, ImportProblem)]
        batch = make_batch()
        report = import_file(batch=batch, path=path, kind=kind, dataset="fuzz")
        assert report.complete
        assert (report.imported, report.problem_count) == (len(good), len(problems))
        assert [(p["line"], p["field"], p["kind"]) for p in report.problems] == [
            (p.line, p.field, p.kind) for p in problems]
        assert stored(batch) == [tuple((t.role, t.content) for t in item.turns)
                                 for item in good]
        comparisons = Comparison.objects.filter(batch=batch).count()
        preferences = PublicPreference.objects.filter(batch=batch).count()
        assert comparisons == (len(good) if kind == "pairs" else 0)
        assert preferences == (len(good) if kind == "hh_rlhf" else 0)

        again = import_file(batch=batch, path=path, kind=kind, dataset="fuzz")
        assert again.pk == report.pk
        assert Conversation.objects.filter(batch=batch).count() == len(good)
        assert Comparison.objects.filter(batch=batch).count() == comparisons
        assert PublicPreference.objects.filter(batch=batch).count() == preferences

    check()


# --------------------------------------------------------------------------- bugs


def import_lines(tmp_path, kind: str, *lines: bytes, **options):
    path = tmp_path / f"{kind}.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return import_file(batch=make_batch(), path=path, kind=kind, **options)


def test_an_unknown_field_named_with_a_nul_is_recorded_not_a_crash(db, tmp_path):
    report = import_lines(tmp_path, "prompts",
                          b'{"prompt": "Hi"}', b'{"prompt": "x", "\\u0000": 1}')
    assert (report.imported, report.problem_count, report.complete) == (1, 1, True)


def test_an_unknown_turn_field_named_with_a_lone_surrogate_is_recorded(db, tmp_path):
    report = import_lines(tmp_path, "pairs",
                          b'{"turns": [{"role": "user", "content": "x", "\\ud800": 1}], '
                          b'"response_a": "a", "response_b": "b"}')
    assert (report.imported, report.problem_count, report.complete) == (0, 1, True)


def test_an_hh_import_with_a_long_dataset_name_is_stored(db, tmp_path):
    line = b'{"chosen": "\\n\\nHuman: Hi\\n\\nAssistant: Hello", ' \
           b'"rejected": "\\n\\nHuman: Hi\\n\\nAssistant: Go away"}'
    report = import_lines(tmp_path, "hh_rlhf", line, dataset="d" * 200)
    assert (report.imported, report.complete) == (1, True)


def test_an_hh_import_of_a_file_with_a_long_name_is_stored(db, tmp_path):
    path = tmp_path / ("0123456789abcdef0123456789abcdef-" + "h" * 200 + ".jsonl")
    path.write_bytes(b'{"chosen": "\\n\\nHuman: Hi\\n\\nAssistant: Hello", '
                     b'"rejected": "\\n\\nHuman: Hi\\n\\nAssistant: Go away"}\n')
    report = import_file(batch=make_batch(), path=path, kind="hh_rlhf")
    assert (report.imported, report.complete) == (1, True)
