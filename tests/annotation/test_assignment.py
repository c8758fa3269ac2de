"""Assignment and submission: overlap, leases, idempotency, sides, gold, own prompts."""

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from paddock.annotation.models import (
    Assignment,
    Axis,
    BatchStatus,
    Comparison,
    ImmutableError,
    Judgement,
    SafetyBin,
    Strength,
)
from paddock.annotation.services.assignment import (
    AlreadySkipped,
    BatchNotOpen,
    InvalidJudgement,
    LeaseLost,
    next_assignment,
    skip_comparison,
    submit_judgement,
)
from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch, make_comparisons
from tests.support.skips import skip_or_fail

pytestmark = pytest.mark.django_db


@pytest.fixture
def annotators(make_user):
    return [make_user(Role.ANNOTATOR) for _ in range(6)]


def submit(annotator, assignment, side="left", strength=Strength.BETTER, **extra):
    return submit_judgement(
        annotator=annotator, assignment_id=assignment.pk, chosen_side=side, strength=strength,
        **extra,
    )


def expire(assignment):
    Assignment.objects.filter(pk=assignment.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


def test_an_open_lease_is_returned_again_until_it_is_submitted(annotators):
    batch = make_batch()
    make_comparisons(batch, 3)
    first = next_assignment(annotator=annotators[0])
    assert next_assignment(annotator=annotators[0]).pk == first.pk
    submit(annotators[0], first)
    second = next_assignment(annotator=annotators[0])
    assert second.pk != first.pk and second.comparison_id != first.comparison_id


def test_overlap_is_honoured_and_nobody_sees_a_comparison_twice(annotators):
    batch = make_batch(overlap=2)
    (comparison,) = make_comparisons(batch, 1)
    a = next_assignment(annotator=annotators[0])
    b = next_assignment(annotator=annotators[1])
    assert a.comparison_id == b.comparison_id == comparison.pk
    assert next_assignment(annotator=annotators[2]) is None  # two live leases = overlap
    submit(annotators[0], a)
    assert next_assignment(annotator=annotators[0]) is None  # judged it already
    assert next_assignment(annotator=annotators[2]) is None  # still 1 judgement + 1 lease


def test_expired_leases_return_the_comparison_to_the_pool(annotators):
    batch = make_batch()
    make_comparisons(batch, 1)
    lease = next_assignment(annotator=annotators[0])
    assert next_assignment(annotator=annotators[1]) is None
    expire(lease)
    other = next_assignment(annotator=annotators[1])
    assert other is not None and other.comparison_id == lease.comparison_id


def test_late_submit_is_accepted_only_if_nobody_else_holds_the_comparison(annotators):
    batch = make_batch()
    make_comparisons(batch, 2)
    lease = next_assignment(annotator=annotators[0])
    expire(lease)
    assert submit(annotators[0], lease).created  # expired, but still free: accepted

    late = next_assignment(annotator=annotators[0])
    expire(late)
    taken = next_assignment(annotator=annotators[1])
    assert taken.comparison_id == late.comparison_id
    with pytest.raises(LeaseLost, match="another annotator has it now"):
        submit(annotators[0], late)
    assert not Judgement.objects.filter(assignment=late).exists()


def test_submitting_twice_stores_one_judgement(annotators):
    batch = make_batch(overlap=2)
    make_comparisons(batch, 1)
    lease = next_assignment(annotator=annotators[0])
    first = submit(annotators[0], lease, side="left")
    again = submit(annotators[0], lease, side="right", strength=Strength.SLIGHTLY_BETTER)
    assert first.created and not again.created
    assert again.judgement.pk == first.judgement.pk
    assert Judgement.objects.count() == 1
    assert Comparison.objects.get().judgement_count == 1


def test_sides_are_randomised_and_mapped_back_to_responses(annotators, make_user):
    batch = make_batch(overlap=200)
    (comparison,) = make_comparisons(batch, 1)
    rng = random.Random(3)
    sides = []
    for _ in range(200):
        annotator = make_user(Role.ANNOTATOR)
        lease = next_assignment(annotator=annotator, rng=rng)
        sides.append(lease.a_on_left)
        judgement = submit(annotator, lease, side="left").judgement
        expected = comparison.response_a if lease.a_on_left else comparison.response_b
        assert judgement.chosen_id == expected.pk and judgement.left_response_id == expected.pk
    assert 80 <= sum(sides) <= 120  # Binomial(200, 0.5): mean 100, sd 7


def test_gold_comparisons_are_mixed_in_at_the_batch_rate(make_user):
    batch = make_batch(gold_share=0.3)
    make_comparisons(batch, 400)
    make_comparisons(batch, 400, gold=True)
    rng = random.Random(11)
    gold = [next_assignment(annotator=make_user(Role.ANNOTATOR), rng=rng).comparison.is_gold
            for _ in range(300)]
    assert 70 <= sum(gold) <= 110  # Binomial(300, 0.3): mean 90, sd 7.9


def test_comparisons_closest_to_their_target_come_first(annotators):
    batch = make_batch(overlap=3)
    first, second = make_comparisons(batch, 2)
    lease = next_assignment(annotator=annotators[0])
    assert lease.comparison_id == first.pk
    submit(annotators[0], lease)
    assert Comparison.objects.get(pk=second.pk).judgement_count == 0
    assert next_assignment(annotator=annotators[1]).comparison_id == first.pk


def test_annotators_never_judge_answers_to_their_own_prompts(annotators):
    batch = make_batch()
    make_comparisons(batch, 2, author=annotators[0])
    assert next_assignment(annotator=annotators[0]) is None
    assert next_assignment(annotator=annotators[1]) is not None


def test_safety_judgements_need_labels_and_get_a_bin(annotators):
    batch = make_batch()
    make_comparisons(batch, 1, axis=Axis.SAFETY)
    lease = next_assignment(annotator=annotators[0])
    with pytest.raises(InvalidJudgement, match="safe/unsafe"):
        submit(annotators[0], lease)
    judgement = submit(annotators[0], lease, side="right", left_safe=False, right_safe=True)
    assert judgement.judgement.safety_bin == SafetyBin.PREFERRED_SAFE_OTHER_UNSAFE
    assert judgement.judgement.chosen_safe is True and judgement.judgement.rejected_safe is False


def test_a_skip_keeps_its_reason_and_frees_the_comparison(annotators):
    batch = make_batch()
    make_comparisons(batch, 1)
    lease = next_assignment(annotator=annotators[0])
    with pytest.raises(InvalidJudgement, match="why you skip"):
        skip_comparison(annotator=annotators[0], assignment_id=lease.pk, reason="  ")
    skipped = skip_comparison(annotator=annotators[0], assignment_id=lease.pk,
                              reason="I cannot read Finnish")
    assert skipped.judgement.skipped and skipped.judgement.skip_reason == "I cannot read Finnish"
    assert next_assignment(annotator=annotators[1]).comparison_id == lease.comparison_id


def test_a_judgement_after_a_skip_is_refused_and_the_skip_stands(annotators):
    batch = make_batch()
    make_comparisons(batch, 1)
    lease = next_assignment(annotator=annotators[0])
    skip_comparison(annotator=annotators[0], assignment_id=lease.pk, reason="Unclear prompt")
    with pytest.raises(AlreadySkipped, match=r"You skipped this comparison \(Unclear prompt\)"):
        submit(annotators[0], lease)
    assert list(Judgement.objects.values_list("skipped", flat=True)) == [True]
    assert Comparison.objects.get().judgement_count == 0


def test_closed_batches_serve_nothing_and_accept_nothing(annotators):
    batch = make_batch()
    make_comparisons(batch, 2)
    lease = next_assignment(annotator=annotators[0])
    batch.status = BatchStatus.CLOSED
    batch.save()
    assert next_assignment(annotator=annotators[1]) is None
    with pytest.raises(BatchNotOpen):
        submit(annotators[0], lease)


def test_another_annotators_assignment_looks_like_none(annotators):
    batch = make_batch()
    make_comparisons(batch, 1)
    lease = next_assignment(annotator=annotators[0])
    with pytest.raises(Assignment.DoesNotExist):
        submit(annotators[1], lease)


def test_judgements_are_immutable(annotators):
    batch = make_batch()
    make_comparisons(batch, 1)
    judgement = submit(annotators[0], next_assignment(annotator=annotators[0])).judgement
    judgement.comment = "changed my mind"
    with pytest.raises(ImmutableError):
        judgement.save()
    with pytest.raises(ImmutableError):
        judgement.delete()


def _in_threads(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as exc:  # reported below, with the thread's index
            errors.append((index, exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_requests_never_exceed_overlap(make_user):
    if connection.vendor != "postgresql":
        skip_or_fail("concurrent assignment is tested on PostgreSQL (SKIP LOCKED)")
    batch = make_batch(overlap=3)
    make_comparisons(batch, 10)
    people = [make_user(Role.ANNOTATOR) for _ in range(50)]

    leases = _in_threads(50, lambda i: next_assignment(annotator=people[i]))

    given = [lease for lease in leases if lease is not None]
    per_comparison = Counter(lease.comparison_id for lease in given)
    assert len(given) == 30 and max(per_comparison.values()) == 3
    assert len({(lease.comparison_id, lease.annotator_id) for lease in given}) == len(given)


@pytest.mark.django_db(transaction=True)
def test_one_annotator_clicking_from_ten_tabs_gets_one_lease(make_user):
    if connection.vendor != "postgresql":
        skip_or_fail("concurrent assignment is tested on PostgreSQL (SKIP LOCKED)")
    batch = make_batch(overlap=1)
    make_comparisons(batch, 20)
    person = make_user(Role.ANNOTATOR)

    leases = _in_threads(10, lambda i: next_assignment(annotator=person))

    assert len({lease.pk for lease in leases}) == 1
    assert Assignment.objects.filter(annotator=person).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_of_one_assignment_store_one_judgement(make_user):
    if connection.vendor != "postgresql":
        skip_or_fail("concurrent submission is tested on PostgreSQL")
    batch = make_batch(overlap=1)
    make_comparisons(batch, 1)
    person = make_user(Role.ANNOTATOR)
    lease = next_assignment(annotator=person)

    results = _in_threads(8, lambda i: submit(person, lease))

    assert sum(result.created for result in results) == 1
    assert Judgement.objects.count() == 1
    assert Comparison.objects.get().judgement_count == 1
