"""Each manager action through both front doors, the console and the REST API: the same
request gets the same outcome (done, or refused with the same reason) and leaves the same
stored state, because both doors call one service.

The three disagreements issue 16 found are pinned here: re-opening a batch whose closing
time has passed, a second export click while the first is queued, and editing a closed
batch's settings. The weekly cycle (start, cancel, re-run from a step) goes through both
doors as well.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib import messages
from django.contrib.messages import get_messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from paddock.annotation.models import Batch, BatchStatus, Judgement, JudgementMark
from paddock.platform.accounts.models import Role
from paddock.workers.models import Job, PipelineRun, RunState
from tests.annotation.factories import make_batch
from tests.platform.test_console_pipelines import make_run

pytestmark = pytest.mark.django_db

DOORS = ("console", "api")
# What both doors let a manager set on a batch (the console adds the weekly cycle's plan).
SETTINGS = ("name", "helpfulness_quota", "safety_quota", "overlap", "gold_share",
            "test_split_size", "reveal_gold_accuracy")
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: str = ""


def _minute(moment):
    return timezone.localtime(moment).replace(second=0, microsecond=0)


class ConsoleDoor:
    """The console's forms, posted as the browser posts them."""

    def __init__(self, user):
        self.client = Client()
        self.client.force_login(user)

    def _post(self, url: str, data: dict | None = None) -> Outcome:
        """POST, with the messages of earlier requests (kept until a page shows them)
        dropped, so the outcome read is this request's alone."""
        self.client.cookies.pop(CookieStorage.cookie_name, None)
        response = self.client.post(url, data or {})
        if response.status_code == 200:  # a form drawn again with its errors
            errors = response.context["form"].errors
            return Outcome(False, " ".join(" ".join(e) for e in errors.values()))
        assert response.status_code == 302, response.content[:300]
        said = list(get_messages(response.wsgi_request))
        refused = [str(m) for m in said if m.level >= messages.WARNING]
        return Outcome(not refused, " ".join(refused or [str(m) for m in said]))

    @staticmethod
    def _form(values: dict) -> dict:
        form = {key: ("on" if value is True else value) for key, value in values.items()
                if value is not False}
        for name in ("opens_at", "closes_at"):
            if name in form:
                form[name] = timezone.localtime(form[name]).strftime(LOCAL_MINUTE)
        return form

    def create(self, values: dict, *, schedule: bool = False) -> Outcome:
        form = self._form(values) | ({"then": "scheduled"} if schedule else {})
        return self._post(reverse("console:batch_create"), form)

    def edit(self, batch: Batch, changes: dict) -> Outcome:
        current = {name: getattr(batch, name) for name in (*SETTINGS, "opens_at", "closes_at")}
        return self._post(reverse("console:batch_edit", args=[batch.pk]),
                          self._form(current | changes))

    def move(self, batch: Batch, to: str) -> Outcome:
        return self._post(reverse("console:batch_move", args=[batch.pk]), {"to": to})

    def export(self, batch: Batch, kind: str) -> Outcome:
        return self._post(reverse("console:batch_export", args=[batch.pk]), {"kind": kind})

    def upload(self, batch: Batch, name: str, content: bytes, kind: str) -> Outcome:
        return self._post(
            reverse("console:batch_import", args=[batch.pk]),
            {"file": SimpleUploadedFile(name, content), "kind": kind, "axis": "helpfulness"})

    def pipeline_start(self, batch: Batch, preset: str | None = None) -> Outcome:
        return self._post(reverse("console:batch_run_pipeline", args=[batch.pk]),
                          {"preset": preset} if preset else {})

    def pipeline_cancel(self, run: PipelineRun) -> Outcome:
        return self._post(reverse("console:run_cancel", args=[run.pk]))

    def pipeline_rerun(self, run: PipelineRun, from_step: str) -> Outcome:
        return self._post(reverse("console:run_rerun", args=[run.pk]), {"from_step": from_step})

    def mark(self, batch: Batch, judgement_id: int, state: str, reason: str) -> Outcome:
        return self._post(reverse("console:judgement_mark", args=[batch.pk, judgement_id]),
                          {"state": state, "reason": reason})

    def browse(self, batch: Batch, params: dict) -> list[int]:
        """Every judgement id the list shows under ``params``, following its cursors."""
        ids, url = [], reverse("console:judgements", args=[batch.pk])
        query = dict(params)
        while True:
            page = self.client.get(url, query).context["page"]
            ids += [row["id"] for row in page.rows]
            if page.next_after is None:
                return ids
            query = {**params, "after": page.next_after}


class ApiDoor:
    """The REST API, called as a script calls it."""

    def __init__(self, user):
        self.client = APIClient()
        self.client.force_authenticate(user)

    @staticmethod
    def _outcome(response) -> Outcome:
        body = response.json()
        if response.status_code < 300:
            return Outcome(True)
        assert response.status_code in (400, 409), (response.status_code, body)
        return Outcome(False, body.get("detail", json.dumps(body)) if isinstance(body, dict)
                       else json.dumps(body))

    @staticmethod
    def _json(values: dict) -> dict:
        return {key: (value.isoformat() if hasattr(value, "isoformat") else value)
                for key, value in values.items()}

    def create(self, values: dict, *, schedule: bool = False) -> Outcome:
        created = self.client.post(reverse("annotation-api:batches"), self._json(values),
                                   format="json")
        if created.status_code != 201 or not schedule:
            return self._outcome(created)
        batch = Batch.objects.get(pk=created.json()["id"])
        return self.move(batch, BatchStatus.SCHEDULED)

    def edit(self, batch: Batch, changes: dict) -> Outcome:
        return self._outcome(self.client.patch(reverse("annotation-api:batch", args=[batch.pk]),
                                               self._json(changes), format="json"))

    def move(self, batch: Batch, to: str) -> Outcome:
        return self._outcome(self.client.post(
            reverse("annotation-api:batch-status", args=[batch.pk]), {"status": to},
            format="json"))

    def export(self, batch: Batch, kind: str) -> Outcome:
        return self._outcome(self.client.post(
            reverse("annotation-api:batch-export", args=[batch.pk]), {"kind": kind},
            format="json"))

    def upload(self, batch: Batch, name: str, content: bytes, kind: str) -> Outcome:
        return self._outcome(self.client.post(
            reverse("annotation-api:batch-import", args=[batch.pk]),
            {"file": SimpleUploadedFile(name, content), "kind": kind, "axis": "helpfulness"},
            format="multipart"))

    def pipeline_start(self, batch: Batch, preset: str | None = None) -> Outcome:
        return self._outcome(self.client.post(
            reverse("annotation-api:batch-pipeline", args=[batch.pk]),
            {"preset": preset} if preset else {}, format="json"))

    def pipeline_cancel(self, run: PipelineRun) -> Outcome:
        return self._outcome(self.client.post(
            reverse("api-pipeline-run-cancel", args=[run.pk])))

    def pipeline_rerun(self, run: PipelineRun, from_step: str) -> Outcome:
        return self._outcome(self.client.post(
            reverse("api-pipeline-run-rerun", args=[run.pk]),
            {"from_step": from_step}, format="json"))

    def mark(self, batch: Batch, judgement_id: int, state: str, reason: str) -> Outcome:
        return self._outcome(self.client.post(
            reverse("annotation-api:judgement-mark", args=[judgement_id]),
            {"state": state, "reason": reason, "batch": batch.pk}, format="json"))

    def browse(self, batch: Batch, params: dict) -> list[int]:
        ids, url = [], reverse("annotation-api:batch-judgements", args=[batch.pk])
        query = dict(params)
        while True:
            body = self.client.get(url, query).json()
            ids += [row["id"] for row in body["results"]]
            if body["next_after"] is None:
                return ids
            query = {**params, "after": body["next_after"]}


@pytest.fixture
def door(request, make_user, settings, tmp_path):
    settings.ARTIFACTS_DIR = tmp_path
    manager = make_user(Role.DATA_MANAGER)
    return (ConsoleDoor if request.param == "console" else ApiDoor)(manager)


def stored(batch: Batch) -> dict:
    batch.refresh_from_db()
    return {name: getattr(batch, name) for name in (*SETTINGS, "status")}


def ended_batch(**fields) -> Batch:
    """A batch closed by hand after its closing time passed."""
    now = timezone.now()
    return make_batch(status=BatchStatus.CLOSED, opens_at=now - timedelta(days=9),
                      closes_at=now - timedelta(days=2), **fields)


# --- The three disagreements -------------------------------------------------------------


@pytest.mark.parametrize("door", DOORS, indirect=True)
def test_a_batch_whose_closing_time_passed_is_not_reopened(door):
    batch = ended_batch()
    outcome = door.move(batch, BatchStatus.OPEN)
    assert not outcome.ok and "set a later closing time" in outcome.detail
    assert stored(batch)["status"] == BatchStatus.CLOSED


@pytest.mark.parametrize("door", DOORS, indirect=True)
def test_a_second_export_click_queues_no_second_job(door):
    batch = make_batch()
    assert door.export(batch, "preferences").ok
    assert door.export(batch, "preferences").ok  # the job already queued answers
    jobs = Job.objects.filter(task_name="annotation.export_batch", kwargs__batch_id=batch.pk)
    assert jobs.count() == 1
    door.export(batch, "raw")  # another kind writes another file: its own job
    assert jobs.count() == 2


def test_the_api_answers_a_second_export_with_the_job_already_queued(make_user):
    api = ApiDoor(make_user(Role.DATA_MANAGER))
    batch = make_batch()
    url = reverse("annotation-api:batch-export", args=[batch.pk])
    first = api.client.post(url, {"kind": "raw"}, format="json")
    again = api.client.post(url, {"kind": "raw"}, format="json")
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["job"] == first.json()["job"]


@pytest.mark.parametrize("door", DOORS, indirect=True)
@pytest.mark.parametrize("status", [BatchStatus.CLOSED, BatchStatus.EXPORTED])
def test_a_closed_batchs_settings_are_final(door, status):
    batch = make_batch(status=status, overlap=1, test_split_size=100)
    before = stored(batch)
    outcome = door.edit(batch, {"overlap": 3, "test_split_size": 5})
    assert not outcome.ok and "final" in outcome.detail
    assert stored(batch) == before


# --- Every action, both doors ------------------------------------------------------------


def new_batch_values(name: str = "week 12") -> dict:
    now = _minute(timezone.now())
    return {"name": name, "opens_at": now + timedelta(days=1),
            "closes_at": now + timedelta(days=8), "helpfulness_quota": 1200,
            "safety_quota": 400, "overlap": 2, "gold_share": 0.05, "test_split_size": 100,
            "reveal_gold_accuracy": True}


@pytest.mark.parametrize("door", DOORS, indirect=True)
@pytest.mark.parametrize("schedule", [False, True], ids=["draft", "scheduled"])
def test_create_a_batch(door, schedule):
    values = new_batch_values()
    assert door.create(values, schedule=schedule).ok
    batch = Batch.objects.get(name="week 12")
    expected = {name: values[name] for name in SETTINGS}
    assert stored(batch) == {**expected, "status": "scheduled" if schedule else "draft"}
    assert (batch.opens_at, batch.closes_at) == (values["opens_at"], values["closes_at"])
    assert batch.created_by is not None


@pytest.mark.parametrize("door", DOORS, indirect=True)
def test_bad_settings_are_refused_by_both_doors(door):
    make_batch(name="week 12")
    values = new_batch_values() | {"name": "week 13", "gold_share": 1.5}
    outcome = door.create(values)
    assert not outcome.ok and "Write a share from 0 to 1" in outcome.detail
    assert not Batch.objects.filter(name="week 13").exists()
    swapped = new_batch_values("week 14")
    swapped["closes_at"] = swapped["opens_at"] - timedelta(days=1)
    outcome = door.create(swapped)
    assert not outcome.ok and "A batch must close after it opens." in outcome.detail
    outcome = door.edit(Batch.objects.get(), {"overlap": 0})
    assert not outcome.ok and "At least one judgement per comparison." in outcome.detail
    assert not door.create(new_batch_values("week 12")).ok  # the name is taken
    assert Batch.objects.count() == 1


@pytest.mark.parametrize("door", DOORS, indirect=True)
@pytest.mark.parametrize("status", [BatchStatus.DRAFT, BatchStatus.SCHEDULED, BatchStatus.OPEN])
def test_a_batch_is_edited_until_it_closes(door, status):
    batch = make_batch(status=status, overlap=1, test_split_size=100, safety_quota=0)
    assert door.edit(batch, {"overlap": 3, "test_split_size": 5, "safety_quota": 55}).ok
    assert stored(batch) | {"name": None} == {
        **stored(batch), "name": None, "overlap": 3, "test_split_size": 5, "safety_quota": 55}


# (from, to, ok, what the refusal says)
MOVES = [
    (BatchStatus.DRAFT, BatchStatus.SCHEDULED, True, ""),
    (BatchStatus.SCHEDULED, BatchStatus.DRAFT, True, ""),
    (BatchStatus.OPEN, BatchStatus.CLOSED, True, ""),
    (BatchStatus.CLOSED, BatchStatus.EXPORTED, True, ""),
    (BatchStatus.DRAFT, BatchStatus.CLOSED, False, "it can move to open, scheduled"),
    (BatchStatus.EXPORTED, BatchStatus.OPEN, False, "it can move to none: it is final"),
]


@pytest.mark.parametrize("door", DOORS, indirect=True)
@pytest.mark.parametrize(("start", "to", "ok", "says"), MOVES,
                         ids=[f"{m[0]}-{m[1]}" for m in MOVES])
def test_moves(door, start, to, ok, says):
    batch = make_batch(status=start)
    outcome = door.move(batch, to)
    assert outcome.ok is ok and says in outcome.detail
    assert stored(batch)["status"] == (to if ok else start)


@pytest.mark.parametrize("door", DOORS, indirect=True)
@pytest.mark.parametrize("start", [BatchStatus.SCHEDULED, BatchStatus.CLOSED])
def test_open_by_hand_takes_judgements_now(door, start):
    """Opening by hand means "take judgements now": an opening time still in the future
    moves to now, and a closed batch whose closing time is ahead re-opens."""
    later = timezone.now() + timedelta(days=2)
    batch = make_batch(status=start, opens_at=later, closes_at=later + timedelta(days=7))
    assert door.move(batch, BatchStatus.OPEN).ok
    batch.refresh_from_db()
    assert batch.status == BatchStatus.OPEN and batch.is_accepting()


@pytest.mark.parametrize("door", DOORS, indirect=True)
def test_an_upload_is_queued_for_a_worker(door):
    batch = make_batch(status=BatchStatus.DRAFT)
    line = json.dumps({"prompt": "How do tides work?", "response_a": "The moon.",
                       "response_b": "Wind."}) + "\n"
    assert door.upload(batch, "week12-pairs.jsonl", line.encode(), "pairs").ok
    job = Job.objects.get(task_name="annotation.import_file")
    assert job.kwargs["batch_id"] == batch.pk and job.kwargs["kind"] == "pairs"
    assert job.kwargs["path"].endswith("-week12-pairs.jsonl")
    assert open(job.kwargs["path"]).read() == line
    assert job.label == f"Import week12-pairs.jsonl into {batch.name}"


# --- The weekly cycle --------------------------------------------------------------------


@pytest.mark.parametrize("door", DOORS, indirect=True)
def test_start_the_weekly_cycle_once(door):
    batch = make_batch(status=BatchStatus.OPEN)
    assert door.pipeline_start(batch).ok
    run = PipelineRun.objects.get(batch=batch)
    assert run.trigger == PipelineRun.Trigger.MANUAL and run.created_by is not None
    assert run.steps.count() == 10
    assert door.pipeline_start(batch).ok  # the run going answers
    assert PipelineRun.objects.filter(batch=batch).count() == 1


@pytest.mark.parametrize("door", DOORS, indirect=True)
def test_start_with_a_preset_the_batch_keeps(door):
    batch = make_batch(status=BatchStatus.CLOSED)
    assert door.pipeline_start(batch, preset="recipe").ok
    assert PipelineRun.objects.get(batch=batch).plan["preset"] == "recipe"
    batch.refresh_from_db()
    assert batch.pipeline_plan["preset"] == "recipe"


@pytest.mark.parametrize("door", DOORS, indirect=True)
@pytest.mark.parametrize(("status", "plan", "preset", "says"), [
    (BatchStatus.DRAFT, {}, None, "only an open or closed batch has judgements"),
    (BatchStatus.OPEN, ["not", "an", "object"], None, "is not a JSON object"),
    (BatchStatus.OPEN, {"ppo": {"batch_size": 8}}, "recipe",
     "batch_size 8 is not a multiple of minibatch_size 64"),
], ids=["draft", "stored-plan-not-an-object", "plan-the-preset-breaks"])
def test_a_cycle_that_cannot_run_is_refused_with_the_reason(door, status, plan, preset, says):
    batch = make_batch(status=status, pipeline_plan=plan)
    outcome = door.pipeline_start(batch, preset=preset)
    assert not outcome.ok and says in outcome.detail
    assert not PipelineRun.objects.exists()
    batch.refresh_from_db()
    assert batch.pipeline_plan == plan


@pytest.mark.parametrize("door", DOORS, indirect=True)
def test_cancel_a_run(door):
    run = make_run(steps={"close_batch": RunState.SUCCEEDED, "export": RunState.RUNNING})
    assert door.pipeline_cancel(run).ok
    run.refresh_from_db()
    assert run.state == RunState.CANCELLED
    assert door.pipeline_cancel(run).ok  # already stopped: said, not refused


@pytest.mark.parametrize("door", DOORS, indirect=True)
def test_rerun_from_a_step(door):
    active = make_run(steps={"close_batch": RunState.RUNNING})
    outcome = door.pipeline_rerun(active, "close_batch")
    assert not outcome.ok and "this run is still active" in outcome.detail
    failed = make_run(state=RunState.FAILED,
                      steps={"close_batch": RunState.SUCCEEDED, "export": RunState.FAILED})
    outcome = door.pipeline_rerun(failed, "ppo")
    assert not outcome.ok and "cannot start at ppo: export" in outcome.detail
    assert PipelineRun.objects.count() == 2
    assert door.pipeline_rerun(failed, "export").ok
    new = PipelineRun.objects.exclude(pk__in=[active.pk, failed.pk]).get()
    assert new.trigger == PipelineRun.Trigger.RERUN and new.batch_id == failed.batch_id


# --- The judgement browser ---------------------------------------------------------------


def judged_batch(make_user, *, judgements: int = 60) -> tuple[Batch, list[int]]:
    """A batch of helpfulness comparisons, each judged once, and its judgement ids."""
    from paddock.annotation.services.assignment import next_assignment, submit_judgement
    from tests.annotation.factories import make_comparisons

    batch = make_batch(overlap=1)
    make_comparisons(batch, judgements)
    people = [make_user(Role.ANNOTATOR) for _ in range(3)]
    for turn in range(judgements):
        person = people[turn % 3]
        lease = next_assignment(annotator=person, batch=batch)
        submit_judgement(annotator=person, assignment_id=lease.pk,
                         chosen_side="left" if turn % 2 else "right",
                         strength=["better", "slightly_better"][turn % 2])
    return batch, sorted(Judgement.objects.filter(comparison__batch=batch)
                         .values_list("id", flat=True), reverse=True)


@pytest.mark.parametrize("door", DOORS, indirect=True)
def test_both_doors_list_the_same_judgements(door, make_user):
    batch, ids = judged_batch(make_user)
    assert door.browse(batch, {}) == ids  # 60 judgements: two pages of 50 and 10
    better = list(Judgement.objects.filter(comparison__batch=batch, strength="better")
                  .order_by("-id").values_list("id", flat=True))
    assert door.browse(batch, {"strength": "better", "agreement": "single"}) == better


@pytest.mark.parametrize("door", DOORS, indirect=True)
def test_mark_exclude_and_restore(door, make_user):
    batch, ids = judged_batch(make_user, judgements=3)
    assert door.mark(batch, ids[0], "excluded", "answers copied from the web").ok
    assert door.mark(batch, ids[0], "excluded", "answers copied from the web").ok  # again
    assert door.browse(batch, {"review": "excluded"}) == [ids[0]]
    assert door.mark(batch, ids[0], "none", "checked: original").ok
    assert door.browse(batch, {"review": "excluded"}) == []
    marks = JudgementMark.objects.filter(judgement_id=ids[0]).order_by("id")
    assert [(m.state, m.current) for m in marks] == [("excluded", False), ("none", True)]


@pytest.mark.parametrize("door", DOORS, indirect=True)
@pytest.mark.parametrize(("state", "reason", "says"), [
    ("hidden", "why", "Unknown mark 'hidden': choose one of review, excluded, none."),
    ("review", "", "Say why: a mark needs a reason"),
])
def test_bad_marks_are_refused_by_both_doors(door, make_user, state, reason, says):
    batch, ids = judged_batch(make_user, judgements=1)
    outcome = door.mark(batch, ids[0], state, reason)
    assert not outcome.ok and says in outcome.detail
    assert not JudgementMark.objects.exists()


@pytest.mark.parametrize("door", DOORS, indirect=True)
def test_a_judgement_of_another_batch_is_not_marked(door, make_user):
    batch, ids = judged_batch(make_user, judgements=1)
    other = make_batch()
    outcome = door.mark(other, ids[0], "review", "wrong page")
    assert not outcome.ok and f"belongs to batch {batch.name}, not {other.name}" in outcome.detail
    assert not JudgementMark.objects.exists()


def test_the_api_says_409_for_another_batch_and_400_for_bad_input(make_user):
    api = ApiDoor(make_user(Role.DATA_MANAGER))
    batch, ids = judged_batch(make_user, judgements=1)
    url = reverse("annotation-api:judgement-mark", args=[ids[0]])
    other = make_batch()
    assert api.client.post(url, {"state": "review", "reason": "x", "batch": other.pk},
                           format="json").status_code == 409
    assert api.client.post(url, {"state": "review", "reason": ""},
                           format="json").status_code == 400
    first = api.client.post(url, {"state": "review", "reason": "x"}, format="json")
    again = api.client.post(url, {"state": "review", "reason": "x"}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    listed = api.client.get(reverse("annotation-api:batch-judgements", args=[batch.pk]),
                            {"strength": "huge"})
    assert listed.status_code == 400 and "Unknown strength 'huge'" in listed.json()["detail"]
