"""The annotation API against every role, annotator isolation, tokens, the schema."""

from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from paddock.annotation.models import Assignment, Axis, BatchStatus, Judgement
from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch, make_comparisons

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_user):
    batch = make_batch(overlap=2)
    make_comparisons(batch, 3)
    make_comparisons(batch, 1, axis=Axis.SAFETY)
    return {
        "batch": batch,
        "annotator": make_user(Role.ANNOTATOR),
        "other": make_user(Role.ANNOTATOR),
        "manager": make_user(Role.DATA_MANAGER),
        "admin": make_user(Role.ADMIN),
    }


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


ENDPOINTS = [
    # (method, url name, needs batch pk, body) -> expected per role
    ("post", "annotation-api:next", False, None,
     {"anonymous": 401, "annotator": 200, "manager": 403, "admin": 200}),
    ("get", "annotation-api:my-judgements", False, None,
     {"anonymous": 401, "annotator": 200, "manager": 403, "admin": 200}),
    ("get", "annotation-api:batches", False, None,
     {"anonymous": 401, "annotator": 403, "manager": 200, "admin": 200}),
    ("get", "annotation-api:batch", True, None,
     {"anonymous": 401, "annotator": 403, "manager": 200, "admin": 200}),
    ("get", "annotation-api:batch-stats", True, None,
     {"anonymous": 401, "annotator": 403, "manager": 200, "admin": 200}),
    ("get", "annotation-api:batch-export", True, None,
     {"anonymous": 401, "annotator": 403, "manager": 404, "admin": 404}),
    ("get", "annotation-api:batch-judgements", True, None,
     {"anonymous": 401, "annotator": 403, "manager": 200, "admin": 200}),
    ("get", "annotation-api:progress", False, None,
     {"anonymous": 401, "annotator": 200, "manager": 403, "admin": 200}),
    ("post", "annotation-api:prompts", False, {"message": "How do tides work?"},
     {"anonymous": 401, "annotator": 202, "manager": 403, "admin": 202}),
]

# Endpoints that need an object of the caller's (an assignment, a judgement, an upload)
# have their role checks in tests of their own, named here.
ROLES_TESTED_ELSEWHERE = {
    "annotation-api:submit": "test_only_annotators_submit_or_skip",
    "annotation-api:skip": "test_only_annotators_submit_or_skip",
    "annotation-api:release": "test_only_annotators_submit_or_skip",
    "annotation-api:continue": "test_only_the_author_of_a_judgement_continues_from_it",
    "annotation-api:prompt-status":
        "test_a_prompt_waits_for_a_worker_and_is_only_its_authors_to_see",
    "annotation-api:batch-status": "test_batch_status_is_for_managers",
    "annotation-api:batch-import": "tests/annotation/test_importing.py",
    "annotation-api:batches": "test_only_managers_create_batches_or_start_exports",
    "annotation-api:batch-pipeline": "tests/platform/test_access_matrix.py",
    "annotation-api:judgement": "tests/platform/test_access_matrix.py",
    "annotation-api:judgement-mark": "tests/platform/test_access_matrix.py",
}


def test_every_api_url_is_classified_for_roles():
    """A new endpoint must say who may call it: in ENDPOINTS or ROLES_TESTED_ELSEWHERE."""
    from paddock.annotation.api.urls import app_name, urlpatterns

    names = {f"{app_name}:{pattern.name}" for pattern in urlpatterns}
    classified = {entry[1] for entry in ENDPOINTS} | set(ROLES_TESTED_ELSEWHERE)
    assert names - classified == set(), "unclassified API URLs: add them to the role matrix"
    assert set(ROLES_TESTED_ELSEWHERE) <= names


@pytest.mark.parametrize("role", ["anonymous", "annotator", "manager", "admin"])
@pytest.mark.parametrize(("method", "name", "needs_batch", "body", "expected"), ENDPOINTS,
                         ids=[e[1] for e in ENDPOINTS])
def test_every_endpoint_answers_each_role_as_expected(world, role, method, name, needs_batch,
                                                      body, expected):
    user = None if role == "anonymous" else world[role]
    url = reverse(name, kwargs={"pk": world["batch"].pk} if needs_batch else {})
    response = getattr(client_for(user), method)(url, body, format="json")
    assert response.status_code == expected[role], response.content


def test_annotator_flow_next_submit_twice_and_mine(world):
    client = client_for(world["annotator"])
    lease = client.post(reverse("annotation-api:next")).json()
    assert set(lease) >= {"assignment_id", "conversation", "left", "right", "expires_at"}
    assert "policy-v1" not in str(lease) and "response_a" not in str(lease)  # blinded
    again = client.post(reverse("annotation-api:next")).json()
    assert again["assignment_id"] == lease["assignment_id"]

    submit_url = reverse("annotation-api:submit", args=[lease["assignment_id"]])
    body = {"chosen": "right", "strength": "better"}
    if lease["axis"] == "safety":
        body |= {"left_safe": True, "right_safe": True}
    first = client.post(submit_url, body, format="json")
    repeat = client.post(submit_url, body, format="json")
    assert (first.status_code, repeat.status_code) == (201, 200)
    assert first.json()["id"] == repeat.json()["id"] and first.json()["chosen"] == "right"
    mine = client.get(reverse("annotation-api:my-judgements")).json()
    assert [j["id"] for j in mine] == [first.json()["id"]]
    assert client_for(world["other"]).get(reverse("annotation-api:my-judgements")).json() == []


def test_another_annotators_assignment_is_not_found(world):
    lease = client_for(world["annotator"]).post(reverse("annotation-api:next")).json()
    other = client_for(world["other"])
    for name, body in (("annotation-api:submit", {"chosen": "left", "strength": "better"}),
                       ("annotation-api:skip", {"reason": "nope"})):
        response = other.post(reverse(name, args=[lease["assignment_id"]]), body, format="json")
        assert response.status_code == 404
    assert not Judgement.objects.exists()


def test_bad_payloads_get_field_errors_and_store_nothing(world):
    client = client_for(world["annotator"])
    lease = client.post(reverse("annotation-api:next")).json()
    url = reverse("annotation-api:submit", args=[lease["assignment_id"]])
    response = client.post(url, {"chosen": "middle", "strength": "huge"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"chosen", "strength"}
    assert not Judgement.objects.exists()


def test_safety_submit_without_labels_is_refused_with_a_reason(world, make_user):
    batch = make_batch()
    make_comparisons(batch, 1, axis=Axis.SAFETY)
    person = make_user(Role.ANNOTATOR)
    client = client_for(person)
    lease = client.post(reverse("annotation-api:next")).json()
    while lease["axis"] != "safety":  # skip past helpfulness comparisons of the fixture batch
        client.post(reverse("annotation-api:skip", args=[lease["assignment_id"]]),
                    {"reason": "testing"}, format="json")
        lease = client.post(reverse("annotation-api:next")).json()
    response = client.post(reverse("annotation-api:submit", args=[lease["assignment_id"]]),
                           {"chosen": "left", "strength": "better"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid" and "safe/unsafe" in response.json()["detail"]


def test_tokens_work_for_scripts(world):
    token = Token.objects.create(user=world["manager"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(reverse("annotation-api:batches")).status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert client.get(reverse("annotation-api:batches")).status_code == 401


def test_managers_create_batches_with_validation(world):
    client = client_for(world["manager"])
    ok = client.post(reverse("annotation-api:batches"),
                     {"name": "week 2", "overlap": 3, "gold_share": 0.05}, format="json")
    assert ok.status_code == 201 and ok.json()["overlap"] == 3
    bad = client.post(reverse("annotation-api:batches"),
                      {"name": "week 3", "gold_share": 1.5,
                       "opens_at": "2026-12-01T00:00:00Z", "closes_at": "2026-11-01T00:00:00Z"},
                      format="json")
    assert bad.status_code == 400 and "closes_at" in bad.json()


def test_export_is_a_job_not_a_request(world, django_capture_on_commit_callbacks):
    client = client_for(world["manager"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("annotation-api:batch-export", args=[world["batch"].pk]),
                               {"kind": "raw"}, format="json")
    assert response.status_code == 202 and len(callbacks) == 1
    job = client.get(reverse("api-job", args=[response.json()["job"]])).json()
    assert job["task_name"] == "annotation.export_batch" and job["state"] == "queued"


def test_openapi_schema_is_served(world):
    response = client_for(world["manager"]).get(reverse("api-schema"))
    assert response.status_code == 200
    assert b"/api/v1/annotation/next" in response.content


def test_stats_report_agreement_gold_and_strengths(world, make_user):
    from paddock.annotation.services.assignment import next_assignment, submit_judgement

    batch = make_batch(overlap=3)
    make_comparisons(batch, 4)
    make_comparisons(batch, 2, gold=True)
    people = [make_user(Role.ANNOTATOR) for _ in range(3)]
    for person in people:
        while (lease := next_assignment(annotator=person, batch=batch)) is not None:
            # Everyone picks response A: perfect agreement, and right on every gold item.
            side = "left" if lease.a_on_left else "right"
            submit_judgement(annotator=person, assignment_id=lease.pk, chosen_side=side,
                             strength="better")
    stats = client_for(world["manager"]).get(
        reverse("annotation-api:batch-stats", args=[batch.pk])).json()
    assert stats["judgements"] == 18 and stats["comparisons"]["complete"] == 6
    quality = stats["quality"]
    assert quality["agreement"]["choice"]["percent_agreement"] == 1.0
    assert quality["gold"]["accuracy"] == 1.0
    assert stats["strengths"]["better"] == 18
    assert all(not key.isdigit() for key in quality["gold"]["per_rater"])  # pseudonyms


@pytest.mark.parametrize("role", ["anonymous", "manager"])
def test_only_annotators_submit_or_skip(world, role):
    lease = client_for(world["annotator"]).post(reverse("annotation-api:next")).json()
    client = client_for(None if role == "anonymous" else world[role])
    for name, body in (("annotation-api:submit", {"chosen": "left", "strength": "better"}),
                       ("annotation-api:skip", {"reason": "x"}),
                       ("annotation-api:release", None)):
        response = client.post(reverse(name, args=[lease["assignment_id"]]), body, format="json")
        assert response.status_code == (401 if role == "anonymous" else 403)
    assert not Judgement.objects.exists()
    assert Assignment.objects.get(pk=lease["assignment_id"]).expires_at > timezone.now()


def test_only_managers_create_batches_or_start_exports(world):
    annotator = client_for(world["annotator"])
    assert annotator.post(reverse("annotation-api:batches"), {"name": "x"},
                          format="json").status_code == 403
    assert annotator.post(reverse("annotation-api:batch-export", args=[world["batch"].pk]),
                          {"kind": "raw"}, format="json").status_code == 403


def test_batch_status_moves_one_step_at_a_time(world):
    from paddock.annotation.models import Batch

    client = client_for(world["manager"])
    batch = Batch.objects.create(name="lifecycle")
    url = reverse("annotation-api:batch-status", args=[batch.pk])
    for status in ("scheduled", "open", "closed", "exported"):
        response = client.post(url, {"status": status}, format="json")
        assert response.status_code == 200 and response.json()["status"] == status
    back = client.post(url, {"status": "open"}, format="json")
    assert back.status_code == 409 and "final" in back.json()["detail"]
    patched = client.patch(reverse("annotation-api:batch", args=[batch.pk]),
                           {"status": "draft"}, format="json")
    assert patched.status_code == 200
    assert Batch.objects.get(pk=batch.pk).status == "exported"  # status is read-only there


@pytest.mark.parametrize("kind", ["helpfulness", "safety", "skip"])
def test_hot_path_judgement_payload_matches_the_serializer(make_user, kind, settings):
    """Submit answers with a hand-built payload; it must stay what the schema documents."""
    from paddock.annotation.api.serializers import JudgementSerializer
    from paddock.annotation.selectors import judgement_payload
    from paddock.annotation.services import assignment as service

    settings.TIME_ZONE = "Europe/Paris"  # offsets other than Z are formatted alike too
    batch = make_batch()
    make_comparisons(batch, 1, axis=Axis.SAFETY if kind == "safety" else Axis.HELPFULNESS)
    annotator = make_user(Role.ANNOTATOR)
    lease = service.next_assignment(annotator=annotator)
    if kind == "skip":
        result = service.skip_comparison(annotator=annotator, assignment_id=lease.pk,
                                         reason="prompt is unreadable")
    else:
        result = service.submit_judgement(
            annotator=annotator, assignment_id=lease.pk, chosen_side="right",
            strength="slightly_better", left_safe=True, right_safe=False, comment="ok",
        )
    stored = Judgement.objects.get(pk=result.judgement.pk)
    for judgement in (result.judgement, stored):
        assert judgement_payload(judgement) == JudgementSerializer(stored).data


def test_batch_status_is_for_managers(world):
    url = reverse("annotation-api:batch-status", args=[world["batch"].pk])
    assert client_for(None).post(url, {"status": "closed"}, format="json").status_code == 401
    response = client_for(world["annotator"]).post(url, {"status": "closed"}, format="json")
    assert response.status_code == 403


def sampled(client, response):
    """What the page does after a 202: the generation worker's task runs (here in this
    process, through Celery's apply with the job's id and header, so its Job row moves as
    on a worker), then the page reads the request's status."""
    from paddock.workers.models import Job
    from paddock.workers.tasks.annotation import sample_responses_task
    from paddock.workers.tracking import JOB_HEADER

    assert response.status_code == 202, response.content
    accepted = response.json()
    job = Job.objects.get(pk=accepted["request"])
    assert (job.queue, job.state) == ("generation", "queued")
    sample_responses_task.apply(kwargs=job.kwargs, task_id=str(job.pk),
                                headers={JOB_HEADER: True})
    status = client.get(accepted["status_url"])
    assert status.status_code == 200, status.content
    return status.json()


def own_judgement(client, message="How do I brew tea?"):
    ready = sampled(client, client.post(reverse("annotation-api:prompts"),
                                        {"message": message}, format="json"))
    assert ready["state"] == "succeeded", ready
    lease = ready["assignment"]
    submitted = client.post(reverse("annotation-api:submit", args=[lease["assignment_id"]]),
                            {"chosen": "right", "strength": "better"}, format="json")
    assert submitted.status_code == 201
    return lease, submitted.json()


def test_write_a_prompt_then_continue_from_the_chosen_response(world):
    client = client_for(world["annotator"])
    lease, judgement = own_judgement(client)
    assert lease["own_prompt"] is True and lease["batch"] == world["batch"].name
    assert lease["conversation"] == [{"role": "user", "content": "How do I brew tea?"}]
    assert "no model was run" in lease["left"] and lease["left"] != lease["right"]

    response = client.post(reverse("annotation-api:continue", args=[judgement["id"]]),
                           {"message": "And green tea?"}, format="json")
    follow_up = sampled(client, response)["assignment"]
    assert follow_up["own_prompt"] is True
    assert follow_up["conversation"] == [
        {"role": "user", "content": "How do I brew tea?"},
        {"role": "assistant", "content": lease["right"]},
        {"role": "user", "content": "And green tea?"},
    ]
    # The queue's comparisons are not the author's own.
    queued = client_for(world["other"]).post(reverse("annotation-api:next")).json()
    assert queued["own_prompt"] is False


def test_safety_prompts_need_a_risk_category(world):
    client = client_for(world["annotator"])
    url = reverse("annotation-api:prompts")
    missing = client.post(url, {"message": "How to pick a lock?", "axis": "safety"},
                          format="json")
    assert missing.status_code == 400 and "risk category" in missing.json()["detail"]
    ok = sampled(client, client.post(url, {"message": "How to pick a lock?", "axis": "safety",
                                           "risk_category": "illicit_criminal"}, format="json"))
    lease = ok["assignment"]
    assert (lease["axis"], lease["risk_category"]) == ("safety", "illicit_criminal")
    blank = client.post(url, {"message": "   "}, format="json")
    assert blank.status_code == 400


def test_prompts_need_an_open_batch(world, make_user):
    from paddock.annotation.models import Batch, BatchStatus

    Batch.objects.update(status=BatchStatus.CLOSED)
    response = client_for(world["annotator"]).post(reverse("annotation-api:prompts"),
                                                   {"message": "Hi"}, format="json")
    assert response.status_code == 409 and response.json()["error"] == "batch_not_open"


def test_prompts_use_the_configured_generator(world, settings):
    settings.PADDOCK_RESPONSE_GENERATOR = "tests.annotation.test_api.EchoGenerator"
    client = client_for(world["annotator"])
    lease = sampled(client, client.post(reverse("annotation-api:prompts"), {"message": "ping"},
                                        format="json"))["assignment"]
    assert {lease["left"], lease["right"]} == {"echo 0: ping", "echo 1: ping"}


class EchoGenerator:
    def generate(self, turns, variants, *, seed):
        from paddock.annotation.services.comparisons import ResponseSpec

        return [ResponseSpec(f"echo {i}: {turns[-1].content}", v.model_version)
                for i, v in enumerate(variants)]


def test_a_prompt_waits_for_a_worker_and_is_only_its_authors_to_see(world):
    client = client_for(world["annotator"])
    accepted = client.post(reverse("annotation-api:prompts"), {"message": "Hi"}, format="json")
    assert accepted.status_code == 202
    waiting = client.get(accepted.json()["status_url"]).json()
    assert (waiting["state"], waiting["assignment"]) == ("queued", None)
    # Nothing is stored until a worker has sampled the responses.
    assert not Assignment.objects.filter(annotator=world["annotator"]).exists()
    url = accepted.json()["status_url"]
    assert client_for(None).get(url).status_code == 401
    assert client_for(world["manager"]).get(url).status_code == 403
    assert client_for(world["other"]).get(url).status_code == 404


def test_a_batch_closed_while_the_prompt_waited_fails_the_request_with_the_reason(world):
    from paddock.annotation.models import BatchStatus

    client = client_for(world["annotator"])
    accepted = client.post(reverse("annotation-api:prompts"), {"message": "Hi"}, format="json")
    world["batch"].status = BatchStatus.CLOSED
    world["batch"].save(update_fields=["status"])
    failed = sampled(client, accepted)
    assert failed["state"] == "failed" and "is not open" in failed["detail"]
    assert failed["assignment"] is None


def test_a_redelivered_sampling_task_leases_one_comparison(world):
    from paddock.workers.models import Job
    from paddock.workers.tasks.annotation import sample_responses_task

    client = client_for(world["annotator"])
    first = sampled(client, client.post(reverse("annotation-api:prompts"), {"message": "Hi"},
                                        format="json"))
    job = Job.objects.get(pk=first["request"])
    again = sample_responses_task.apply(kwargs=job.kwargs).get()  # a second delivery
    assert again == {"assignment_id": first["assignment"]["assignment_id"]}
    assert Assignment.objects.filter(annotator=world["annotator"]).count() == 1


@pytest.mark.parametrize("caller", ["anonymous", "manager", "other"])
def test_only_the_author_of_a_judgement_continues_from_it(world, caller):
    _, judgement = own_judgement(client_for(world["annotator"]))
    client = client_for(None if caller == "anonymous" else world[caller])
    response = client.post(reverse("annotation-api:continue", args=[judgement["id"]]),
                           {"message": "more"}, format="json")
    assert response.status_code == {"anonymous": 401, "manager": 403, "other": 404}[caller]


def test_a_skip_cannot_be_continued(world):
    client = client_for(world["annotator"])
    lease = sampled(client, client.post(reverse("annotation-api:prompts"), {"message": "Hi"},
                                        format="json"))["assignment"]
    skipped = client.post(reverse("annotation-api:skip", args=[lease["assignment_id"]]),
                          {"reason": "typo"}, format="json").json()
    response = client.post(reverse("annotation-api:continue", args=[skipped["id"]]),
                           {"message": "more"}, format="json")
    assert response.status_code == 400 and "skipped" in response.json()["detail"]


def test_progress_counts_today_this_batch_and_gold_only_where_revealed(world, make_user):
    from paddock.annotation.services.assignment import (
        next_assignment,
        skip_comparison,
        submit_judgement,
    )

    revealed = make_batch(reveal_gold_accuracy=True,
                          closes_at=world["batch"].closes_at - timedelta(days=1))
    make_comparisons(revealed, 2, gold=True)
    make_comparisons(revealed, 1)
    person = make_user(Role.ANNOTATOR)
    answers = []
    while (lease := next_assignment(annotator=person, batch=revealed)) is not None:
        comparison = lease.comparison
        if not comparison.is_gold:
            skip_comparison(annotator=person, assignment_id=lease.pk, reason="unsure")
            continue
        # Right on the first gold comparison, wrong on the second.
        right_side = "left" if lease.a_on_left else "right"
        wrong_side = "right" if right_side == "left" else "left"
        side = right_side if not answers else wrong_side
        answers.append(side == right_side)
        submit_judgement(annotator=person, assignment_id=lease.pk, chosen_side=side,
                         strength="better")
    lease = next_assignment(annotator=person, batch=world["batch"])
    submit_judgement(annotator=person, assignment_id=lease.pk, chosen_side="left",
                     strength="better", left_safe=True, right_safe=True)

    progress = client_for(person).get(reverse("annotation-api:progress")).json()
    assert progress["today"] == {"judged": 3, "skipped": 1}
    first, second = progress["batches"]  # the batch closing first comes first
    assert first["name"] == revealed.name and second["name"] == world["batch"].name
    assert (first["judged"], first["skipped"], first["comparisons"], first["complete"]) == (
        2, 1, 3, 2)
    assert first["gold_revealed"] is True
    assert first["gold"] == {"judged": 2, "correct": 1, "accuracy": 0.5}
    assert (second["judged"], second["gold_revealed"], second["gold"]) == (1, False, None)


def test_submit_after_a_skip_answers_409_with_what_happened(world):
    client = client_for(world["annotator"])
    lease = client.post(reverse("annotation-api:next")).json()
    skip = client.post(reverse("annotation-api:skip", args=[lease["assignment_id"]]),
                       {"reason": "I can't judge this topic"}, format="json")
    assert skip.status_code == 201
    body = {"chosen": "left", "strength": "better", "left_safe": True, "right_safe": True}
    response = client.post(reverse("annotation-api:submit", args=[lease["assignment_id"]]),
                           body, format="json")
    assert response.status_code == 409
    assert response.json()["error"] == "already_skipped"
    assert "skipped this comparison" in response.json()["detail"]
    assert "not stored" in response.json()["detail"]
    assert list(Judgement.objects.values_list("skipped", flat=True)) == [True]


def empty_reason(client):
    response = client.post(reverse("annotation-api:next"))
    assert response.status_code == 204 and response.content == b""
    return response["Paddock-Queue-Empty"], unquote(response["Paddock-Queue-Empty-Detail"])


def judge_all(client):
    while (response := client.post(reverse("annotation-api:next"))).status_code == 200:
        lease = response.json()
        body = {"chosen": "left", "strength": "better", "left_safe": True, "right_safe": True}
        url = reverse("annotation-api:submit", args=[lease["assignment_id"]])
        assert client.post(url, body, format="json").status_code == 201


def test_an_empty_queue_says_why(world, make_user):
    batch = world["batch"]  # overlap 2, four comparisons
    first, second = client_for(world["annotator"]), client_for(world["other"])
    third = client_for(make_user(Role.ANNOTATOR))

    judge_all(first)
    reason, detail = empty_reason(first)
    assert reason == "done_by_you"
    assert f"share of {batch.name} (4 comparisons judged or skipped)" in detail

    with override_settings(PADDOCK_MAX_OPEN_LEASES=4):  # the second holds all four
        leases = []
        for _ in range(4):
            leases.append(second.post(reverse("annotation-api:next"), {"holding": leases},
                                      format="json").json()["assignment_id"])
    assert len(set(leases)) == 4
    reason, detail = empty_reason(third)
    assert reason == "assigned_to_others"
    assert "The 4 comparisons left" in detail and "with other annotators" in detail

    judge_all(second)
    reason, detail = empty_reason(third)
    assert (reason, detail.startswith("Every comparison in")) == ("quota_met", True)

    batch.status = BatchStatus.CLOSED
    batch.closes_at = timezone.now() - timedelta(minutes=1)
    batch.save()
    reason, detail = empty_reason(third)
    assert reason == "batch_closed" and f"Batch {batch.name} closed on" in detail


def test_an_empty_queue_without_batches_or_comparisons_says_so(make_user):
    client = client_for(make_user(Role.ANNOTATOR))
    assert empty_reason(client)[0] == "no_open_batch"
    batch = make_batch(name="week 9")
    reason, detail = empty_reason(client)
    assert reason == "nothing_assigned" and "No comparisons have been added to week 9" in detail
    make_comparisons(batch, 1)
    assert client.post(reverse("annotation-api:next")).status_code == 200


def test_a_skip_after_a_judgement_answers_409_and_the_judgement_stands(world):
    client = client_for(world["annotator"])
    lease = client.post(reverse("annotation-api:next")).json()
    body = {"chosen": "left", "strength": "better", "left_safe": True, "right_safe": True}
    url = reverse("annotation-api:submit", args=[lease["assignment_id"]])
    assert client.post(url, body, format="json").status_code == 201
    skip_url = reverse("annotation-api:skip", args=[lease["assignment_id"]])
    response = client.post(skip_url, {"reason": "unclear"}, format="json")
    assert response.status_code == 409 and response.json()["error"] == "already_judged"
    assert "skip was not stored" in response.json()["detail"]
    assert list(Judgement.objects.values_list("skipped", flat=True)) == [False]
