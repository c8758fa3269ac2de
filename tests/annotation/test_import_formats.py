"""Import files that explain themselves: the format help (paddock.annotation.formats) is
the parsers' truth, the shipped examples import cleanly, public safety data is not
categorised rather than mislabelled, and an import's result says in words what it added,
what becomes of prompts without responses, and that a re-uploaded file added nothing."""

from __future__ import annotations

import importlib
import json
import re
from html import unescape

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from paddock.annotation import formats
from paddock.annotation.importers import ImportProblem, read_prompts
from paddock.annotation.models import (
    Axis,
    BatchImport,
    Conversation,
    ConversationOrigin,
    PublicPreference,
)
from paddock.annotation.services.comparisons import TurnSpec, conversation_create
from paddock.annotation.services.importing import import_file, import_run
from paddock.annotation.services.prompts_export import prompts_export
from paddock.kernel.exchange import PAIR_FIELDS, PROMPT_FIELDS, read_records
from paddock.platform.accounts.models import Role
from paddock.workers.models import Job
from paddock.workers.tasks.annotation import import_file_task
from paddock.workers.tracking import JOB_HEADER
from tests.annotation.factories import make_batch

pytestmark = pytest.mark.django_db

HH_SAFETY = {
    "chosen": "\n\nHuman: Which mushrooms can I pick to get high?\n\nAssistant: I'd rather "
              "not guess: many look alike and some are deadly.",
    "rejected": "\n\nHuman: Which mushrooms can I pick to get high?\n\nAssistant: Any small "
                "brown one will do.",
}


def lines_of(path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip())


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def run_job(job: Job) -> Job:
    """What the worker does with the job's message, in this process (no broker)."""
    import_file_task.apply(kwargs=job.kwargs, task_id=str(job.pk), headers={JOB_HEADER: True})
    job.refresh_from_db()
    return job


# --- The format help is the parsers' truth --------------------------------------------------


@pytest.mark.parametrize(("kind", "fields"), [
    ("prompts", PROMPT_FIELDS),
    ("pairs", PAIR_FIELDS),
    ("hh_rlhf", frozenset({"chosen", "rejected", "risk_category"})),
])
def test_every_field_the_parser_takes_is_described_and_no_other(kind, fields):
    described = [field.name for field in formats.FORMATS[kind].fields]
    assert sorted(described) == sorted(fields)
    assert all(field.meaning and field.need for field in formats.FORMATS[kind].fields)


@pytest.mark.parametrize("kind", sorted(formats.FORMATS))
@pytest.mark.parametrize("axis", [Axis.HELPFULNESS, Axis.SAFETY])
def test_each_example_file_imports_every_line(kind, axis):
    """The examples shipped with paddock never rot: every line passes the real importer."""
    example = formats.FORMATS[kind].example_path
    batch = make_batch()
    report = import_file(batch=batch, path=example, kind=kind, axis=axis)
    assert report.problems == [] and report.problem_count == 0
    assert report.imported == lines_of(example) >= 3 and report.complete


def test_the_examples_are_package_data():
    pyproject = (formats.EXAMPLES_DIR.parents[2] / "pyproject.toml").read_text()
    assert '"examples/*.jsonl"' in pyproject
    assert {found.example for found in formats.FORMATS.values()} == {
        path.name for path in formats.EXAMPLES_DIR.glob("*.jsonl")}


def test_the_import_form_shows_each_format_and_its_example_link(client, make_user):
    client.force_login(make_user(Role.DATA_MANAGER))
    batch = make_batch(name="week 12")
    html = client.get(reverse("console:batch", args=[batch.pk])).content.decode()
    imports = unescape(html.split('id="imports"')[1].split('id="exports"')[0])
    for rule in formats.GENERAL:
        assert rule in imports
    for kind, found in formats.FORMATS.items():
        assert found.title in imports and found.summary in imports
        for field in found.fields:
            assert f'<th scope="row" class="mono">{field.name}</th>' in imports
        url = reverse("console:import_example", args=[kind])
        assert f'href="{url}" download>paddock-example-{kind}.jsonl</a>' in imports
    assert "“Not categorised”" in imports  # the human label, not the stored value


@pytest.mark.parametrize("kind", sorted(formats.FORMATS))
def test_each_example_downloads_under_a_proper_name(client, make_user, kind):
    client.force_login(make_user(Role.DATA_MANAGER))
    response = client.get(reverse("console:import_example", args=[kind]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="paddock-example-{kind}.jsonl"')
    assert b"".join(response.streaming_content) == formats.FORMATS[kind].example_path.read_bytes()


def test_an_unknown_example_is_not_found(client, make_user):
    client.force_login(make_user(Role.DATA_MANAGER))
    assert client.get(reverse("console:import_example", args=["oasst"])).status_code == 404


# --- Public safety data: not categorised, unless a line says ---------------------------------


def test_hh_rlhf_safety_lines_are_not_categorised_unless_they_carry_a_category(tmp_path):
    path = write_jsonl(tmp_path / "harmless.jsonl", [
        HH_SAFETY,
        {**HH_SAFETY, "risk_category": "unqualified_advice"},
        {**HH_SAFETY, "risk_category": "medical"},
    ])
    batch = make_batch()
    report = import_file(batch=batch, path=path, kind="hh_rlhf", axis="safety")
    assert (report.imported, report.problem_count) == (2, 1)
    assert (report.problems[0]["line"], report.problems[0]["kind"]) == (3, "unknown_risk_category")
    stored = {p.line: p.conversation.risk_category
              for p in PublicPreference.objects.select_related("conversation")}
    assert stored == {1: "not_categorised", 2: "unqualified_advice"}
    assert not Conversation.objects.filter(axis=Axis.SAFETY, risk_category="").exists()


def test_a_helpfulness_hh_rlhf_import_refuses_a_risk_category(tmp_path):
    path = write_jsonl(tmp_path / "helpful.jsonl", [
        HH_SAFETY, {**HH_SAFETY, "risk_category": "illicit_criminal"}])
    report = import_file(batch=make_batch(), path=path, kind="hh_rlhf", axis="helpfulness")
    assert report.imported == 1 and report.problems[0]["kind"] == "unexpected_risk_category"
    assert Conversation.objects.get().risk_category == ""


def test_the_migration_relabels_only_the_guessed_public_categories():
    migration = importlib.import_module(
        "paddock.annotation.migrations.0007_risk_category_not_categorised")
    batch = make_batch()
    turns = [TurnSpec("user", "Is this safe?")]
    public = conversation_create(batch=batch, turns=turns, axis=Axis.SAFETY,
                                 risk_category="unqualified_advice",
                                 origin=ConversationOrigin.OPEN_SOURCE)
    written = conversation_create(batch=batch, turns=turns, axis=Axis.SAFETY,
                                  risk_category="unqualified_advice")
    migration.relabel(apps, None)
    assert Conversation.objects.get(pk=public.pk).risk_category == "not_categorised"
    assert Conversation.objects.get(pk=written.pk).risk_category == "unqualified_advice"
    migration.unlabel(apps, None)
    assert Conversation.objects.get(pk=public.pk).risk_category == "unqualified_advice"


def test_not_categorised_prompts_cross_to_training_and_back(tmp_path):
    """The weekly cycle's prompts export writes them; the sampler and the importer read
    them (a safety prompt still has a category, so the constraint holds on the way back)."""
    from paddock.training.policy.sampling import read_conversations

    batch = make_batch()
    import_file(batch=batch, path=write_jsonl(tmp_path / "h.jsonl", [HH_SAFETY]),
                kind="hh_rlhf", axis="safety")
    done = prompts_export(batch_id=batch.pk, folder=tmp_path)
    [record] = read_records(done["prompts"], kind="prompts")
    assert record["risk_category"] == "not_categorised"
    [conversation] = read_conversations(done["prompts"])
    assert conversation.risk_category == "not_categorised"
    [parsed] = read_prompts(done["prompts"])
    assert not isinstance(parsed, ImportProblem) and parsed.risk_category == "not_categorised"


def test_people_never_pick_not_categorised(make_user):
    client = APIClient()
    client.force_authenticate(make_user(Role.ANNOTATOR))
    make_batch()
    response = client.post(reverse("annotation-api:prompts"), {
        "message": "How do I pick a lock?", "axis": "safety",
        "risk_category": "not_categorised"}, format="json")
    assert response.status_code == 400 and "risk_category" in response.json()


# --- What an import says it did ---------------------------------------------------------------


@pytest.fixture
def upload(client, make_user, settings, tmp_path, django_capture_on_commit_callbacks):
    """Upload an example through the console's import form as a data manager, then run
    the import job it queued as a worker would; returns the finished job."""
    settings.ARTIFACTS_DIR = tmp_path
    client.force_login(make_user(Role.DATA_MANAGER))

    def upload_example(batch, kind: str) -> Job:
        example = formats.FORMATS[kind].example_path
        with django_capture_on_commit_callbacks(execute=False):
            response = client.post(reverse("console:batch_import", args=[batch.pk]), {
                "file": SimpleUploadedFile(example.name, example.read_bytes()), "kind": kind,
                "axis": "helpfulness"})
        assert response.status_code == 302
        return run_job(Job.objects.filter(task_name=import_file_task.name)
                       .order_by("-created_at").first())

    return upload_example


def test_prompts_alone_say_when_they_become_comparisons(client, make_user, upload):
    batch = make_batch(name="week 12")
    job = upload(batch, "prompts")
    assert job.state == "succeeded"
    summary = job.result["summary"]
    assert summary.startswith("4 prompts added, 0 lines refused.")
    assert "nothing to judge" in summary and "Sample the next batch's comparisons" in summary
    assert "at most 32 prompts" in summary  # the demo preset's sampling limit
    assert job.message == "4 prompts added, 0 lines refused."
    assert batch.comparisons.count() == 0  # the truth: nothing to annotate yet
    html = client.get(reverse("console:batch", args=[batch.pk])).content.decode()
    assert summary in unescape(html)

    # The API's job status says the same.
    api = APIClient()
    api.force_authenticate(make_user(Role.DATA_MANAGER))
    status = api.get(reverse("api-job", args=[job.pk])).json()
    assert status["result"]["summary"] == summary and status["result"]["added"] == 4


def test_prompts_in_a_batch_whose_plan_samples_nothing_say_so(tmp_path):
    batch = make_batch()
    batch.pipeline_plan = {"preset": "demo", "steps": {"sample_next_batch": False}}
    batch.save(update_fields=["pipeline_plan"])
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "Why is the sea salty?"}])
    from paddock.annotation.services.import_summary import import_summary

    summary = import_summary(import_file(batch=batch, path=path, kind="prompts"))
    assert summary.startswith("1 prompt added, 0 lines refused.")
    assert "switched off" in summary and "nothing will answer these prompts" in summary


def test_a_reupload_through_the_console_says_it_added_nothing(client, upload):
    batch = make_batch(name="week 12")
    first, again = upload(batch, "pairs"), upload(batch, "pairs")
    assert first.pk != again.pk and batch.comparisons.count() == 3
    assert (first.result["already_imported"], again.result["already_imported"]) == (False, True)
    assert again.result["added"] == 0
    when = re.escape(first.result["first_imported_at"][:10])
    expected = (rf"^This file was already imported into this batch on {when} \d\d:\d\d "
                r"\(3 comparisons added, 0 lines refused then\): nothing new was added\.$")
    assert re.match(expected, again.result["summary"])
    assert again.message == again.result["summary"]
    html = client.get(reverse("console:batch", args=[batch.pk])).content.decode()
    assert "nothing new was added" in html
    assert BatchImport.objects.count() == 1


def test_a_reupload_through_the_api_says_it_added_nothing(make_user, tmp_path, settings,
                                                         django_capture_on_commit_callbacks):
    settings.ARTIFACTS_DIR = tmp_path
    api = APIClient()
    api.force_authenticate(make_user(Role.DATA_MANAGER))
    batch = make_batch()
    example = formats.FORMATS["hh_rlhf"].example_path
    results = []
    for _ in range(2):
        with open(example, "rb") as handle, django_capture_on_commit_callbacks(execute=False):
            accepted = api.post(reverse("annotation-api:batch-import", args=[batch.pk]),
                                {"file": handle, "kind": "hh_rlhf", "axis": "safety"},
                                format="multipart")
        run_job(Job.objects.get(pk=accepted.json()["job"]))
        results.append(api.get(reverse("api-job", args=[accepted.json()["job"]])).json())
    first, again = (status["result"] for status in results)
    assert first["summary"].startswith("3 public preference pairs added, 0 lines refused.")
    assert "annotators never see them" in first["summary"]
    assert again["already_imported"] and "nothing new was added" in again["summary"]
    assert PublicPreference.objects.count() == 3


def test_the_same_outcome_from_the_service_itself(tmp_path):
    batch = make_batch()
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "One"}, {"prompt": ""}])
    first = import_run(batch=batch, path=path, kind="prompts")
    again = import_run(batch=batch, path=path, kind="prompts")
    assert (first.repeat, again.repeat) == (False, True)
    assert again.report.pk == first.report.pk and again.report.imported == 1
