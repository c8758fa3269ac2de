"""The curation pages: managers only, runs started as jobs, overrides saved."""

import pytest
from django.urls import reverse

from paddock.curation.models import CurationRun, DomainRule, RunStatus
from paddock.curation.services import runs
from paddock.platform.accounts.models import Role
from paddock.workers.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, make_user):
    client.force_login(make_user(Role.DATA_MANAGER))
    return client


def test_annotators_cannot_open_curation(client, make_user):
    client.force_login(make_user(Role.ANNOTATOR))
    assert client.get(reverse("curation:home")).status_code == 403


def test_run_page_shows_counts_reasons_sites_and_dropped_documents(
    manager_client, ingest, people_search_jsonl
):
    source = ingest(people_search_jsonl, "web")
    run = runs.run_create(name="people", sources=[source])
    runs.run_stages(run, runs.STAGES)

    page = manager_client.get(reverse("curation:run", args=[run.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "lookup-people.example" in html and "Excluded" in html
    assert "Site with much personal information" in html and "Blocklisted site" in html
    assert "per 1,000 words" in html

    found = manager_client.get(reverse("curation:run", args=[run.pk]), {"q": "spokeo"})
    assert "spokeo.com/John-Doe" in found.content.decode()
    assert "lookup-people.example/page" not in found.content.decode()


def test_starting_a_run_enqueues_one_job(manager_client, ingest, people_search_jsonl,
                                        django_capture_on_commit_callbacks):
    run = runs.run_create(name="queued", sources=[ingest(people_search_jsonl, "web")])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = manager_client.post(reverse("curation:run_start", args=[run.pk]))
        again = manager_client.post(reverse("curation:run_start", args=[run.pk]), follow=True)
    assert response.status_code == 302
    assert b"already queued or running" in again.content
    assert len(callbacks) == 1
    assert Job.objects.get().task_name == "curation.run"
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
    progress = manager_client.get(reverse("curation:run_progress", args=[run.pk])).json()
    assert progress["status"] == "queued"


def test_new_run_form_keeps_the_source_order_and_weights(manager_client, ingest,
                                                        people_search_jsonl, tmp_path):
    first = ingest(people_search_jsonl, "web")
    other = tmp_path / "other.jsonl"
    other.write_text('{"text": "just one more document with several words in it"}\n')
    second = ingest(other, "other")
    response = manager_client.post(
        reverse("curation:run_create"),
        {"name": "ordered", "sources": [second.pk, first.pk], "threshold": 0.85,
         "pii_threshold": 12, "pii_min_documents": 3, "weights": "other=2"},
    )
    run = CurationRun.objects.get(name="ordered")
    assert response["Location"] == reverse("curation:run", args=[run.pk])
    assert [rs.source_id for rs in run.runsource_set.all()] == [second.pk, first.pk]
    config = runs.run_config(run)
    assert config.near_dedup.threshold == 0.85 and config.pii.rate_threshold == 12
    assert config.export.source_weights == {"other": 2.0}


def test_bad_weights_are_refused_with_the_reason(manager_client, ingest, people_search_jsonl):
    source = ingest(people_search_jsonl, "web")
    response = manager_client.post(
        reverse("curation:run_create"),
        {"name": "bad", "sources": [source.pk], "threshold": 0.8, "pii_threshold": 10,
         "pii_min_documents": 5, "weights": "wikipedia"},
        follow=True,
    )
    assert b"write SOURCE=WEIGHT" in response.content
    assert not CurationRun.objects.exists()


def test_override_buttons_save_rules_and_return_to_the_page(manager_client):
    back = reverse("curation:home") + "?from=run"
    response = manager_client.post(
        reverse("curation:domain_rule_set"),
        {"domain": "WWW.Lookup-People.example", "action": "allow", "next": back},
    )
    assert response["Location"] == back
    assert DomainRule.objects.get().domain == "lookup-people.example"
    evil = manager_client.post(
        reverse("curation:domain_rule_set"),
        {"domain": "x.example", "action": "block", "next": "https://evil.example/"},
    )
    assert evil["Location"] == reverse("curation:home")


def test_ingest_form_refuses_a_path_that_does_not_exist(manager_client, settings):
    missing = settings.INGEST_ROOTS[0] / "no-such-file.jsonl"
    response = manager_client.post(
        reverse("curation:ingest"), {"path": str(missing), "name": "x", "format": "auto"},
        follow=True,
    )
    assert b"does not exist on this server" in response.content
    assert not Job.objects.exists()


@pytest.mark.parametrize("door", ["console", "api"])
def test_both_doors_start_a_run_once(client, make_user, ingest, people_search_jsonl, door):
    """The console's button and the API's call are one service: a second start while the
    run is queued sends nothing, on either door."""
    from rest_framework.test import APIClient

    manager = make_user(Role.DATA_MANAGER)
    run = runs.run_create(name="twice", sources=[ingest(people_search_jsonl, "web")])
    if door == "console":
        client.force_login(manager)
        url = reverse("curation:run_start", args=[run.pk])
        codes = [client.post(url).status_code for _ in range(2)]
        assert codes == [302, 302]
    else:
        api = APIClient()
        api.force_authenticate(manager)
        url = reverse("api-curation-run-start", args=[run.pk])
        answers = [api.post(url) for _ in range(2)]
        assert [a.status_code for a in answers] == [202, 200]
        assert answers[1].json()["status"] == RunStatus.QUEUED
    assert Job.objects.filter(task_name="curation.run").count() == 1
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED


def test_run_page_speaks_to_people(manager_client, ingest, people_search_jsonl):
    """Parameters as a table of named rows, drop reasons and site decisions in words, counts
    with the right plural: no code names or JSON blobs in the visible text."""
    import re

    source = ingest(people_search_jsonl, "web")
    run = runs.run_create(name="people", sources=[source])
    runs.run_stages(run, runs.STAGES)
    run.refresh_from_db()
    run.stage_counts = {**run.stage_counts, "near_dedup_clusters": 1,
                        "near_dedup_candidate_pairs": 1, "near_dedup_verified_pairs": 1}
    run.save(update_fields=["stage_counts"])

    html = manager_client.get(reverse("curation:run", args=[run.pk])).content.decode()
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<(select|script)\b.*?</\1>", " ", html, flags=re.S))
    assert '<table class="jobs parameters">' in html
    assert "Duplicate similarity" in text and "Exclusion rate" in text
    assert "phone numbers" in text and "Near-duplicate detection" in text
    assert "1 cluster)" in text and "1 clusters" not in text
    assert "1 candidate pair," in text
    assert "Kept: too few documents to judge by rate" in text or "rate at or below" in text
    assert "personal-information rate above the threshold" in text
    for code in ("too_few_documents", "below_threshold", "pii_rate", "near_duplicate",
                 "pii_site", "blocklisted_site", "rate_threshold", "near_dedup", '{"'):
        assert code not in text, code


def test_run_progress_names_status_and_stage_for_people(manager_client, ingest,
                                                        people_search_jsonl):
    run = runs.run_create(name="p", sources=[ingest(people_search_jsonl, "web")])
    run.stage = "near_dedup"
    run.save(update_fields=["stage"])
    progress = manager_client.get(reverse("curation:run_progress", args=[run.pk])).json()
    assert progress["stage_label"] == "Near dedup" and progress["status_label"] == "Draft"


def test_curation_forms_use_the_console_fields(manager_client, ingest, people_search_jsonl):
    """One look across console and curation: the console's stylesheet, its labelled field
    blocks and row layout, labels in words (not "Pii threshold"), formats by name."""
    ingest(people_search_jsonl, "web")
    html = manager_client.get(reverse("curation:home")).content.decode()
    assert "paddock/console.css" in html
    assert html.count('class="field-row"') >= 3 and '<div class="field' in html
    assert "<p><label" not in html  # as_p is gone
    for label in ("Duplicate similarity", "Site exclusion rate", "Documents a site needs",
                  "Up-sampling weights", "Text field", "JSONL</td>"):
        assert label in html, label
    assert "Pii threshold" not in html and "Pii min documents" not in html


def test_problems_page_names_each_problem_in_words(manager_client, ingest, tmp_path):
    path = tmp_path / "damaged.jsonl"
    path.write_text('{"text": "a fine document with enough words in it"}\n{"text": oops\n')
    source = ingest(path, "damaged")
    html = manager_client.get(reverse("curation:source_problems", args=[source.pk])).content
    assert b"not valid JSON" in html and b"malformed_json" not in html
    assert b"1 record could not be read;" in html


def test_drop_search_finds_text_in_the_store_and_says_when_it_stopped(
    manager_client, ingest, people_search_jsonl, monkeypatch
):
    from paddock.curation.services import drop_search

    source = ingest(people_search_jsonl, "web")
    run = runs.run_create(name="people", sources=[source])
    runs.run_stages(run, runs.STAGES)
    url = reverse("curation:run", args=[run.pk])

    page = manager_client.get(url).content.decode()
    assert "Resident 0-0 lives at Elm Street" in page  # a snippet, read from the store

    # Only in the text (not a url or domain): page 3's residents.
    found = manager_client.get(url, {"q": "resident 3-11"}).content.decode()
    assert "lookup-people.example/page/3" in found
    assert "lookup-people.example/page/4" not in found
    assert "stopped after" not in found

    monkeypatch.setattr(drop_search, "MAX_SHARDS", 0)
    bounded = manager_client.get(url, {"q": "resident 3-11"}).content.decode()
    assert "The text search stopped after 0 shards" in bounded
    assert "lookup-people.example/page/3" not in bounded
