"""M2: write-a-prompt and continue had no quota.

300 prompts were accepted in 13.4 s; their author then held 303 open leases (the limit is
1) and the batch grew from 40 to 344 comparisons. Now a message has a length limit
(``PADDOCK_PROMPT_MAX_CHARS``, 400 naming the field), an annotator's requests are
throttled (``PADDOCK_PROMPT_RATE``, 429 with Retry-After and a sentence), and a prompt
waiting for its responses, or not yet judged, counts against ``PADDOCK_MAX_OPEN_LEASES``.
The API and the workspace share one service, so these hold for both.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from paddock.annotation.models import Assignment, Comparison
from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch, make_comparisons

PROMPTS = "annotation-api:prompts"


@pytest.fixture
def batch(db):
    batch = make_batch(overlap=2)
    make_comparisons(batch, 2)
    return batch


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def write(client, message="How do tides work?"):
    return client.post(reverse(PROMPTS), {"message": message}, format="json")


def sample(response) -> dict:
    """Run the generation worker's task here, as tests/annotation/test_api.py does."""
    from paddock.workers.models import Job
    from paddock.workers.tasks.annotation import sample_responses_task
    from paddock.workers.tracking import JOB_HEADER

    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["request"])
    sample_responses_task.apply(kwargs=job.kwargs, task_id=str(job.pk), headers={JOB_HEADER: True})
    job.refresh_from_db()
    return job.result


def judge(client, assignment_id: int) -> dict:
    response = client.post(reverse("annotation-api:submit", args=[assignment_id]),
                           {"chosen": "left", "strength": "better"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.parametrize("limit", [20_000, 40])
def test_a_message_over_the_limit_is_refused_naming_the_field(batch, make_user, settings, limit):
    settings.PADDOCK_PROMPT_MAX_CHARS = limit
    client = client_for(make_user(Role.ANNOTATOR))
    refused = write(client, "x" * (limit + 1))
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "too_long", "field": "message",
        "detail": f"The message is {limit + 1:,} characters long; the most is {limit:,}. "
                  "Nothing was stored.",
    }
    judgement = judge(client, sample(write(client, "x" * limit))["assignment_id"])
    turn = client.post(reverse("annotation-api:continue", args=[judgement["id"]]),
                       {"message": "y" * (limit + 1)}, format="json")
    assert turn.status_code == 400 and turn.json()["field"] == "message"
    assert Comparison.objects.filter(batch=batch, author__isnull=False).count() == 1


def test_the_workspace_form_uses_the_same_limit(batch, make_user, client, settings):
    settings.PADDOCK_PROMPT_MAX_CHARS = 1234
    client.force_login(make_user(Role.ANNOTATOR))
    page = client.get(reverse("annotation:workspace")).content.decode()
    assert page.count('maxlength="1234"') == 2


def test_prompts_are_throttled_per_annotator_at_the_default_rate(batch, make_user, settings):
    settings.PADDOCK_MAX_OPEN_LEASES = 1000  # here only the rate is under test
    author, other = make_user(Role.ANNOTATOR), make_user(Role.ANNOTATOR)
    client = client_for(author)
    answers = [write(client).status_code for _ in range(31)]
    assert answers == [202] * 30 + [429]
    refused = write(client)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 3600
    body = refused.json()
    assert body["error"] == "throttled"
    assert body["detail"].startswith(
        "You have sent 30 prompts for responses in the last hour, the most allowed; "
        "try again in ")
    assert body["detail"].endswith(" minutes. Nothing was stored.")
    # One annotator's quota is theirs alone.
    assert write(client_for(other)).status_code == 202


def test_continuing_counts_towards_the_same_rate(batch, make_user, settings):
    settings.PADDOCK_PROMPT_RATE = "2/minute"
    client = client_for(make_user(Role.ANNOTATOR))
    judgement = judge(client, sample(write(client))["assignment_id"])
    url = reverse("annotation-api:continue", args=[judgement["id"]])
    assert client.post(url, {"message": "And then?"}, format="json").status_code == 202
    third = client.post(url, {"message": "And then?"}, format="json")
    assert third.status_code == 429
    assert "2 prompts for responses in the last minute" in third.json()["detail"]


def test_a_waiting_prompt_counts_against_the_open_lease_limit(batch, make_user, settings):
    settings.PADDOCK_MAX_OPEN_LEASES = 1  # the finding's setting; the rule is the same at 2
    author = make_user(Role.ANNOTATOR)
    client = client_for(author)
    # A comparison from the queue does not stop its annotator writing a prompt; it is
    # handed back (to the pool) so that own prompts and the queue share the limit.
    queue = client.post(reverse("annotation-api:next"))
    assert queue.status_code == 200
    first = write(client)
    assert first.status_code == 202
    handed_back = Assignment.objects.get(pk=queue.json()["assignment_id"])
    assert handed_back.expires_at <= timezone.now()
    waiting = write(client)
    assert waiting.status_code == 409
    assert waiting.json()["error"] == "open_limit"
    assert "judge or skip it before writing another" in waiting.json()["detail"]
    lease = sample(first)["assignment_id"]
    open_leases = Assignment.objects.filter(annotator=author, state="active",
                                            expires_at__gt=timezone.now())
    assert list(open_leases.values_list("pk", flat=True)) == [lease]  # within the limit
    assert write(client).status_code == 409  # ready, but not judged yet
    judgement = judge(client, lease)
    assert write(client).status_code == 202  # room again
    # Continuing is a new prompt too.
    turn = client.post(reverse("annotation-api:continue", args=[judgement["id"]]),
                       {"message": "More?"}, format="json")
    assert turn.status_code == 409


def test_three_hundred_prompts_leave_one_open_lease(batch, make_user, settings):
    """The finding, replayed: with the limit at 1 the author holds one lease of their own
    and the batch grows by one comparison, however many prompts are sent."""
    settings.PADDOCK_MAX_OPEN_LEASES = 1  # the finding's setting; the rule is the same at 2
    author = make_user(Role.ANNOTATOR)
    client = client_for(author)
    accepted = [response for response in (write(client) for _ in range(300))
                if response.status_code == 202]
    assert len(accepted) == 1
    for response in accepted:
        sample(response)
    assert Assignment.objects.filter(annotator=author, state="active").count() == 1
    assert Comparison.objects.filter(batch=batch).count() == 3


def test_one_annotators_flood_does_not_queue_ahead_of_another(batch, make_user, settings):
    """The finding's other half: another annotator's prompt waited 51.8 s behind 300.
    Requests wait in one first-in-first-out queue, and each annotator has at most
    PADDOCK_MAX_OPEN_LEASES of them in it, so a prompt waits behind at most that many per
    other annotator: the queue is fair without a scheduler of its own."""
    settings.PADDOCK_MAX_OPEN_LEASES = 1  # the finding's setting; the rule is the same at 2
    from paddock.workers.models import Job

    flooders = [make_user(Role.ANNOTATOR) for _ in range(3)]
    for flooder in flooders:
        for _ in range(50):
            write(client_for(flooder))
    mine = write(client_for(make_user(Role.ANNOTATOR)))
    assert mine.status_code == 202
    ahead = Job.objects.filter(task_name="annotation.sample_responses", state="queued",
                               created_at__lte=Job.objects.get(pk=mine.json()["request"])
                               .created_at).exclude(pk=mine.json()["request"])
    assert ahead.count() == len(flooders)  # one each, not 150


@pytest.mark.parametrize("raw", ["lots", "30", "0/hour", "30/fortnight", "-1/day"])
def test_a_rate_that_is_not_one_stops_start_up_naming_the_variable(raw):
    from paddock.platform.config import ConfigurationError, env_rate

    with pytest.raises(ConfigurationError, match=r"PADDOCK_PROMPT_RATE=.* is not a rate"):
        env_rate("PADDOCK_PROMPT_RATE", "30/hour", env={"PADDOCK_PROMPT_RATE": raw})
    assert env_rate("PADDOCK_PROMPT_RATE", "30/hour", env={}) == "30/hour"
    assert env_rate("PADDOCK_PROMPT_RATE", "30/hour",
                    env={"PADDOCK_PROMPT_RATE": " 5/Minute "}) == "5/minute"


def test_managers_see_each_annotators_generation_use(batch, make_user):
    from paddock.annotation.services.authoring import GenerationUse, generation_use

    busy, unlucky = make_user(Role.ANNOTATOR), make_user(Role.ANNOTATOR)
    busy_client = client_for(busy)
    judge(busy_client, sample(write(busy_client))["assignment_id"])
    assert write(busy_client).status_code == 202  # waiting for a worker
    failing = write(client_for(unlucky))
    batch.status = "closed"
    batch.save(update_fields=["status"])
    sample(failing)  # the batch closed while it waited: failed, nothing stored
    use = {found.annotator: found for found in generation_use()}
    assert set(use) == {busy.username, unlucky.username}
    assert use[busy.username] == GenerationUse(
        annotator=busy.username, sent=2, answered=1, failed=0, waiting=1,
        seconds=use[busy.username].seconds)
    assert (use[unlucky.username].sent, use[unlucky.username].failed) == (1, 1)
    assert list(use) == [busy.username, unlucky.username]  # most requests first
    assert use[busy.username].seconds >= 0


@pytest.mark.django_db(transaction=True)
def test_prompts_sent_from_ten_tabs_at_once_leave_one_waiting(make_user, settings):
    """The annotator's row is locked while the room is counted, so requests at the same
    instant cannot all find the one place free (the job rows are made without sending a
    message: no worker is part of this test)."""
    settings.PADDOCK_MAX_OPEN_LEASES = 1  # one place; the lock matters the same at 2
    from django.db import connection, transaction

    from paddock.annotation.services.authoring import (
        SAMPLING_TASK,
        OpenLimitReached,
        sampling_room,
    )
    from paddock.workers.models import Job
    from tests.annotation.test_assignment import _in_threads
    from tests.support.skips import skip_or_fail

    if connection.vendor != "postgresql":
        skip_or_fail("concurrent requests are tested on PostgreSQL (row locks)")
    person = make_user(Role.ANNOTATOR)

    def send(_index: int) -> bool:
        try:
            with transaction.atomic():
                sampling_room(person)
                Job.objects.create(task_name=SAMPLING_TASK, queue="generation",
                                   created_by=person)
            return True
        except OpenLimitReached:
            return False

    assert sum(_in_threads(10, send)) == 1
    assert Job.objects.filter(created_by=person).count() == 1
