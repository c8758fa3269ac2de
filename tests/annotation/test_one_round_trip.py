"""One request per judgement: submit and skip answer with the next lease, a client holds one
comparison ahead (``holding``), releases it when leaving, and the rules are those of the
two-request path (overlap, never the same comparison twice, gold rate, late submits)."""

import random
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from paddock.annotation.models import (
    Assignment,
    Axis,
    BatchStatus,
    Comparison,
    Judgement,
    Strength,
)
from paddock.annotation.services.assignment import (
    InvalidJudgement,
    LeaseLost,
    next_assignment,
    release_lease,
    skip_comparison,
    submit_judgement,
)
from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch, make_comparisons
from tests.annotation.test_assignment import _in_threads, expire
from tests.support.skips import skip_or_fail

pytestmark = pytest.mark.django_db


def answer(annotator, lease, *, holding=(), side="left", skip=False, **extra):
    if skip:
        return skip_comparison(annotator=annotator, assignment_id=lease.pk, reason="unsure",
                               then_next=True, holding=holding)
    return submit_judgement(annotator=annotator, assignment_id=lease.pk, chosen_side=side,
                            strength=Strength.BETTER, left_safe=True, right_safe=False,
                            then_next=True, holding=holding, **extra)


def test_next_hands_out_the_oldest_lease_the_client_does_not_hold(make_user):
    batch = make_batch(overlap=1)
    make_comparisons(batch, 5)
    person = make_user(Role.ANNOTATOR)
    first = next_assignment(annotator=person)
    assert next_assignment(annotator=person).pk == first.pk  # a script asking again
    ahead = next_assignment(annotator=person, holding=[first.pk])
    assert ahead.pk != first.pk and ahead.comparison_id != first.comparison_id
    # A reloaded page holds nothing: it gets the oldest, then the one held ahead.
    assert next_assignment(annotator=person).pk == first.pk
    assert next_assignment(annotator=person, holding=[first.pk]).pk == ahead.pk
    # Both held and the limit (2) reached: nothing more, and no third lease.
    assert next_assignment(annotator=person, holding=[first.pk, ahead.pk]) is None
    assert Assignment.objects.filter(annotator=person).count() == 2
    with override_settings(PADDOCK_MAX_OPEN_LEASES=3):
        third = next_assignment(annotator=person, holding=[first.pk, ahead.pk])
    assert third.pk not in (first.pk, ahead.pk)


def test_submit_with_next_stores_the_judgement_and_leases_the_next(make_user):
    batch = make_batch(overlap=1)
    make_comparisons(batch, 3)
    person = make_user(Role.ANNOTATOR)
    shown = next_assignment(annotator=person)
    held = next_assignment(annotator=person, holding=[shown.pk])

    result = answer(person, shown, holding=[held.pk])

    assert result.created and result.asked_next
    stored = Judgement.objects.get()
    assert stored.pk == result.judgement.pk and stored.assignment_id == shown.pk
    fresh = result.next_lease
    assert fresh.pk not in (shown.pk, held.pk)
    assert fresh.comparison_id not in (shown.comparison_id, held.comparison_id)
    # Without holding, a script gets the lease it already has before a new one.
    assert answer(person, held).next_lease.pk == fresh.pk
    # The last comparison: nothing left after it.
    last = answer(person, fresh)
    assert last.created and last.next_lease is None
    assert Comparison.objects.filter(judgement_count=1).count() == 3


def test_submitting_again_with_next_stores_nothing_more(make_user):
    batch = make_batch(overlap=1)
    make_comparisons(batch, 3)
    person = make_user(Role.ANNOTATOR)
    shown = next_assignment(annotator=person)
    first = answer(person, shown)
    again = answer(person, shown)
    assert (first.created, again.created) == (True, False)
    assert again.judgement.pk == first.judgement.pk
    assert again.next_lease.pk == first.next_lease.pk  # the lease it got is still its oldest
    assert Judgement.objects.count() == 1


def test_a_skip_with_next_frees_the_comparison_and_leases_another(make_user):
    batch = make_batch(overlap=1)
    make_comparisons(batch, 2)
    person, other = make_user(Role.ANNOTATOR), make_user(Role.ANNOTATOR)
    shown = next_assignment(annotator=person)
    result = answer(person, shown, skip=True)
    assert result.judgement.skipped and result.next_lease.comparison_id != shown.comparison_id
    assert next_assignment(annotator=other).comparison_id == shown.comparison_id


def test_a_refused_submit_leases_nothing(make_user):
    """The late-submit rule holds on the one-round-trip path: refused, nothing stored, and
    the transaction's next lease rolled back with it."""
    batch = make_batch(overlap=1)
    make_comparisons(batch, 3)
    person, other = make_user(Role.ANNOTATOR), make_user(Role.ANNOTATOR)
    late = next_assignment(annotator=person)
    expire(late)
    assert next_assignment(annotator=other).comparison_id == late.comparison_id
    with pytest.raises(LeaseLost):
        answer(person, late)
    assert not Judgement.objects.exists()
    assert Assignment.objects.filter(annotator=person).count() == 1
    assert Comparison.objects.get(pk=late.comparison_id).judgement_count == 0
    with pytest.raises(InvalidJudgement, match="at most 20"):
        next_assignment(annotator=person, holding=range(21))


def test_seconds_count_from_the_previous_answer_for_a_lease_held_ahead(make_user):
    batch = make_batch(overlap=1)
    make_comparisons(batch, 3)
    person = make_user(Role.ANNOTATOR)
    shown = next_assignment(annotator=person)
    held = next_assignment(annotator=person, holding=[shown.pk])
    now = timezone.now()
    # Leased ten minutes ago, both: the first took 9 minutes, the one held ahead was on
    # screen from the first one's answer on.
    Assignment.objects.filter(pk__in=[shown.pk, held.pk]).update(
        leased_at=now - timedelta(minutes=10))
    first = answer(person, shown, holding=[held.pk]).judgement
    Judgement.objects.filter(pk=first.pk).update(created_at=now - timedelta(seconds=30))
    second = answer(person, held).judgement
    assert 590 < first.seconds < 700
    assert 29 < second.seconds < 90


def test_release_gives_the_comparison_back_at_once(make_user):
    batch = make_batch(overlap=1)
    make_comparisons(batch, 2)
    person, other = make_user(Role.ANNOTATOR), make_user(Role.ANNOTATOR)
    shown = next_assignment(annotator=person)
    ahead = next_assignment(annotator=person, holding=[shown.pk])
    assert next_assignment(annotator=other) is None
    with pytest.raises(Assignment.DoesNotExist):
        release_lease(annotator=other, assignment_id=ahead.pk)  # not theirs
    assert release_lease(annotator=person, assignment_id=ahead.pk) is True
    with pytest.raises(Assignment.DoesNotExist):
        release_lease(annotator=person, assignment_id=ahead.pk)  # gone
    assert next_assignment(annotator=other).comparison_id == ahead.comparison_id
    # Never shown to the annotator who held it ahead: it may come back to them too.
    submit_judgement(annotator=person, assignment_id=shown.pk, chosen_side="left",
                     strength=Strength.BETTER)
    released_again = next_assignment(annotator=person, holding=[])
    assert released_again is None  # the other one holds it now (overlap 1)
    Assignment.objects.filter(annotator=other).delete()
    assert next_assignment(annotator=person).comparison_id == ahead.comparison_id
    # An answered lease is not released.
    assert release_lease(annotator=person, assignment_id=shown.pk) is False


def run_team(path: str, seed: int, *, people: int = 4, rounds: int = 60) -> dict:
    """Annotators answering a batch in a seeded random order, one way or the other; the
    outcome's invariants and shape."""
    rng = random.Random(seed)
    from paddock.platform.accounts.models import User

    batch = make_batch(overlap=2, gold_share=0.25)
    make_comparisons(batch, 30)
    make_comparisons(batch, 10, gold=True)
    team = [User.objects.create(username=f"{path}-{seed}-{i}", role=Role.ANNOTATOR)
            for i in range(people)]
    shown: dict[int, Assignment | None] = {}
    held: dict[int, Assignment | None] = {}
    for _ in range(rounds):
        person = rng.choice(team)
        if path == "two_requests":
            lease = next_assignment(annotator=person)
            if lease is None:
                continue
            submit_judgement(annotator=person, assignment_id=lease.pk, chosen_side="left",
                             strength=Strength.BETTER, left_safe=True, right_safe=True)
            continue
        if person.pk not in shown:
            shown[person.pk] = next_assignment(annotator=person)
            ahead = [shown[person.pk].pk] if shown[person.pk] else []
            held[person.pk] = next_assignment(annotator=person, holding=ahead)
        lease = shown[person.pk]
        if lease is None:
            continue
        ahead = held[person.pk]
        result = answer(person, lease, holding=[ahead.pk] if ahead else [])
        shown[person.pk], held[person.pk] = ahead, result.next_lease
    judged = Counter(Judgement.objects.filter(batch=batch).values_list("comparison_id",
                                                                       flat=True))
    pairs = Judgement.objects.filter(batch=batch).values_list("comparison_id", "annotator_id")
    batch.status = BatchStatus.CLOSED  # the next run has a batch of its own
    batch.save()
    return {
        "judgements": sum(judged.values()),
        "most_per_comparison": max(judged.values()),
        "pairs_unique": len(set(pairs)) == len(pairs),
        "gold_share": Judgement.objects.filter(batch=batch, comparison__is_gold=True).count()
        / max(sum(judged.values()), 1),
        "counts_match": all(c.judgement_count == judged.get(c.pk, 0)
                            for c in Comparison.objects.filter(batch=batch)),
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_both_paths_keep_the_same_rules(seed):
    two = run_team("two_requests", seed)
    one = run_team("one_round_trip", seed)
    for outcome in (two, one):
        assert outcome["most_per_comparison"] <= 2  # overlap
        assert outcome["pairs_unique"]  # nobody judged a comparison twice
        assert outcome["counts_match"]
        assert outcome["judgements"] == 60  # 40 comparisons x 2 > 60 rounds: never ran dry
    # Gold mixed in at about the batch's rate either way.
    assert abs(one["gold_share"] - two["gold_share"]) < 0.2


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_api_answers_a_submit_with_the_next_comparison(make_user):
    batch = make_batch(overlap=1)
    make_comparisons(batch, 2, axis=Axis.SAFETY)
    person = make_user(Role.ANNOTATOR)
    client = api(person)
    first = client.post(reverse("annotation-api:next")).json()
    ahead = client.post(reverse("annotation-api:next"),
                        {"holding": [first["assignment_id"]]}, format="json").json()
    assert ahead["assignment_id"] != first["assignment_id"]
    body = {"chosen": "right", "strength": "slightly_better", "left_safe": True,
            "right_safe": False, "next": True, "holding": [ahead["assignment_id"]]}
    url = reverse("annotation-api:submit", args=[first["assignment_id"]])
    response = client.post(url, body, format="json")
    assert response.status_code == 201
    answer_body = response.json()
    assert answer_body["judgement"]["chosen"] == "right"
    assert answer_body["judgement"]["safety_bin"] is not None
    # Both comparisons are this annotator's now: nothing else, and the reason says so.
    assert answer_body["next"] is None
    assert answer_body["queue_empty"]["reason"] == "done_by_you"
    with override_settings(PADDOCK_MAX_OPEN_LEASES=1):  # holding all it may: that is why
        held = client.post(reverse("annotation-api:next"),
                           {"holding": [ahead["assignment_id"]]}, format="json")
    assert held.status_code == 204 and held["Paddock-Queue-Empty"] == "holding_limit"
    # Without next, the answer is the judgement itself, as before.
    plain = client.post(reverse("annotation-api:submit", args=[ahead["assignment_id"]]),
                        {"chosen": "left", "strength": "better", "left_safe": True,
                         "right_safe": True}, format="json")
    assert plain.status_code == 201 and plain.json()["chosen"] == "left"
    assert set(plain.json()) == set(answer_body["judgement"])


def test_the_api_skip_and_release_with_next(make_user):
    batch = make_batch(overlap=1)
    make_comparisons(batch, 3)
    person, other = make_user(Role.ANNOTATOR), make_user(Role.ANNOTATOR)
    client = api(person)
    first = client.post(reverse("annotation-api:next")).json()
    skipped = client.post(reverse("annotation-api:skip", args=[first["assignment_id"]]),
                          {"reason": "not my field", "next": True}, format="json").json()
    assert skipped["judgement"]["skipped"] is True
    following = skipped["next"]
    assert following["comparison_id"] != first["comparison_id"]
    release = reverse("annotation-api:release", args=[following["assignment_id"]])
    assert api(other).post(release).status_code == 404
    assert client.post(release).status_code == 204
    assert client.post(release).status_code == 404  # gone: nothing more to release
    assert not Assignment.objects.filter(pk=following["assignment_id"]).exists()
    too_many = client.post(reverse("annotation-api:next"), {"holding": list(range(21))},
                           format="json")
    assert too_many.status_code == 400 and "holding" in too_many.json()


@pytest.mark.django_db(transaction=True)
def test_a_double_clicked_submit_with_next_stores_one_judgement_and_one_next(make_user):
    if connection.vendor != "postgresql":
        skip_or_fail("concurrent submission is tested on PostgreSQL")
    batch = make_batch(overlap=1)
    make_comparisons(batch, 10)
    person = make_user(Role.ANNOTATOR)
    shown = next_assignment(annotator=person)
    held = next_assignment(annotator=person, holding=[shown.pk])

    results = _in_threads(8, lambda i: answer(person, shown, holding=[held.pk]))

    assert sum(result.created for result in results) == 1
    assert len({result.next_lease.pk for result in results}) == 1
    assert Judgement.objects.count() == 1
    assert Assignment.objects.filter(annotator=person, state="active").count() == 2


@pytest.mark.django_db(transaction=True)
def test_fifty_annotators_answering_with_next_never_exceed_overlap(make_user):
    if connection.vendor != "postgresql":
        skip_or_fail("concurrent assignment is tested on PostgreSQL (SKIP LOCKED)")
    batch = make_batch(overlap=3)
    make_comparisons(batch, 40)
    people = [make_user(Role.ANNOTATOR) for _ in range(50)]
    firsts = _in_threads(50, lambda i: next_assignment(annotator=people[i]))

    results = _in_threads(50, lambda i: answer(people[i], firsts[i]))

    leases = [r.next_lease for r in results if r.next_lease is not None]
    live = Counter(lease.comparison_id for lease in leases)
    judged = Counter(Judgement.objects.values_list("comparison_id", flat=True))
    assert all(live[c] + judged[c] <= 3 for c in set(live) | set(judged))
    assert all(lease.comparison_id != first.comparison_id
               for lease, first in zip((r.next_lease for r in results), firsts, strict=True)
               if lease is not None)
