"""Exports reproduce the stored judgements exactly, with margins, bins and a stable split."""

import gzip
import json
import random

import pytest

from paddock.annotation.models import (
    MARGINS,
    Axis,
    Comparison,
    ConversationOrigin,
    Judgement,
    Strength,
)
from paddock.annotation.services.assignment import (
    next_assignment,
    skip_comparison,
    submit_judgement,
)
from paddock.annotation.services.comparisons import (
    ResponseSpec,
    TurnSpec,
    comparison_create,
    conversation_create,
)
from paddock.annotation.services.export import (
    HELD_OUT_FRACTION,
    REASKED,
    export_batch,
    export_path,
    held_out_comparisons,
    pseudonym,
)
from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch, make_comparisons

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_artifacts(settings, tmp_path):
    """Exports are named by batch id, and ids come again after a test's rollback: each
    test gets its own folder, so no test reads another's export or manifest."""
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"


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


def judge_all(batch, make_user, *, seed=1):
    """One annotator judges every comparison of the batch (overlap 1)."""
    rng = random.Random(seed)
    person = make_user(Role.ANNOTATOR)
    while (lease := next_assignment(annotator=person, batch=batch, rng=rng)) is not None:
        submit_judgement(annotator=person, assignment_id=lease.pk,
                         chosen_side=rng.choice(["left", "right"]),
                         strength=rng.choice(Strength.values))


def test_a_small_first_batch_holds_out_a_fraction_and_trains_on_the_rest(make_user):
    """The test split is ceil(fraction * comparisons), at most test_split_size: a first
    batch smaller than the default 1,000 still has most of it to train on."""
    batch = make_batch()  # test_split_size 1000, the default
    comparisons = make_comparisons(batch, 30)
    judge_all(batch, make_user)
    assert HELD_OUT_FRACTION == 0.2
    held_out = held_out_comparisons(batch)
    assert len(held_out) == 6  # ceil(0.2 * 30), not all 30
    assert held_out == held_out_comparisons(batch)
    assert len(held_out_comparisons(batch, 0.5)) == 15
    assert len(held_out_comparisons(batch, 0.5, 4)) == 4
    assert held_out_comparisons(batch, 0.5) >= held_out  # hash order: a bigger split only adds

    manifest = export_batch(batch, "preferences")
    assert manifest["counts"]["train"] == 24 and manifest["counts"]["test"] == 6
    assert manifest["held_out"] == {"fraction": 0.2, "max": None, "comparisons": 6}
    # The pipeline's fraction sticks: a later export that names none keeps the split.
    export_batch(batch, "preferences", held_out_fraction=0.5)
    again = export_batch(batch, "raw")
    assert again["held_out"]["fraction"] == 0.5 and again["counts"]["test"] == 15
    assert len(held_out_comparisons(batch)) == 15

    small = make_batch(test_split_size=3)
    make_comparisons(small, 30)
    assert len(held_out_comparisons(small)) == 3  # test_split_size stays the cap

    # A prompt the pipeline asked again was training data before: never held out.
    for comparison in comparisons:
        conversation = comparison.conversation
        conversation.metadata = {REASKED: True}
        conversation.save(update_fields=["metadata"])
    fresh = make_batch()
    make_comparisons(fresh, 10)
    for comparison in comparisons[:5]:
        Comparison.objects.filter(pk=comparison.pk).update(batch=fresh)
    assert len(held_out_comparisons(fresh, 0.2)) == 2  # ceil(0.2 * 10 fresh ones)
    assert held_out_comparisons(fresh, 0.2).isdisjoint(c.pk for c in comparisons)


def test_judgements_on_stand_in_text_are_never_training_data(make_user):
    batch = make_batch(test_split_size=0)
    make_comparisons(batch, 6)
    for i in range(4):
        conversation = conversation_create(
            batch=batch, turns=[TurnSpec("user", f"Written prompt {i}")], axis=Axis.HELPFULNESS,
            origin=ConversationOrigin.ANNOTATOR)
        comparison_create(
            conversation=conversation,
            response_a=ResponseSpec(f"[stand-in response {i}] A", "stand-in:newest"),
            response_b=ResponseSpec(f"Real answer {i}", "policy-0002") if i % 2
            else ResponseSpec(f"[stand-in response {i}] B", "stand-in:newest"),
        )
    judge_all(batch, make_user)

    manifest = export_batch(batch, "preferences")
    records = read(export_path(batch, "preferences"))
    assert manifest["counts"]["left_out_stand_in"] == 4
    assert len(records) == manifest["records"] == 6
    assert not any(r["chosen_model"].startswith("stand-in")
                   or r["rejected_model"].startswith("stand-in") for r in records)
    raw = export_batch(batch, "raw")
    assert raw["records"] == Judgement.objects.filter(comparison__batch=batch).count() == 10


def test_two_exports_of_one_batch_at_once_both_finish_whole(judged_batch, monkeypatch):
    """Two clicks can queue two exports of one batch. They used to share one temporary
    file (``{name}.tmp``): the second truncated the first's and renamed it away, so the
    first failed at its rename. Now each writes its own, and the file is whole."""
    from paddock.annotation.services import export

    records = export._records
    nested: list[dict] = []

    def records_with_a_second_export_midway(*args, **kwargs):
        for number, line in enumerate(records(*args, **kwargs)):
            if number == 3 and not nested:
                nested.append({})  # before the call: the nested export must not recurse
                nested[0] = export_batch(judged_batch, "preferences")
            yield line

    monkeypatch.setattr(export, "_records", records_with_a_second_export_midway)
    first = export_batch(judged_batch, "preferences")
    assert first == nested[0]
    assert len(read(export_path(judged_batch, "preferences"))) == first["records"]
    leftovers = [p.name for p in export_path(judged_batch, "preferences").parent.iterdir()
                 if p.name.endswith(".tmp")]
    assert leftovers == []
