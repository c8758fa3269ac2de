"""A source is its bytes plus name, format and field options; names are unique; empty
inputs and skipped files are said; a run's manifest records everything it depends on."""

import hashlib
import json
from importlib import resources

import pytest

from paddock.curation.core.documents import CurationInputError
from paddock.curation.models import DomainAction, DomainRule, IngestProblem, Source
from paddock.curation.services import runs
from paddock.curation.services.document_store import default_store
from paddock.curation.services.ingest import source_ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_fields(tmp_path):
    path = tmp_path / "two.jsonl"
    path.write_text("".join(
        json.dumps({"text": f"wrong field {i}", "body": f"the right body number {i} here"}) + "\n"
        for i in range(4)))
    return path


def test_a_corrected_text_field_is_a_new_source_and_the_same_options_a_no_op(two_fields):
    first, created = source_ingest(path=two_fields, name="two", fmt="jsonl")
    assert created and first.fingerprint == hashlib.sha256(two_fields.read_bytes()).hexdigest()
    again, created = source_ingest(path=two_fields, name="two", fmt="jsonl")
    assert not created and again.pk == first.pk
    fixed, created = source_ingest(path=two_fields, name="two-body", fmt="jsonl",
                                   text_field="body")
    assert created and fixed.pk != first.pk and fixed.fingerprint == first.fingerprint
    texts = [t for (t,) in default_store().rows(fixed.store_key, ("text",))]
    assert texts[0] == "the right body number 0 here"


def test_a_taken_name_is_refused_naming_the_source(two_fields, tmp_path):
    source, _ = source_ingest(path=two_fields, name="two", fmt="jsonl")
    other = tmp_path / "other.jsonl"
    other.write_text('{"text": "another document with enough words"}\n')
    with pytest.raises(CurationInputError, match=f"named 'two' already exists \\(source "
                                                 f"{source.pk}"):
        source_ingest(path=other, name="two", fmt="jsonl")
    with pytest.raises(CurationInputError, match="already exists"):
        source_ingest(path=two_fields, name="two", fmt="jsonl", text_field="body")
    assert Source.objects.count() == 1


def test_an_empty_input_and_skipped_files_leave_problems(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    source, _ = source_ingest(path=empty, name="empty", fmt="jsonl")
    assert source.documents == 0 and source.status == "ready"
    assert list(source.problem_set.values_list("kind", flat=True)) == ["empty_input"]

    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a text file with words")
    (folder / "sub" / "picture.png").write_bytes(b"\x89PNG")
    (folder / "notes.md").write_text("markdown is not read")
    source, _ = source_ingest(path=folder, name="folder", fmt="text")
    assert source.documents == 1 and source.problems == 2
    skipped = IngestProblem.objects.filter(source=source, kind="skipped_file")
    assert sorted(skipped.values_list("locator", flat=True)) == ["file notes.md",
                                                                 "file sub/picture.png"]


def test_the_manifest_holds_the_domain_lists_and_the_starter_list_version(two_fields):
    source, _ = source_ingest(path=two_fields, name="two", fmt="jsonl", text_field="body")
    DomainRule.objects.create(domain="zz-blocked.example", action=DomainAction.BLOCK)
    DomainRule.objects.create(domain="b-allowed.example", action=DomainAction.ALLOW)
    DomainRule.objects.create(domain="a-allowed.example", action=DomainAction.ALLOW)
    run = runs.run_create(name="m", sources=[source])
    runs.run_stages(run, runs.STAGES)
    run.refresh_from_db()
    lists = run.manifest["domain_lists"]
    assert lists["allowed"] == ["a-allowed.example", "b-allowed.example"]
    assert "zz-blocked.example" in lists["blocked"] and "spokeo.com" in lists["blocked"]
    assert lists["blocked"] == sorted(lists["blocked"])
    shipped = (resources.files("paddock.curation.core").joinpath("data")
               .joinpath("people_search_domains.txt").read_bytes())
    starter = lists["starter_blocklist"]
    assert starter["sha256"] == hashlib.sha256(shipped).hexdigest()
    assert starter["domains"] == len(lists["blocked"]) - 1
    assert run.manifest["inputs"][0]["text_field"] == "body"


def test_the_console_refuses_a_taken_name_before_queueing(tmp_path):
    import uuid

    from paddock.curation.services import actions
    from paddock.curation.services.ingest_paths import ingest_roots

    root = ingest_roots()[0]
    root.mkdir(parents=True, exist_ok=True)
    first = root / f"first-{uuid.uuid4().hex}.jsonl"
    second = root / f"second-{uuid.uuid4().hex}.jsonl"
    try:
        first.write_text('{"text": "one document with enough words in it"}\n')
        second.write_text('{"text": "another document with enough words in it"}\n')
        source_ingest(path=first, name="taken", fmt="jsonl")
        with pytest.raises(actions.CurationActionError, match="named 'taken' already exists"):
            actions.source_ingest_start(path=second, name="taken", fmt="jsonl")
    finally:
        first.unlink()
        second.unlink()
