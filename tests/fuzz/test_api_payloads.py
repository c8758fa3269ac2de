"""Arbitrary JSON bodies against the annotation API's writing endpoints.

For every body: never a 500; a refusal (4xx) is a JSON object carrying a message; and a
refused request stores nothing (no Judgement, Conversation, Job or Batch). Each example
runs inside a savepoint that is rolled back, so every one starts from the same state (a
live lease, an open batch, a judgement to continue from).
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from paddock.annotation.models import (
    Axis,
    Batch,
    BatchStatus,
    Conversation,
    Judgement,
    RiskCategory,
    Strength,
)
from paddock.annotation.services.assignment import next_assignment, submit_judgement
from paddock.platform.accounts.models import Role
from paddock.workers.models import Job
from tests.annotation.factories import make_batch, make_comparisons
from tests.fuzz.annotation_strategies import good_text
from tests.fuzz.api_helpers import check_answer, rolled_back
from tests.fuzz.strategies import FUZZ_DB, json_values, mutated, nasty_text, near

# --------------------------------------------------------------------------- bodies

long_text = st.integers(min_value=290, max_value=20_050).map(lambda n: "x" * n)
any_text = st.one_of(nasty_text, nasty_text, long_text, st.just("   "))
flags = st.one_of(st.booleans(), st.none(), st.sampled_from(["true", "no", "1", 2]))


def body_for(valid: st.SearchStrategy[dict], fields: dict[str, st.SearchStrategy]):
    """Mostly a valid body with a change or two, or an object near the serializer's fields,
    sometimes any JSON value at all."""
    return st.one_of(mutated(valid, fields), mutated(valid, fields), mutated(valid, fields),
                     near(fields), json_values())


SUBMIT_FIELDS = {
    "chosen": st.sampled_from(["left", "right", "middle", "", "LEFT"]),
    "strength": st.sampled_from([*Strength.values, "huge", ""]),
    "left_safe": flags,
    "right_safe": flags,
    "comment": any_text,
    "flagged_harmful": flags,
}
SUBMIT = body_for(
    st.fixed_dictionaries(
        {"chosen": st.sampled_from(["left", "right"]),
         "strength": st.sampled_from(Strength.values),
         "left_safe": st.booleans(), "right_safe": st.booleans()},
        optional={"comment": good_text, "flagged_harmful": st.booleans()}),
    SUBMIT_FIELDS,
)
SKIP_FIELDS = {"reason": any_text, "flagged_harmful": flags}
SKIP = body_for(st.fixed_dictionaries({"reason": good_text}), SKIP_FIELDS)
ids = st.one_of(st.integers(), st.integers(min_value=2**62, max_value=2**70), st.none(),
                st.sampled_from(["1", "x", 1.5]))
PROMPT_FIELDS = {
    "message": any_text,
    "axis": st.sampled_from([*Axis.values, "both", ""]),
    "risk_category": st.sampled_from([*RiskCategory.values, "other", ""]),
    "batch": ids,
}
PROMPT = body_for(
    st.one_of(
        st.fixed_dictionaries({"message": good_text}),
        st.fixed_dictionaries({"message": good_text, "axis": st.just("safety"),
                               "risk_category": st.sampled_from(RiskCategory.values)}),
    ),
    PROMPT_FIELDS,
)
CONTINUE = body_for(st.fixed_dictionaries({"message": good_text}), {"message": any_text})
offsets = st.sampled_from(["Z", "+14:00", "-12:00", "", "+05:30"])
dates = st.one_of(
    st.builds(lambda d, tz: d.isoformat() + tz,
              st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
              offsets),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "yesterday",
                     "2026-02-30T00:00:00Z"]),
    nasty_text,
)
counts = st.one_of(st.integers(-5, 10), st.integers(min_value=2**31 - 2, max_value=2**64),
                   st.sampled_from([-(2**63), 1.5, "3"]))


BATCH_FIELDS = {
    "name": any_text,
    "opens_at": dates,
    "closes_at": dates,
    "helpfulness_quota": counts,
    "safety_quota": counts,
    "overlap": counts,
    "gold_share": st.floats(allow_nan=False) | st.sampled_from([0, 1, "0.5", -0.0]),
    "test_split_size": counts,
    "reveal_gold_accuracy": flags,
    "model_versions": json_values(),
    "status": st.sampled_from(BatchStatus.values),
}
BATCH = body_for(
    st.fixed_dictionaries(
        {"name": good_text},
        optional={"overlap": st.integers(1, 5), "gold_share": st.floats(0, 1),
                  "helpfulness_quota": st.integers(0, 100),
                  "model_versions": st.lists(good_text, max_size=2)}),
    BATCH_FIELDS,
)
STATUS = body_for(st.fixed_dictionaries({"status": st.sampled_from(BatchStatus.values)}),
                  {"status": st.sampled_from([*BatchStatus.values, "deleted", "", "OPEN"])})
# Not JSON, or not quite (deep nesting has a test of its own below).
RAW = st.one_of(st.binary(max_size=30), st.sampled_from(
    [b"", b"{", b'{"chosen": NaN}', b'{"chosen": Infinity}', b"\xff\xfe", b"[" * 50 + b"]" * 50,
     b'{"a": 1} x', b'"\\ud800"', b"\xef\xbb\xbf{}"]))

# --------------------------------------------------------------------------- checking


def stored() -> tuple[int, int, int, int]:
    return (Judgement.objects.count(), Conversation.objects.count(), Job.objects.count(),
            Batch.objects.count())


def post(client: APIClient, url: str, body, method: str = "post"):
    """Bodies are encoded here: DRF's renderer would choke on a lone surrogate (a client
    sends it escaped, as json.dumps does); raw bytes go as they are."""
    data = body if isinstance(body, bytes) else json.dumps(body)
    return getattr(client, method)(url, data=data, content_type="application/json")


def fuzz(client: APIClient, url: str, bodies, *, method: str = "post",
         accepted: frozenset[int] = frozenset({200, 201, 202})) -> None:
    @FUZZ_DB
    @given(body=st.one_of(bodies, bodies, bodies, RAW))
    def check(body):
        def one() -> None:
            before = stored()
            response = post(client, url, body, method)
            check_answer(response)
            if response.status_code >= 400:
                assert stored() == before, f"a refused request stored something: {body!r}"
            else:
                assert response.status_code in accepted, response.status_code

        rolled_back(one)

    check()


@pytest.fixture
def world(make_user):
    batch = make_batch(overlap=2)
    make_comparisons(batch, 3)
    make_comparisons(batch, 2, axis=Axis.SAFETY)
    annotator = make_user(Role.ANNOTATOR)
    first = next_assignment(annotator=annotator)
    judgement = submit_judgement(annotator=annotator, assignment_id=first.pk,
                                 chosen_side="left", strength="better",
                                 left_safe=True, right_safe=True).judgement
    lease = next_assignment(annotator=annotator)
    annotator_client, manager_client = APIClient(), APIClient()
    annotator_client.force_authenticate(annotator)
    manager_client.force_authenticate(make_user(Role.DATA_MANAGER))
    return {"batch": batch, "lease": lease, "judgement": judgement,
            "annotator": annotator_client, "manager": manager_client}


# --------------------------------------------------------------------------- tests


def test_submit(world):
    url = reverse("annotation-api:submit", args=[world["lease"].pk])
    fuzz(world["annotator"], url, SUBMIT)


def test_skip(world):
    url = reverse("annotation-api:skip", args=[world["lease"].pk])
    fuzz(world["annotator"], url, SKIP)


def test_write_a_prompt(world):
    fuzz(world["annotator"], reverse("annotation-api:prompts"), PROMPT)


def test_continue(world):
    url = reverse("annotation-api:continue", args=[world["judgement"].pk])
    fuzz(world["annotator"], url, CONTINUE)


def test_batch_create(world):
    fuzz(world["manager"], reverse("annotation-api:batches"),
         BATCH)


def test_batch_update(world):
    url = reverse("annotation-api:batch", args=[world["batch"].pk])
    fuzz(world["manager"], url, BATCH, method="patch")


def test_batch_status(world):
    url = reverse("annotation-api:batch-status", args=[world["batch"].pk])
    fuzz(world["manager"], url, STATUS)


def test_any_authorization_header_is_401_never_500(world):
    url = reverse("annotation-api:next")

    @FUZZ_DB
    # What a WSGI server can hand over: header values are decoded as latin-1.
    @given(scheme=st.sampled_from(["Token", "token", "Bearer", ""]),
           key=st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"),
                       max_size=45))
    def check(scheme, key):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}".strip())
        response = client.post(url)
        check_answer(response)
        assert response.status_code in (401, 403)

    check()


# --------------------------------------------------------------------------- bugs


@pytest.mark.parametrize("value", [["\x00"], ["\ud800"], {"\x00": 1}])
def test_model_versions_with_a_nul_or_lone_surrogate_is_a_400(world, value):
    client = world["manager"]
    client.raise_request_exception = False
    response = post(client, reverse("annotation-api:batches"),
                    {"name": "fuzzed", "model_versions": value})
    assert response.status_code == 400


@pytest.mark.parametrize("dates", [{"closes_at": "2000-01-01T00:00:00Z"},
                                   {"opens_at": "2999-01-01T00:00:00Z"}],
                         ids=["closes-in-the-past", "opens-after-the-default-close"])
def test_a_new_batch_with_only_one_of_its_dates_is_a_400(world, dates):
    client = world["manager"]
    client.raise_request_exception = False
    response = post(client, reverse("annotation-api:batches"), {"name": "one date", **dates})
    assert response.status_code == 400 and "closes_at" in response.json()


@pytest.mark.parametrize("name", ["submit", "skip", "prompts", "continue", "batches",
                                  "batch-status"])
def test_a_deeply_nested_json_body_is_a_400(world, name):
    args = {"submit": [world["lease"].pk], "skip": [world["lease"].pk],
            "continue": [world["judgement"].pk], "batch-status": [world["batch"].pk]}
    client = world["manager" if name.startswith("batch") else "annotator"]
    client.raise_request_exception = False
    response = post(client, reverse(f"annotation-api:{name}", args=args.get(name)), b"[" * 5000)
    assert response.status_code == 400
