"""The judgement browser's console pages: what they show, escaped; a bad filter says why;
the detail links to its neighbours in the filtered list; the API gives the detail too."""

from __future__ import annotations

import pytest
from django.urls import reverse

from paddock.annotation.models import Judgement
from paddock.annotation.services.assignment import next_assignment, submit_judgement
from paddock.annotation.services.comparisons import (
    ResponseSpec,
    TurnSpec,
    comparison_create,
    conversation_create,
)
from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def judged(make_user):
    """Three comparisons whose texts and comments carry markup, judged twice each."""
    batch = make_batch(overlap=2)
    for i in range(3):
        conversation = conversation_create(
            batch=batch, turns=[TurnSpec("user", f"Prompt {i} {HOSTILE}")], axis="helpfulness",
            risk_category="", origin="imported")
        comparison_create(conversation=conversation,
                          response_a=ResponseSpec(f"A{i} {HOSTILE}", "policy-7"),
                          response_b=ResponseSpec(f"B{i}", "policy-6"),
                          gold_choice="a" if i == 0 else None)
    people = [make_user(Role.ANNOTATOR) for _ in range(2)]
    for person in people:
        while (lease := next_assignment(annotator=person, batch=batch)):
            submit_judgement(annotator=person, assignment_id=lease.pk, chosen_side="left",
                             strength="better", comment=HOSTILE)
    return batch, list(Judgement.objects.filter(comparison__batch=batch).order_by("-id"))


def test_the_list_and_the_detail_escape_user_text(client, make_user, judged):
    batch, judgements = judged
    client.force_login(make_user(Role.DATA_MANAGER))
    listed = client.get(reverse("console:judgements", args=[batch.pk]))
    assert listed.status_code == 200
    assert [row["id"] for row in listed.context["page"].rows] == [j.pk for j in judgements]
    assert "6 judgements" in listed.content.decode()
    page = client.get(reverse("console:judgement", args=[batch.pk, judgements[0].pk]))
    html = page.content.decode()
    assert HOSTILE not in html and "&lt;script&gt;" in html
    assert "policy-7" in html and "policy-6" in html
    assert page.context["j"]["judgements"][0]["comment"] == HOSTILE  # shown, escaped


def test_the_detail_links_to_its_neighbours_in_the_filtered_list(client, make_user, judged):
    batch, judgements = judged
    client.force_login(make_user(Role.DATA_MANAGER))
    mid = judgements[2]
    page = client.get(reverse("console:judgement", args=[batch.pk, mid.pk]),
                      {"strength": "better"})
    base = reverse("console:judgement", args=[batch.pk, 0]).rsplit("0", 1)[0]
    assert page.context["older_url"] == f"{base}{judgements[3].pk}?strength=better"
    assert page.context["newer_url"] == f"{base}{judgements[1].pk}?strength=better"
    assert page.context["list_url"].endswith("?strength=better")


def test_a_bad_filter_is_explained(client, make_user, judged):
    batch, _ = judged
    client.force_login(make_user(Role.DATA_MANAGER))
    page = client.get(reverse("console:judgements", args=[batch.pk]), {"seconds_min": "abc"})
    assert page.status_code == 400
    assert "Time spent at least: &#x27;abc&#x27; is not a number of seconds" in (
        page.content.decode())


def test_a_judgement_of_another_batch_is_not_shown_under_this_one(client, make_user, judged):
    _, judgements = judged
    client.force_login(make_user(Role.DATA_MANAGER))
    other = make_batch()
    assert client.get(reverse("console:judgement", args=[other.pk, judgements[0].pk])
                      ).status_code == 404


def test_annotators_are_kept_out(client, make_user, judged):
    batch, judgements = judged
    client.force_login(make_user(Role.ANNOTATOR))
    for url in (reverse("console:judgements", args=[batch.pk]),
                reverse("console:judgement", args=[batch.pk, judgements[0].pk]),
                reverse("annotation-api:batch-judgements", args=[batch.pk]),
                reverse("annotation-api:judgement", args=[judgements[0].pk])):
        assert client.get(url).status_code == 403, url
    marked = client.post(reverse("annotation-api:judgement-mark", args=[judgements[0].pk]),
                         {"state": "excluded", "reason": "mine"})
    assert marked.status_code == 403 and not judgements[0].marks.exists()


def test_the_api_detail_is_the_consoles(client, make_user, judged):
    batch, judgements = judged
    client.force_login(make_user(Role.DATA_MANAGER))
    on_gold = next(j for j in judgements if j.comparison.is_gold)
    body = client.get(reverse("annotation-api:judgement", args=[on_gold.pk])).json()
    page = client.get(reverse("console:judgement", args=[batch.pk, on_gold.pk]))
    assert body["gold"] == page.context["j"]["gold"] == "A"
    assert [j["id"] for j in body["judgements"]] == [
        j["id"] for j in page.context["j"]["judgements"]]
    assert body["conversation"] == page.context["j"]["conversation"]
