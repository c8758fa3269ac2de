"""Issue 18, M3: a number no float holds is one line's problem, never a failed import.

``1e999999`` in one line failed the whole import or ingest (0 of 5 good lines kept, the
import could never complete) and the job's error showed a traceback with SQL. Run on
SQLite and on PostgreSQL (whose jsonb refused the infinity the old reader let through).
"""

from __future__ import annotations

import pytest
from django.db import DataError

from paddock.annotation.services.importing import import_file
from paddock.curation.models import IngestProblem
from paddock.curation.services.ingest import source_ingest
from paddock.platform.failure_text import failure_sentence
from paddock.workers.models import JobState
from tests.annotation.factories import make_batch
from tests.support import tasks
from tests.workers.test_jobs import queued_job, run_in_process

pytestmark = pytest.mark.django_db

HOSTILE_NUMBERS = ["1e999999", "-1e400", "9" * 30, "-" + "9" * 5000]


def five_lines(good: str, bad: str) -> str:
    """Five lines, ``good`` with its index filled in, and ``bad`` as line 3."""
    lines = [good % index for index in range(5)]
    lines[2] = bad
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("number", HOSTILE_NUMBERS)
def test_an_import_keeps_the_good_lines_and_names_the_number(tmp_path, number):
    path = tmp_path / "prompts.jsonl"
    path.write_text(five_lines(
        '{"prompt": "What is a paddock?", "metadata": {"n": %d}}',
        '{"prompt": "What is a paddock?", "metadata": {"score": ' + number + "}}",
    ))
    report = import_file(batch=make_batch(), path=path, kind="prompts")
    assert (report.imported, report.problem_count, report.complete) == (4, 1, True)
    [problem] = report.problems
    assert (problem["line"], problem["kind"]) == (3, "number_out_of_range")
    assert problem["message"].startswith("number out of range: ")
    assert len(problem["message"]) < 200


@pytest.mark.parametrize("number", HOSTILE_NUMBERS)
def test_an_ingest_keeps_the_good_documents_and_names_the_number(tmp_path, number):
    path = tmp_path / "docs.jsonl"
    path.write_text(five_lines(
        '{"text": "an honest document", "n": %d}',
        '{"text": "an honest document", "score": ' + number + "}",
    ))
    source, _created = source_ingest(path=path, name="numbers", fmt="jsonl")
    assert (source.status, source.documents, source.problems) == ("ready", 4, 1)
    problem = IngestProblem.objects.get(source=source)
    assert (problem.locator, problem.kind) == ("line 3", "number_out_of_range")


def test_a_database_error_becomes_a_sentence_naming_where_to_look():
    job = queued_job(tasks.explode, message="unused")
    error = DataError('invalid input syntax for type json\nLINE 1: INSERT INTO "x" ...')
    sentence = failure_sentence(error, reference=f"job {job.pk}")
    assert "INSERT" not in sentence and "Traceback" not in sentence
    assert sentence.startswith("DataError: an unexpected error stopped this on the worker")
    assert f"job {job.pk}" in sentence


def test_a_job_failing_on_a_database_error_stores_the_sentence(monkeypatch):
    def broken(message: str) -> None:
        raise DataError(f"{message}\nLINE 1: INSERT INTO annotation_conversation ...")

    monkeypatch.setattr(tasks.explode, "run", broken)
    job = queued_job(tasks.explode, message="invalid input syntax for type json")
    run_in_process(tasks.explode, job)
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    for shown in (job.message, job.error):
        assert "INSERT" not in shown and "Traceback" not in shown
        assert "the worker; its log has the details" in shown
