"""Importing files into a batch: good lines kept, bad lines reported, re-import a no-op."""

import gzip
import json

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from paddock.annotation.models import (
    BatchImport,
    Comparison,
    Conversation,
    PublicPreference,
)
from paddock.annotation.services.assignment import next_assignment
from paddock.annotation.services.importing import import_file
from paddock.platform.accounts.models import Role
from paddock.workers.models import Job
from tests.annotation.factories import make_batch
from tests.support.shared_data import shared_data

pytestmark = pytest.mark.django_db


def write_jsonl(path, lines):
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line)
                              for line in lines) + "\n")
    return path


def test_pairs_import_keeps_good_lines_and_reports_bad_ones(tmp_path, make_user):
    batch = make_batch()
    path = write_jsonl(tmp_path / "pairs.jsonl", [
        {"prompt": "What is a tide?", "response_a": "The sea rising.",
         "response_b": {"text": "Moon pull.", "model": "policy-v3", "temperature": 1.2}},
        "{not json",
        {"prompt": "Same?", "response_a": "x", "response_b": "x"},
        {"turns": [{"role": "user", "content": "How to hotwire a car?"}], "axis": "safety",
         "risk_category": "illicit_criminal", "response_a": "I can't help.",
         "response_b": "Step one..."},
    ])
    report = import_file(batch=batch, path=path, kind="pairs")
    assert (report.imported, report.problem_count, report.complete) == (2, 2, True)
    assert [(p["line"], p["kind"]) for p in report.problems] == [
        (2, "malformed_json"), (3, "identical_responses")]
    safety = Comparison.objects.get(axis="safety")
    assert safety.conversation.risk_category == "illicit_criminal"
    assert Comparison.objects.get(axis="helpfulness").response_b.model_version == "policy-v3"
    assert next_assignment(annotator=make_user(Role.ANNOTATOR)) is not None


def test_importing_the_same_file_again_does_nothing_and_a_cut_import_resumes(tmp_path):
    batch = make_batch()
    path = write_jsonl(tmp_path / "prompts.jsonl",
                       [{"prompt": f"Prompt number {i}"} for i in range(1, 8)])
    first = import_file(batch=batch, path=path, kind="prompts")
    assert first.imported == 7 and Conversation.objects.count() == 7
    again = import_file(batch=batch, path=path, kind="prompts")
    assert again.pk == first.pk and Conversation.objects.count() == 7

    other_batch = make_batch()
    report = import_file(batch=other_batch, path=path, kind="prompts")
    # Simulate a worker killed after line 3: the rows of lines 4-7 never committed.
    for conversation in Conversation.objects.filter(batch=other_batch).order_by("id")[3:]:
        conversation.delete()
    BatchImport.objects.filter(pk=report.pk).update(last_line=3, imported=3, complete=False)
    resumed = import_file(batch=other_batch, path=path, kind="prompts")
    assert resumed.imported == 7 and Conversation.objects.filter(batch=other_batch).count() == 7
    texts = sorted(Conversation.objects.filter(batch=other_batch)
                   .values_list("turns__content", flat=True))
    assert texts == sorted(f"Prompt number {i}" for i in range(1, 8))


def test_hh_rlhf_becomes_public_preferences_never_served_to_annotators(tmp_path, make_user):
    source = shared_data("hh-rlhf", "harmless-base", "test.jsonl.gz")
    sample = tmp_path / "harmless-sample.jsonl.gz"
    with gzip.open(source, "rt") as full, gzip.open(sample, "wt") as part:
        for _, line in zip(range(60), full, strict=False):
            part.write(line)
    batch = make_batch()
    report = import_file(batch=batch, path=sample, kind="hh_rlhf",
                         dataset="hh-rlhf/harmless-base", axis="safety")
    assert report.imported + report.problem_count == 60 and report.imported > 50
    preference = PublicPreference.objects.order_by("line").first()
    assert preference.axis == "safety" and preference.chosen.text != preference.rejected.text
    assert preference.conversation.turns.order_by("-index").first().role == "user"
    assert next_assignment(annotator=make_user(Role.ANNOTATOR)) is None


def test_upload_through_the_api_starts_an_import_job(make_user, tmp_path,
                                                     django_capture_on_commit_callbacks):
    batch = make_batch()
    client = APIClient()
    client.force_authenticate(make_user(Role.DATA_MANAGER))
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "hello there"}])
    with open(path, "rb") as handle, django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("annotation-api:batch-import", args=[batch.pk]),
                               {"file": handle, "kind": "prompts"}, format="multipart")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["job"])
    assert job.task_name == "annotation.import_file" and job.kwargs["kind"] == "prompts"
    annotator = APIClient()
    annotator.force_authenticate(make_user(Role.ANNOTATOR))
    with open(path, "rb") as handle:
        refused = annotator.post(reverse("annotation-api:batch-import", args=[batch.pk]),
                                 {"file": handle, "kind": "prompts"}, format="multipart")
    assert refused.status_code == 403
