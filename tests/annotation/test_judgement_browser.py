"""The judgement browser's service: every filter against a reference computed in Python
from the stored rows, keyset pages that never repeat or skip a row, agreement counts kept
by the submit service, marks with their history, and the export leaving excluded
judgements out (and counting them)."""

from __future__ import annotations

import contextlib
import gzip
import importlib
import json
import random
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from paddock.annotation.models import (
    Axis,
    Comparison,
    Judgement,
    JudgementMark,
    MarkState,
    Strength,
)
from paddock.annotation.services import judgement_browser as browser
from paddock.annotation.services.assignment import (
    next_assignment,
    skip_comparison,
    submit_judgement,
)
from paddock.annotation.services.export import export_batch, export_path
from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch, make_comparisons

pytestmark = pytest.mark.django_db


@contextlib.contextmanager
def clock(moment: list):
    with mock.patch("django.utils.timezone.now", side_effect=lambda: moment[0]):
        yield


def judge_everything(batch, annotators, rng) -> None:
    """Each annotator takes what the batch serves them, through the real services, with
    time spent between 2 and 90 seconds; some skip, some flag."""
    moment = [timezone.now()]
    with clock(moment):
        for annotator in annotators:
            while (lease := next_assignment(annotator=annotator, batch=batch, rng=rng)):
                moment[0] += timedelta(seconds=rng.choice([2, 5, 12, 30, 61, 90]))
                if rng.random() < 0.12:
                    skip_comparison(annotator=annotator, assignment_id=lease.pk,
                                    reason="Both answers are cut off",
                                    flagged_harmful=rng.random() < 0.5)
                    continue
                safety = lease.comparison.axis == Axis.SAFETY
                submit_judgement(
                    annotator=annotator, assignment_id=lease.pk,
                    chosen_side=rng.choice(["left", "right"]),
                    strength=rng.choice(Strength.values),
                    left_safe=rng.random() < 0.6 if safety else None,
                    right_safe=rng.random() < 0.6 if safety else None,
                    comment=rng.choice(["", "close call", "<b>bold</b> claim"]),
                    flagged_harmful=rng.random() < 0.1,
                )
                moment[0] += timedelta(seconds=1)


@pytest.fixture
def world(make_user):
    """A batch of 14 comparisons (both axes, two gold) judged by four annotators with
    overlap 3, a second batch beside it, and a few marks."""
    rng = random.Random(7)
    batch = make_batch(overlap=3)
    make_comparisons(batch, 8)
    make_comparisons(batch, 4, axis=Axis.SAFETY)
    make_comparisons(batch, 2, gold=True)
    annotators = [make_user(Role.ANNOTATOR) for _ in range(4)]
    judge_everything(batch, annotators, rng)
    make_comparisons(batch, 2)  # judged by one annotator only: "single"
    judge_everything(batch, annotators[:1], random.Random(3))
    other = make_batch(overlap=1)
    make_comparisons(other, 3)
    judge_everything(other, annotators[:1], rng)
    manager = make_user(Role.DATA_MANAGER)
    ids = list(Judgement.objects.filter(comparison__batch=batch).order_by("id")
               .values_list("id", flat=True))
    for judgement_id in ids[:3]:
        browser.judgement_mark(judgement=judgement_id, state="review", reason="odd", by=manager)
    for judgement_id in ids[3:5]:
        browser.judgement_mark(judgement=judgement_id, state="excluded", reason="spam",
                               by=manager)
    browser.judgement_mark(judgement=ids[0], state="none", reason="fine after all",
                           by=manager)
    return {"batch": batch, "other": other, "annotators": annotators, "manager": manager}


def current_mark(judgement: Judgement) -> str | None:
    mark = judgement.marks.filter(current=True).first()
    return None if mark is None or mark.state == MarkState.NONE else mark.state


def reference(batch, keep) -> list[int]:
    """Ids newest first of the batch's judgements for which ``keep(judgement)`` holds,
    computed from the rows (agreement recounted from the judgements themselves)."""
    found = []
    for judgement in Judgement.objects.filter(comparison__batch=batch).select_related(
            "comparison", "annotator"):
        found.append(judgement)
    return sorted((j.pk for j in found if keep(j)), reverse=True)


def agreement(judgement: Judgement) -> str | None:
    chosen = [j.chosen_id for j in judgement.comparison.judgements.filter(skipped=False)]
    if not chosen:
        return None
    if len(chosen) == 1:
        return "single"
    return "unanimous" if len(set(chosen)) == 1 else "split"


def gold(judgement: Judgement) -> str:
    if not judgement.comparison.is_gold:
        return "not_gold"
    if judgement.skipped:
        return "skipped gold"
    return "correct" if judgement.chosen_id == judgement.comparison.gold_choice_id else "wrong"


PREDICATES = {
    ("axis", "safety"): lambda j: j.comparison.axis == "safety",
    ("axis", "helpfulness"): lambda j: j.comparison.axis == "helpfulness",
    ("strength", "better"): lambda j: j.strength == "better",
    ("strength", "negligibly_better"): lambda j: j.strength == "negligibly_better",
    ("agreement", "unanimous"): lambda j: agreement(j) == "unanimous",
    ("agreement", "split"): lambda j: agreement(j) == "split",
    ("agreement", "single"): lambda j: agreement(j) == "single",
    ("gold", "correct"): lambda j: gold(j) == "correct",
    ("gold", "wrong"): lambda j: gold(j) == "wrong",
    ("gold", "not_gold"): lambda j: gold(j) == "not_gold",
    ("flagged", "yes"): lambda j: j.flagged_harmful,
    ("flagged", "no"): lambda j: not j.flagged_harmful,
    ("skipped", "yes"): lambda j: j.skipped,
    ("skipped", "no"): lambda j: not j.skipped,
    ("review", "review"): lambda j: current_mark(j) == "review",
    ("review", "excluded"): lambda j: current_mark(j) == "excluded",
    ("review", "none"): lambda j: current_mark(j) is None,
    ("seconds_min", "30"): lambda j: j.seconds >= 30,
    ("seconds_max", "12"): lambda j: j.seconds <= 12,
}


def every_page(batch, filters, size=4) -> list[int]:
    """Walk the pages forward by cursor, then back again, checking both ways agree."""
    pages, after = [], None
    while True:
        page = browser.judgement_page(batch, filters, after=after, size=size)
        pages.append([row["id"] for row in page.rows])
        if page.next_after is None:
            break
        assert len(page.rows) == size
        after = page.next_after
    seen = [i for ids in pages for i in ids]
    back, before = [pages[-1]], pages[-1][0] if pages[-1] else None
    while before is not None:
        page = browser.judgement_page(batch, filters, before=before, size=size)
        if not page.rows:
            break
        back.insert(0, [row["id"] for row in page.rows])
        before = page.previous_before
    assert [i for ids in back for i in ids] == seen
    return seen


@pytest.mark.parametrize(("name", "value"), list(PREDICATES), ids=lambda v: str(v))
def test_each_filter_matches_the_reference(world, name, value):
    batch = world["batch"]
    filters = browser.filters_from({name: value})
    expected = reference(batch, PREDICATES[(name, value)])
    assert expected, "the world has no judgement for this filter"
    assert every_page(batch, filters) == expected
    page = browser.judgement_page(batch, filters)
    assert (page.total, page.total_capped) == (len(expected), False)


def test_filter_by_annotator_and_combinations(world):
    batch, someone = world["batch"], world["annotators"][1]
    cases = [
        ({"annotator": someone.username}, lambda j: j.annotator_id == someone.pk),
        ({"annotator": someone.username, "axis": "safety"},
         lambda j: j.annotator_id == someone.pk and j.comparison.axis == "safety"),
        ({"agreement": "split", "skipped": "no", "seconds_min": "5", "seconds_max": "61"},
         lambda j: agreement(j) == "split" and not j.skipped and 5 <= j.seconds <= 61),
        ({"review": "none", "strength": "better", "axis": "helpfulness"},
         lambda j: current_mark(j) is None and j.strength == "better"
         and j.comparison.axis == "helpfulness"),
    ]
    for params, keep in cases:
        expected = reference(batch, keep)
        assert every_page(batch, browser.filters_from(params), size=3) == expected, params


def test_no_filter_lists_the_whole_batch_newest_first_and_nothing_else(world):
    batch = world["batch"]
    everything = every_page(batch, browser.Filters(), size=5)
    assert everything == reference(batch, lambda j: True)
    assert len(everything) == len(set(everything)) > 30
    others = set(Judgement.objects.filter(comparison__batch=world["other"])
                 .values_list("id", flat=True))
    assert not others & set(everything)


def test_the_total_is_capped(world, monkeypatch):
    monkeypatch.setattr(browser, "COUNT_CAP", 5)
    page = browser.judgement_page(world["batch"], browser.Filters())
    assert (page.total, page.total_capped) == (5, True)
    assert page.total_label == "more than 5 judgements"
    one = browser.judgement_page(world["batch"], browser.filters_from({"review": "excluded"}))
    assert one.total_label == "2 judgements"


@pytest.mark.parametrize(("params", "says"), [
    ({"strength": "much_better"}, "Unknown strength 'much_better': choose one of"),
    ({"agreement": "most"}, "Unknown agreement 'most'"),
    ({"review": "deleted"}, "Unknown review state 'deleted'"),
    ({"seconds_min": "soon"}, "Time spent at least: 'soon' is not a number of seconds"),
    ({"seconds_min": "-1"}, "is not a number of seconds"),
    ({"seconds_min": "50", "seconds_max": "10"}, "the minimum (50 s) is above the maximum"),
])
def test_bad_filters_are_refused_with_a_sentence(params, says):
    with pytest.raises(browser.BrowserError) as refused:
        browser.filters_from(params)
    assert says in refused.value.message


def test_bad_cursors_are_refused(world):
    for params in ({"after": "x"}, {"before": "0"}, {"after": 5, "before": 9}):
        with pytest.raises(browser.BrowserError):
            browser.judgement_page(world["batch"], browser.Filters(), **params)


def test_neighbours_follow_the_filtered_list(world):
    batch = world["batch"]
    filters = browser.filters_from({"axis": "safety"})
    ids = every_page(batch, filters)
    middle = ids[len(ids) // 2]
    beside = browser.neighbours(batch, filters, middle)
    assert beside == {"newer": ids[len(ids) // 2 - 1], "older": ids[len(ids) // 2 + 1]}
    assert browser.neighbours(batch, filters, ids[0])["newer"] is None
    assert browser.neighbours(batch, filters, ids[-1])["older"] is None


# --- Agreement counts ----------------------------------------------------------------------


def recounted() -> dict[int, tuple[int, int, int]]:
    out = {}
    for comparison in Comparison.objects.all():
        chosen = list(comparison.judgements.filter(skipped=False)
                      .values_list("chosen_id", flat=True))
        out[comparison.pk] = (len(chosen), chosen.count(comparison.response_a_id),
                              chosen.count(comparison.response_b_id))
    return out


def stored_counts() -> dict[int, tuple[int, int, int]]:
    return {c.pk: (c.judgement_count, c.chose_a_count, c.chose_b_count)
            for c in Comparison.objects.all()}


def test_submit_keeps_the_counts_of_choices(world):
    assert stored_counts() == recounted()
    assert {browser.agreement_of(a, b) for _, a, b in stored_counts().values()} >= {
        "unanimous", "split"}


def test_a_repeated_submit_counts_once(make_user):
    batch = make_batch(overlap=2)
    (comparison,) = make_comparisons(batch, 1)
    people = [make_user(Role.ANNOTATOR) for _ in range(2)]
    for person in people:
        lease = next_assignment(annotator=person, batch=batch)
        for _ in range(3):  # a double click, and a retry after a lost answer
            submit_judgement(annotator=person, assignment_id=lease.pk, chosen_side="left",
                             strength="better")
        with contextlib.suppress(Exception):
            skip_comparison(annotator=person, assignment_id=lease.pk, reason="again")
    comparison.refresh_from_db()
    assert comparison.judgement_count == comparison.chose_a_count + comparison.chose_b_count == 2
    assert stored_counts() == recounted()


def batches_of_judgements() -> set[tuple[int, int]]:
    return set(Judgement.objects.values_list("batch_id", "comparison__batch_id"))


def copies_of_judgements() -> dict[int, tuple[str, str]]:
    return dict((pk, (axis, gold)) for pk, axis, gold in
                Judgement.objects.values_list("pk", "axis", "gold"))


def test_submit_and_skip_copy_the_comparisons_batch(world):
    pairs = batches_of_judgements()
    assert {batch for batch, _ in pairs} == {world["batch"].pk, world["other"].pk}
    assert all(batch == of_comparison for batch, of_comparison in pairs)


def test_submit_and_skip_store_the_axis_and_the_gold_result(world):
    """Each judgement keeps its comparison's axis and its result against the gold answer,
    skips of a gold comparison included, as the reference computes them from the rows."""
    named = {"not_gold": "", "skipped gold": "skipped", "correct": "correct", "wrong": "wrong"}
    results = set()
    for judgement in Judgement.objects.select_related("comparison"):
        assert judgement.axis == judgement.comparison.axis
        assert judgement.gold == named[gold(judgement)], judgement.pk
        results.add(judgement.gold)
    assert {"", "correct", "wrong"} <= results  # the world holds each kind


def test_the_migration_backfills_the_counts_and_the_copies(world):
    """0008's fills give back what the submit service stored. The batch's fill (0008, run
    again by 0009) finds nothing to do: every judgement was stored with its batch, which
    0009 made required, so no row can lack it any more."""
    migration = importlib.import_module(
        "paddock.annotation.migrations.0008_judgement_browser")
    before, copies = stored_counts(), copies_of_judgements()
    Comparison.objects.update(chose_a_count=0, chose_b_count=0)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE annotation_judgement SET axis = '', gold = ''")
        cursor.execute(migration.BACKFILL)
        cursor.execute(migration.BACKFILL_COPIES)
        cursor.execute(migration.BACKFILL_BATCH)
        assert cursor.rowcount == 0
    assert stored_counts() == before
    assert copies_of_judgements() == copies
    assert all(batch == of_comparison for batch, of_comparison in batches_of_judgements())


# --- Marks -----------------------------------------------------------------------------------


def test_marks_keep_their_history_and_one_current_state(world):
    batch, manager = world["batch"], world["manager"]
    judgement = Judgement.objects.filter(comparison__batch=batch).order_by("-id").first()
    row_before = Judgement.objects.filter(pk=judgement.pk).values().get()
    first = browser.judgement_mark(judgement=judgement, state="review", reason="check strength",
                                   by=manager, batch=batch)
    again = browser.judgement_mark(judgement=judgement, state="review",
                                   reason="check strength", by=manager)
    assert first.created and not again.created and again.mark.pk == first.mark.pk
    browser.judgement_mark(judgement=judgement, state="excluded", reason="copied answer",
                           by=manager)
    browser.judgement_mark(judgement=judgement, state="none", reason="it was fine", by=manager)
    history = browser.judgement_detail(batch, judgement.pk)["history"]
    assert [(h["state"], h["reason"], h["by"]) for h in history] == [
        ("none", "it was fine", manager.username),
        ("excluded", "copied answer", manager.username),
        ("review", "check strength", manager.username),
    ]
    assert JudgementMark.objects.filter(judgement=judgement, current=True).count() == 1
    assert Judgement.objects.filter(pk=judgement.pk).values().get() == row_before


@pytest.mark.parametrize(("state", "reason", "error", "says"), [
    ("hidden", "x", browser.MarkRefused, "Unknown mark 'hidden'"),
    ("review", "   ", browser.MarkRefused, "a mark needs a reason"),
])
def test_bad_marks_are_refused(world, state, reason, error, says):
    judgement = Judgement.objects.filter(comparison__batch=world["batch"]).last()
    with pytest.raises(error) as refused:
        browser.judgement_mark(judgement=judgement, state=state, reason=reason,
                               by=world["manager"])
    assert says in refused.value.message


def test_a_judgement_of_another_batch_is_refused(world):
    elsewhere = Judgement.objects.filter(comparison__batch=world["other"]).first()
    with pytest.raises(browser.WrongBatch,
                       match=f"belongs to batch {world['other'].name}, not {world['batch'].name}"):
        browser.judgement_mark(judgement=elsewhere, state="review", reason="x",
                               by=world["manager"], batch=world["batch"])
    with pytest.raises(browser.WrongBatch):
        browser.judgement_detail(world["batch"], elsewhere.pk)
    assert not elsewhere.marks.exists()


def test_the_detail_shows_the_comparison_side_by_side(world):
    batch = world["batch"]
    comparison = Comparison.objects.filter(batch=batch, is_gold=True).first()
    judgement = comparison.judgements.order_by("id").first()
    detail = browser.judgement_detail(batch, judgement.pk)
    assert detail["gold"] == "A"
    assert [r["letter"] for r in detail["responses"]] == ["A", "B"]
    assert sum(r["shown_left"] for r in detail["responses"]) == 1
    assert [j["id"] for j in detail["judgements"]] == list(
        comparison.judgements.order_by("id").values_list("id", flat=True))
    assert detail["conversation"][0]["role"] == "user"


# --- Export ----------------------------------------------------------------------------------


def test_excluded_judgements_leave_the_preference_export_and_are_counted(world, settings,
                                                                        tmp_path):
    settings.ARTIFACTS_DIR = tmp_path
    batch = world["batch"]
    excluded = set(JudgementMark.objects.filter(current=True, state="excluded")
                   .values_list("judgement_id", flat=True))
    judged_excluded = set(Judgement.objects.filter(pk__in=excluded, skipped=False)
                          .values_list("id", flat=True))
    manifest = export_batch(batch, "preferences")
    with gzip.open(export_path(batch, "preferences"), "rt") as handle:
        exported = {json.loads(line)["id"] for line in handle}
    assert not exported & excluded
    assert manifest["counts"]["left_out_excluded"] == len(judged_excluded) > 0
    raw = export_batch(batch, "raw")
    with gzip.open(export_path(batch, "raw"), "rt") as handle:
        records = {r["id"]: r for r in map(json.loads, handle)}
    assert raw["records"] == Judgement.objects.filter(comparison__batch=batch).count()
    assert {i for i, r in records.items() if r["mark"] == "excluded"} == excluded
    restored = sorted(excluded)[0]
    browser.judgement_mark(judgement=restored, state="none", reason="ok", by=world["manager"])
    again = export_batch(batch, "preferences")
    assert again["counts"]["left_out_excluded"] == len(judged_excluded - {restored})


@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_keep_the_counts_of_choices(make_user):
    """Eight annotators submit on one comparison at once, each twice (a double click from
    two tabs): the counts of choices equal the stored rows."""
    from tests.annotation.test_assignment import _in_threads
    from tests.support.skips import skip_or_fail

    if connection.vendor != "postgresql":
        skip_or_fail("concurrent submission is tested on PostgreSQL")
    batch = make_batch(overlap=8)
    (comparison,) = make_comparisons(batch, 1)
    people = [make_user(Role.ANNOTATOR) for _ in range(8)]
    leases = [next_assignment(annotator=person, batch=batch) for person in people]

    def submit(i: int):
        person, lease = people[i % 8], leases[i % 8]
        return submit_judgement(annotator=person, assignment_id=lease.pk,
                                chosen_side="left" if i % 3 else "right", strength="better")

    results = _in_threads(16, submit)
    assert sum(result.created for result in results) == 8
    comparison.refresh_from_db()
    assert comparison.judgement_count == 8
    assert stored_counts() == recounted()
    assert comparison.chose_a_count + comparison.chose_b_count == 8
