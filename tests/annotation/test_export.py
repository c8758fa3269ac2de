"""Exports reproduce the stored judgements exactly, with margins, bins and a stable split."""

import gzip
import json
import random

import pytest

from paddock.annotation.models import MARGINS, Axis, Judgement, Strength
from paddock.annotation.services.assignment import (
    next_assignment,
    skip_comparison,
    submit_judgement,
)
from paddock.annotation.services.export import (
    export_batch,
    export_path,
    held_out_comparisons,
    pseudonym,
)
from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch, make_comparisons

pytestmark = pytest.mark.django_db


def read(path):
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture
def judged_batch(make_user):
    """40 helpfulness + 20 safety comparisons, overlap 2, every strength, one skip."""
    batch = make_batch(overlap=2, test_split_size=10)
    make_comparisons(batch, 40)
    make_comparisons(batch, 20, axis=Axis.SAFETY)
    rng = random.Random(5)
    people = [make_user(Role.ANNOTATOR) for _ in range(4)]
    skipped = False
    for person in people:
        while (lease := next_assignment(annotator=person, rng=rng)) is not None:
            if not skipped:
                skip_comparison(annotator=person, assignment_id=lease.pk, reason="unclear")
                skipped = True
                continue
            safe = [rng.random() < 0.6, rng.random() < 0.6]
            submit_judgement(
                annotator=person, assignment_id=lease.pk, chosen_side=rng.choice(["left", "right"]),
                strength=rng.choice(Strength.values), left_safe=safe[0], right_safe=safe[1],
            )
    return batch


def test_preference_export_round_trips_every_kept_judgement(judged_batch):
    manifest = export_batch(judged_batch, "preferences")
    records = {r["id"]: r for r in read(export_path(judged_batch, "preferences"))}

    stored = Judgement.objects.filter(skipped=False).select_related(
        "chosen", "rejected", "comparison__conversation")
    excluded = [j for j in stored if j.comparison.axis == "safety"
                and j.chosen_safe is False and j.rejected_safe is True]
    assert excluded, "the fixture should produce some preferred-unsafe safety judgements"
    assert manifest["counts"]["excluded_preferred_unsafe"] == len(excluded)
    assert manifest["counts"]["skipped"] == 1
    assert set(records) == {j.pk for j in stored} - {j.pk for j in excluded}
    for judgement in stored:
        if judgement.pk not in records:
            continue
        record = records[judgement.pk]
        assert record["chosen"] == judgement.chosen.text
        assert record["rejected"] == judgement.rejected.text
        assert record["strength"] == judgement.strength
        assert record["margin_small"] == MARGINS["small"][judgement.strength]
        assert record["margin_large"] == MARGINS["large"][judgement.strength]
        assert record["conversation"][-1]["role"] == "user"
        assert record["annotator"] == pseudonym(judgement.annotator_id)
        assert record["annotator"] != str(judgement.annotator_id)
        if judgement.comparison.axis == "safety":
            assert record["safety_bin"] == judgement.safety_bin.value
        else:
            assert record["safety_bin"] is None


def test_margins_follow_the_llama2_tables():
    assert [MARGINS["small"][s] for s in Strength.values] == [1, 2 / 3, 1 / 3, 0]
    assert [MARGINS["large"][s] for s in Strength.values] == [3, 2, 1, 0]


def test_raw_export_keeps_every_judgement_and_skip(judged_batch):
    manifest = export_batch(judged_batch, "raw")
    records = read(export_path(judged_batch, "raw"))
    assert len(records) == Judgement.objects.count() == manifest["records"]
    skip = [r for r in records if r["skipped"]]
    assert len(skip) == 1 and skip[0]["skip_reason"] == "unclear"
    by_id = {j.pk: j for j in Judgement.objects.all()}
    for record in records:
        judgement = by_id[record["id"]]
        assert record["left_response_id"] == judgement.left_response_id
        assert record["seconds"] == judgement.seconds


def test_held_out_split_is_stable_and_keeps_comparisons_whole(judged_batch):
    held_out = held_out_comparisons(judged_batch)
    assert len(held_out) == 10 and held_out == held_out_comparisons(judged_batch)
    export_batch(judged_batch, "preferences")
    records = read(export_path(judged_batch, "preferences"))
    for record in records:
        assert (record["split"] == "test") == (record["comparison_id"] in held_out)
    first = export_path(judged_batch, "preferences").read_bytes()
    export_batch(judged_batch, "preferences")
    assert export_path(judged_batch, "preferences").read_bytes() == first
