"""The README's "Formats" examples are held to the code: each import example goes through
the real parser, each export example has the keys a real export writes and passes its
reader, each curation example is read by the curation readers.

An example is the fenced block right after a ``<!-- example: NAME -->`` comment.
"""

from __future__ import annotations

import gzip
import json
import re
import textwrap
from pathlib import Path

import pytest

from paddock.annotation.importers import (
    ImportProblem,
    prompt_id,
    read_hh_rlhf,
    read_pairs,
    read_prompts,
)
from paddock.curation.core.documents import RawDocument
from paddock.curation.core.export import ExportRecord
from paddock.curation.core.readers import read_documents
from paddock.kernel.exchange import PREFERENCES, check_schema_version

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = re.compile(r"<!-- example: (?P<name>\w+) -->\n(?P<indent> *)```\w*\n(?P<body>.*?)\n *```",
                     re.DOTALL)
EXPECTED = {"prompts", "pairs", "hh_rlhf", "preferences", "raw", "manifest", "prompts_export",
            "curation_jsonl", "curation_text", "curation_wet", "curated"}


def readme_examples() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Formats\n", 1)[1].split("\n## ", 1)[0]
    return {found["name"]: textwrap.dedent(found["body"])
            for found in EXAMPLE.finditer(section)}


EXAMPLES = readme_examples()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text + "\n", encoding="utf-8")
    return path


def test_the_formats_section_has_every_example():
    assert set(EXAMPLES) == EXPECTED


@pytest.mark.parametrize(("name", "reader", "axis"), [
    ("prompts", read_prompts, None),
    ("pairs", read_pairs, None),
    ("hh_rlhf", read_hh_rlhf, "safety"),
    ("prompts_export", read_prompts, None),
])
def test_import_examples_pass_the_importers(tmp_path, name, reader, axis):
    path = write(tmp_path, f"{name}.jsonl", EXAMPLES[name])
    [parsed] = list(reader(path, axis) if axis else reader(path))
    assert not isinstance(parsed, ImportProblem), parsed
    if name == "hh_rlhf":  # the line's own category is kept on a safety import
        assert parsed.risk_category == "unqualified_advice"
    if name == "prompts_export":  # the id is the prompt's identity, as the export writes it
        record = json.loads(EXAMPLES[name])
        assert record["id"] == prompt_id(record["turns"])
        assert parsed.risk_category == "not_categorised"


@pytest.mark.django_db
def test_export_examples_have_the_keys_a_real_export_writes(tmp_path, settings, make_user):
    from paddock.annotation.services.assignment import next_assignment, submit_judgement
    from paddock.annotation.services.export import export_batch, export_path
    from paddock.platform.accounts.models import Role
    from tests.annotation.factories import make_batch, make_comparisons

    settings.ARTIFACTS_DIR = tmp_path
    batch = make_batch(name="week 12")
    make_comparisons(batch, 2)
    annotator = make_user(Role.ANNOTATOR)
    while (lease := next_assignment(annotator=annotator, batch=batch)) is not None:
        submit_judgement(annotator=annotator, assignment_id=lease.pk, chosen_side="left",
                         strength="better")
    for kind in ("preferences", "raw"):
        manifest = export_batch(batch, kind)
        with gzip.open(export_path(batch, kind), "rt", encoding="utf-8") as lines:
            real = json.loads(next(lines))
        example = json.loads(EXAMPLES[kind])
        assert list(example) == list(real), kind
        if kind == "preferences":
            documented = json.loads(EXAMPLES["manifest"])
            assert set(documented) == set(manifest)
            assert set(documented["counts"]) == set(manifest["counts"])
            assert documented["margins"] == manifest["margins"]


def test_the_preferences_example_is_read_by_the_reward_trainer(tmp_path):
    from paddock.training.reward.readers import read_paddock_export

    path = tmp_path / "7-preferences.jsonl.gz"
    path.write_bytes(gzip.compress((EXAMPLES["preferences"] + "\n").encode()))
    write(tmp_path, "7-preferences.manifest.json", EXAMPLES["manifest"])
    assert check_schema_version(path, PREFERENCES) == 1
    reader = read_paddock_export(path, strict=True)
    [pair] = list(reader)
    assert pair.chosen == json.loads(EXAMPLES["preferences"])["chosen"]


@pytest.mark.parametrize(("name", "file_name", "fmt"), [
    ("curation_jsonl", "docs.jsonl", "jsonl"),
    ("curation_text", "docs.txt", "lines"),
])
def test_curation_line_examples_are_read_as_documents(tmp_path, name, file_name, fmt):
    path = write(tmp_path, file_name, EXAMPLES[name])
    [document] = list(read_documents(path, fmt))
    assert isinstance(document, RawDocument), document
    assert document.text.startswith(("The Thames", "Lighthouses"))


def test_the_wet_example_is_read_as_a_document(tmp_path):
    """WARC wants CRLF line ends and an exact Content-Length: the README shows the record
    as people read it, so both are put back here (the length is checked first)."""
    head, body = EXAMPLES["curation_wet"].split("\n\n", 1)
    declared = int(re.search(r"Content-Length: (\d+)", head)[1])
    payload = body.encode() + b"\n"
    assert declared == len(payload)
    path = tmp_path / "sample.warc.wet"
    path.write_bytes(head.replace("\n", "\r\n").encode() + b"\r\n\r\n" + payload + b"\r\n\r\n")
    [document] = list(read_documents(path, "wet"))
    assert isinstance(document, RawDocument), document
    assert document.url == "https://example.org/tides"
    assert document.text.startswith("Tides follow the moon")


def test_the_curated_export_example_is_what_the_writer_writes():
    record = json.loads(EXAMPLES["curated"])
    written = ExportRecord(stable_id=record.pop("id"), **record).to_json()
    assert written == EXAMPLES["curated"]
