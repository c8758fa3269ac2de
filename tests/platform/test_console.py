"""The data manager's console: who may open what, batches (create, schedule, open, close,
import, export), the per-batch dashboard, reward-model accuracy and the jobs pages.

The browser test (tests/browser/test_console.py) drives the same pages in Chromium; these
check the server side quickly, without a worker (jobs are enqueued, not run).
"""

from __future__ import annotations

import gzip
import json
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from paddock.annotation.models import Axis, Batch, BatchImport, BatchStatus
from paddock.annotation.services.assignment import (
    next_assignment,
    skip_comparison,
    submit_judgement,
)
from paddock.annotation.services.export import export_batch
from paddock.console.charts import (
    Row,
    Series,
    axis_ticks,
    bar_chart,
    column_chart,
    line_chart,
)
from paddock.platform.accounts.models import Role
from paddock.workers.jobs import job_succeed
from paddock.workers.models import Job, JobState, PipelineRun
from tests.annotation.factories import make_batch, make_comparisons

pytestmark = pytest.mark.django_db

NONE = "\N{EN DASH}"
ROLES = ("anonymous", "annotator", "manager", "admin")
ROLE_OF = {"annotator": Role.ANNOTATOR, "manager": Role.DATA_MANAGER, "admin": Role.ADMIN}


# --- Who may open what -------------------------------------------------------------------

# (method, url name, arguments, body, status for data managers and admins). Anonymous
# users are sent to the login page (302) and annotators get 403 on every one of them.
CONSOLE_URLS = [
    ("get", "console:home", (), None, 200),
    ("get", "console:jobs", (), None, 200),
    ("get", "console:job_progress", ("job",), None, 200),
    ("get", "console:batches", (), None, 200),
    ("get", "console:batch_create", (), None, 200),
    ("post", "console:batch_create", (), {"name": ""}, 200),  # the form, with its errors
    ("get", "console:batch", ("batch",), None, 200),
    ("get", "console:batch_edit", ("batch",), None, 200),
    ("get", "console:batch_live", ("batch",), None, 200),
    ("post", "console:batch_move", ("batch",), {"to": "closed"}, 302),
    ("post", "console:batch_import", ("batch",), {}, 302),  # no file: refused, redirected
    ("post", "console:batch_export", ("batch",), {"kind": "nope"}, 302),
    ("get", "console:batch_export_file", ("batch", "preferences"), None, 404),  # none yet
    ("get", "console:import_example", ("pairs",), None, 200),
    ("post", "console:batch_run_pipeline", ("batch",), None, 302),  # to its run's page
    ("get", "console:judgements", ("batch",), None, 200),
    ("get", "console:judgement", ("batch", 999_999), None, 404),  # no such judgement
    ("post", "console:judgement_mark", ("batch", 999_999), {"state": "review", "reason": "x"},
     404),
    ("get", "console:runs", (), None, 200),
    ("get", "console:run", ("run",), None, 200),
    ("get", "console:run_live", ("run",), None, 200),
    ("post", "console:run_cancel", ("run",), None, 302),
    ("post", "console:run_rerun", ("run",), {"from_step": "export"}, 302),
]
EXPECTED = {
    (method, name): {"anonymous": 302, "annotator": 403, "manager": status, "admin": status}
    for method, name, _args, _body, status in CONSOLE_URLS
}


def test_every_console_url_is_classified_for_roles():
    """A new console page must say who may open it: add it to CONSOLE_URLS."""
    from paddock.console.urls import app_name, urlpatterns

    names = {f"{app_name}:{pattern.name}" for pattern in urlpatterns}
    classified = {name for _method, name, *_ in CONSOLE_URLS}
    assert names - classified == set(), "unclassified console URLs: add them to CONSOLE_URLS"
    assert classified <= names


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "name", "args", "body", "status"), CONSOLE_URLS,
                         ids=[f"{m}-{n}" for m, n, *_ in CONSOLE_URLS])
def test_console_roles(client, make_user, settings, tmp_path, role, method, name, args, body,
                       status):
    settings.ARTIFACTS_DIR = tmp_path  # no export of another test's batch with the same id
    batch = make_batch(name="week 12")
    job = Job.objects.create(task_name="tests.count_words", queue="default", label="demo")
    run = PipelineRun.objects.create(batch=batch)  # the pipeline pages' tests are elsewhere
    values = {"batch": batch.pk, "job": job.pk, "run": run.pk}
    url = reverse(name, args=[values.get(arg, arg) for arg in args])
    if role != "anonymous":
        client.force_login(make_user(ROLE_OF[role]))
    response = getattr(client, method)(url, body or {})
    assert response.status_code == EXPECTED[(method, name)][role]
    if role == "anonymous":
        assert response["Location"].startswith(reverse("login"))


# --- Accessibility, checked on the HTML -------------------------------------------------


class FormControls(HTMLParser):
    """Every form control of a page, the ids labels point at, and tabindex values."""

    def __init__(self):
        super().__init__()
        self.controls: list[dict[str, str]] = []
        self.label_for: set[str] = set()
        self.in_label = 0
        self.tabindex: list[str] = []
        self.inline_styles = 0
        self.inline_scripts = 0

    def handle_starttag(self, tag, attrs):
        attrs = {key: value or "" for key, value in attrs}
        if "tabindex" in attrs:
            self.tabindex.append(attrs["tabindex"])
        if "style" in attrs:
            self.inline_styles += 1
        if tag == "script" and "src" not in attrs:
            self.inline_scripts += 1
        if tag == "label":
            self.in_label += 1
            if attrs.get("for"):
                self.label_for.add(attrs["for"])
        if tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden",):
            self.controls.append({**attrs, "wrapped": str(self.in_label > 0)})

    def handle_endtag(self, tag):
        if tag == "label":
            self.in_label -= 1


def assert_accessible(html: str) -> FormControls:
    page = FormControls()
    page.feed(html)
    for control in page.controls:
        labelled = (control.get("id") in page.label_for or control["wrapped"] == "True"
                    or control.get("aria-label"))
        assert labelled, f"form control without a label: {control}"
    assert all(int(value) <= 0 for value in page.tabindex), "positive tabindex breaks focus order"
    assert page.inline_styles == 0 and page.inline_scripts == 0  # the CSP forbids both
    return page


@pytest.fixture
def manager(client, make_user):
    user = make_user(Role.DATA_MANAGER)
    client.force_login(user)
    return user


# --- Batches: create, schedule, edit, open, close ---------------------------------------


def test_new_batch_form_proposes_the_week_after_the_latest(client, manager):
    latest = make_batch(name="week 11", overlap=3, gold_share=0.05, helpfulness_quota=900,
                        safety_quota=300)
    response = client.get(reverse("console:batch_create"))
    assert response.status_code == 200
    assert "default-src 'self'" in response["Content-Security-Policy"]
    html = response.content.decode()
    page = assert_accessible(html)
    assert {c["name"] for c in page.controls} >= {
        "name", "opens_at", "closes_at", "helpfulness_quota", "safety_quota", "overlap",
        "gold_share", "test_split_size", "reveal_gold_accuracy",
    }
    opens = timezone.localtime(latest.closes_at).strftime("%Y-%m-%dT%H:%M")
    assert f'value="{opens}"' in html
    assert 'name="overlap" value="3"' in html and 'value="900"' in html


def batch_form(**changes) -> dict:
    now = timezone.localtime(timezone.now())
    return {
        "name": "week 12", "opens_at": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "closes_at": (now + timedelta(days=8)).strftime("%Y-%m-%dT%H:%M"),
        "helpfulness_quota": "1200", "safety_quota": "400", "overlap": "2",
        "gold_share": "0.05", "test_split_size": "100", "reveal_gold_accuracy": "on", **changes,
    }


def test_create_and_schedule_a_batch(client, manager):
    response = client.post(reverse("console:batch_create"), batch_form(then="scheduled"))
    batch = Batch.objects.get(name="week 12")
    assert response["Location"] == reverse("console:batch", args=[batch.pk])
    assert batch.status == BatchStatus.SCHEDULED and batch.created_by == manager
    assert (batch.helpfulness_quota, batch.safety_quota, batch.overlap) == (1200, 400, 2)
    assert batch.gold_share == 0.05 and batch.reveal_gold_accuracy
    assert batch.closes_at - batch.opens_at == timedelta(days=7)

    draft = client.post(reverse("console:batch_create"), batch_form(name="week 13"))
    assert draft.status_code == 302
    assert Batch.objects.get(name="week 13").status == BatchStatus.DRAFT


def test_bad_batch_settings_are_explained_next_to_their_fields(client, manager):
    make_batch(name="week 12")
    response = client.post(reverse("console:batch_create"), batch_form(
        closes_at=timezone.localtime(timezone.now() - timedelta(days=3)).strftime(
            "%Y-%m-%dT%H:%M"),
        gold_share="1.5", overlap="0",
    ))
    assert response.status_code == 200
    html = response.content.decode()
    assert "A batch must close after it opens." in html
    assert "Write a share from 0 to 1" in html
    assert "Batch with this Name already exists." in html
    assert 'aria-invalid="true"' in html
    assert_accessible(html)
    assert Batch.objects.count() == 1


def test_edit_a_batch_until_it_is_closed(client, manager):
    batch = make_batch(name="week 12", status=BatchStatus.DRAFT)
    page = client.get(reverse("console:batch_edit", args=[batch.pk]))
    assert page.status_code == 200 and 'value="week 12"' in page.content.decode()
    saved = client.post(reverse("console:batch_edit", args=[batch.pk]),
                        batch_form(safety_quota="55"))
    assert saved.status_code == 302
    batch.refresh_from_db()
    assert batch.safety_quota == 55 and batch.status == BatchStatus.DRAFT

    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.CLOSED)
    refused = client.post(reverse("console:batch_edit", args=[batch.pk]),
                          batch_form(safety_quota="1"), follow=True)
    assert b"its settings are final" in refused.content
    batch.refresh_from_db()
    assert batch.safety_quota == 55


def move(client, batch, to):
    return client.post(reverse("console:batch_move", args=[batch.pk]), {"to": to}, follow=True)


def test_open_by_hand_starts_now_then_close_and_reopen(client, manager):
    later = timezone.now() + timedelta(days=2)
    batch = make_batch(status=BatchStatus.SCHEDULED, opens_at=later,
                       closes_at=later + timedelta(days=7))
    page = client.get(reverse("console:batch", args=[batch.pk])).content.decode()
    assert "Open now" in page and "Back to draft" in page and "Close now" not in page

    response = move(client, batch, BatchStatus.OPEN)
    assert "is open" in response.content.decode()
    batch.refresh_from_db()
    assert batch.status == BatchStatus.OPEN and batch.opens_at <= timezone.now()
    assert batch.is_accepting()
    assert "taking judgements now" in response.content.decode()

    move(client, batch, BatchStatus.CLOSED)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.CLOSED and not batch.is_accepting()
    move(client, batch, BatchStatus.OPEN)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.OPEN


def test_moves_the_batch_service_refuses_are_explained(client, manager):
    ended = make_batch(status=BatchStatus.CLOSED,
                       opens_at=timezone.now() - timedelta(days=9),
                       closes_at=timezone.now() - timedelta(days=2))
    response = move(client, ended, BatchStatus.OPEN).content.decode()
    assert "Not changed" in response and "set a later closing time" in response
    final = make_batch(status=BatchStatus.EXPORTED)
    response = move(client, final, BatchStatus.OPEN).content.decode()
    assert "Not changed" in response and "it can move to none" in response
    ended.refresh_from_db()
    final.refresh_from_db()
    assert (ended.status, final.status) == (BatchStatus.CLOSED, BatchStatus.EXPORTED)


# --- The dashboard ------------------------------------------------------------------------


def judge_all(batch, annotators, *, strength="better", side="a"):
    """Each annotator judges what they are served: response A (or B) at ``strength``."""
    made = 0
    for annotator in annotators:
        while (lease := next_assignment(annotator=annotator, batch=batch)) is not None:
            wants_a = side == "a"
            chosen = "left" if lease.a_on_left == wants_a else "right"
            safe = {}
            if lease.comparison.axis == Axis.SAFETY:
                safe = {"left_safe": True, "right_safe": chosen != "left"}
            submit_judgement(annotator=annotator, assignment_id=lease.pk, chosen_side=chosen,
                             strength=strength, **safe)
            made += 1
    return made


def test_dashboard_draws_every_figure_from_the_judgements(client, manager, make_user):
    batch = make_batch(name="week 12", overlap=2, helpfulness_quota=4, safety_quota=2)
    make_comparisons(batch, 3)
    make_comparisons(batch, 1, gold=True)
    make_comparisons(batch, 2, axis=Axis.SAFETY)
    first, second = make_user(Role.ANNOTATOR), make_user(Role.ANNOTATOR)
    judged = judge_all(batch, [first]) + judge_all(batch, [second], strength="slightly_better")
    extra = make_user(Role.ANNOTATOR)
    Batch.objects.filter(pk=batch.pk).update(overlap=3)
    lease = next_assignment(annotator=extra, batch=batch)
    skip_comparison(annotator=extra, assignment_id=lease.pk, reason="can't judge")

    response = client.get(reverse("console:batch", args=[batch.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert_accessible(html)
    assert f'<dd id="total-judged">{judged}</dd>' in html
    assert '<dd id="total-skipped">1</dd>' in html
    for figure in ("per-day", "strengths", "safety-bins", "agreement", "throughput",
                   "median-time", "gold"):
        assert re.search(rf'<figure class="chart-card" id="chart-{figure}">\s*<figcaption>'
                         rf'[^<]+</figcaption>\s*<svg class="chart"', html), figure
    # Both annotators always chose A: they agree on every choice, never on the strength.
    agreement = html[html.index('id="agreement-table"'):]
    assert "<th scope=\"row\">Choice</th><td>100%</td>" in agreement
    assert "<th scope=\"row\">Strength</th><td>0%</td>" in agreement
    # The gold comparison's answer is A: both were right on it.
    people = html[html.index('id="annotator-table"'):]
    assert first.username in people and "100% (1 of 1)" in people
    assert "Both safe" in html and "Preferred safe, other unsafe" in html
    assert "Slightly better" in html and "No training run yet" not in html  # not on this page


def test_an_empty_batch_says_what_is_missing(client, manager):
    batch = make_batch(name="week 12", status=BatchStatus.DRAFT)
    html = client.get(reverse("console:batch", args=[batch.pk])).content.decode()
    assert "No judgements yet." in html and "Nobody has judged this batch yet." in html
    assert "Agreement needs comparisons judged by two or more annotators" in html
    assert "<svg" not in html
    assert 'data-live="0"' in html  # a draft takes no judgements: nothing to poll


def test_live_figures_change_when_a_judgement_arrives(client, manager, make_user):
    batch = make_batch(name="week 12")
    make_comparisons(batch, 2)
    url = reverse("console:batch_live", args=[batch.pk])
    before = client.get(url, {"stamp_only": "1"}).json()["stamp"]
    judge_all(batch, [make_user(Role.ANNOTATOR)])
    after = client.get(url, {"stamp_only": "1"}).json()["stamp"]
    assert before != after
    fragment = client.get(url).content.decode()
    assert f'data-stamp="{after}"' in fragment
    assert '<dd id="total-judged">2</dd>' in fragment and "<html" not in fragment


# --- Imports and exports ----------------------------------------------------------------


def test_an_upload_is_imported_by_a_worker_job(client, manager, settings, tmp_path,
                                              django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.ARTIFACTS_DIR = tmp_path
    batch = make_batch(name="week 12", status=BatchStatus.DRAFT)
    line = json.dumps({"prompt": "How do tides work?", "response_a": "The moon.",
                       "response_b": "Wind."})
    upload = SimpleUploadedFile("week12-pairs.jsonl", (line + "\n").encode())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("console:batch_import", args=[batch.pk]),
                               {"file": upload, "kind": "pairs", "axis": "helpfulness"})
    assert response["Location"].endswith("#imports")
    assert len(callbacks) == 1  # sent to the worker once the request commits
    job = Job.objects.get(task_name="annotation.import_file")
    assert job.kwargs["batch_id"] == batch.pk and job.kwargs["kind"] == "pairs"
    assert open(job.kwargs["path"]).read() == line + "\n"

    # What the worker does, then what the manager sees.
    from paddock.annotation.services.importing import import_file

    import_file(batch=batch, path=job.kwargs["path"], kind="pairs")
    html = client.get(reverse("console:batch", args=[batch.pk])).content.decode()
    imports = html.split('id="imports"')[1]
    assert ">week12-pairs.jsonl" in imports  # the uploader's name, not the stored one
    assert BatchImport.objects.get().file_name == "week12-pairs.jsonl"
    assert re.search(r"[0-9a-f]{32}-week12", imports) is None
    assert BatchImport.objects.get().imported == 1 and batch.comparisons.count() == 1


def test_an_import_recorded_with_the_stored_name_is_listed_under_the_uploaders(client,
                                                                                manager):
    batch = make_batch(name="week 12")
    BatchImport.objects.create(batch=batch, kind="pairs", fingerprint="f" * 64,
                               file_name=f"{'ab12' * 8}-week12-pairs.jsonl")
    imports = client.get(reverse("console:batch", args=[batch.pk])).content.decode()
    imports = imports.split('id="imports"')[1]
    assert ">week12-pairs.jsonl" in imports and "ab12ab12" not in imports


def test_an_import_without_a_file_imports_nothing(client, manager):
    batch = make_batch(name="week 12")
    response = client.post(reverse("console:batch_import", args=[batch.pk]),
                           {"kind": "pairs"}, follow=True)
    assert b"Nothing imported: JSONL file: This field is required." in response.content
    assert not Job.objects.exists()


def test_export_job_progress_then_download(client, manager, make_user, settings, tmp_path,
                                           django_capture_on_commit_callbacks):
    settings.ARTIFACTS_DIR = tmp_path
    batch = make_batch(name="week 12", test_split_size=0)
    make_comparisons(batch, 3)
    judged = judge_all(batch, [make_user(Role.ANNOTATOR)])
    url = reverse("console:batch_export", args=[batch.pk])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(url, {"kind": "preferences"})
        again = client.post(url, {"kind": "preferences"}, follow=True)
    assert b"already queued or running" in again.content
    assert len(callbacks) == 1
    job = Job.objects.get(task_name="annotation.export_batch")
    progress = client.get(reverse("console:job_progress", args=[job.pk])).json()
    assert progress["live"] and progress["state"] == "queued" and not progress["download_url"]
    download = reverse("console:batch_export_file", args=[batch.pk, "preferences"])
    assert client.get(download).status_code == 404

    job_succeed(job.pk, result=export_batch(batch, "preferences"))  # what the worker does
    progress = client.get(reverse("console:job_progress", args=[job.pk])).json()
    assert progress == {**progress, "live": False, "state": "succeeded", "progress": 1.0,
                        "download_url": download, "records": judged}
    response = client.get(download)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    lines = gzip.decompress(b"".join(response.streaming_content)).decode().splitlines()
    assert len(lines) == judged and json.loads(lines[0])["batch"] == "week 12"
    page = client.get(reverse("console:batch", args=[batch.pk])).content.decode()
    assert f'href="{download}" download' in page


# --- Reward models across batches --------------------------------------------------------


def test_no_training_run_yet_is_said_plainly(client, manager, settings, tmp_path):
    settings.MODEL_REGISTRY_DIR = tmp_path / "models"
    html = client.get(reverse("console:home")).content.decode()
    assert "No training run yet." in html
    assert str(tmp_path / "models") in html


def test_reward_model_accuracy_per_strength_across_batches(client, manager, settings,
                                                          tmp_path):
    from paddock.kernel.registry import REWARD_SAFETY, ModelRegistry
    from paddock.training.reward.evaluation import ScoredPair, evaluate, file_stem, to_json
    from paddock.training.reward.pairs import PreferencePair, Turn

    settings.MODEL_REGISTRY_DIR = tmp_path / "models"
    batch = make_batch(name="week 12")
    trained = tmp_path / "trained"
    trained.mkdir()
    (trained / "config.json").write_text("{}")
    version = ModelRegistry(settings.MODEL_REGISTRY_DIR).register(
        REWARD_SAFETY, trained, key="run-1", batch=batch.pk)
    html = client.get(reverse("console:home")).content.decode()
    assert "1 reward model registered, none evaluated yet" in html

    # Significantly better: 2 of 2 right; negligibly better: 1 of 2; nothing in between.
    def pair(i, strength):
        return PreferencePair(id=str(i), context=(Turn("user", "q"),), chosen="a",
                              rejected="b", axis="safety", source="paddock", strength=strength)

    scored = [ScoredPair(pair(1, "significantly_better"), 2.0, 0.0),
              ScoredPair(pair(2, "significantly_better"), 1.0, 0.5),
              ScoredPair(pair(3, "negligibly_better"), 0.1, 0.2),
              ScoredPair(pair(4, "negligibly_better"), 0.3, 0.2)]
    result = evaluate(scored, name="safety RM on week 12")
    folder = version.path / "eval"
    folder.mkdir()
    (folder / f"eval-{file_stem(result.name)}.json").write_text(json.dumps(
        {**to_json(result), "eval_set": {"axis": "safety", "batches": ["week 12"], "pairs": 4}}))

    html = client.get(reverse("console:home")).content.decode()
    table = html[html.index("Reward models: accuracy per strength level"):]
    assert "No training run yet" not in table
    safety = table[table.index('id="reward-safety"'):]
    row = re.search(r"<tr>\s*<td class=\"mono\">reward-safety-0001</td>(.*?)</tr>", safety, re.S)
    cells = re.findall(r"<td(?: class=\"\w+\")?>(.*?)</td>", row.group(1), re.S)
    assert [re.sub(r"<[^>]+>", "", c).strip() for c in cells] == [
        "week 12", "safety held-out set of week 12", "safety RM on week 12", "4",
        "100.0% n=2", NONE, NONE, "50.0% n=2", "75.0%",
    ]
    assert f'href="{reverse("console:batch", args=[batch.pk])}"' in row.group(0)
    helpfulness = table[table.index('id="reward-helpfulness"'):table.index('id="reward-safety"')]
    assert "No helpfulness reward model evaluated on the helpfulness held-out set yet" in (
        helpfulness)


def _register_evaluated(registry, kind, tmp_path, *, key, batch, name, by_level,
                        eval_set=None, extra=None):
    """A registered reward model with one evaluation: ``by_level`` maps a strength to
    (right, wrong) pair counts."""
    from paddock.training.reward.evaluation import ScoredPair, evaluate, file_stem, to_json
    from paddock.training.reward.pairs import PreferencePair, Turn

    trained = tmp_path / key
    trained.mkdir()
    (trained / "config.json").write_text("{}")
    version = registry.register(kind, trained, key=key, batch=batch)
    scored, i = [], 0
    for strength, (right, wrong) in by_level.items():
        for good in [True] * right + [False] * wrong:
            i += 1
            pair = PreferencePair(id=str(i), context=(Turn("user", "q"),), chosen="a",
                                  rejected="b", axis="helpfulness", source="paddock",
                                  strength=strength)
            scored.append(ScoredPair(pair, 1.0 if good else 0.0, 0.0 if good else 1.0))
    data = to_json(evaluate(scored, name=name))
    if eval_set is not None:
        data["eval_set"] = eval_set
    data.update(extra or {})
    folder = version.path / "eval"
    folder.mkdir(exist_ok=True)
    path = folder / f"eval-{file_stem(name)}.json"
    path.write_text(json.dumps(data))
    return version, path


def test_reward_models_compare_like_with_like_per_axis_across_weeks(client, manager, settings,
                                                                    tmp_path):
    from paddock.kernel.registry import REWARD_HELPFULNESS, REWARD_SAFETY, ModelRegistry
    from paddock.workers.models import RunState, StepRun
    from tests.platform.test_console_pipelines import make_run

    settings.MODEL_REGISTRY_DIR = tmp_path / "models"
    registry = ModelRegistry(settings.MODEL_REGISTRY_DIR)
    week1, week2 = make_batch(name="week 1"), make_batch(name="week 2")
    sig, neg = "significantly_better", "negligibly_better"
    # Week 1: the helpfulness RM on the helpfulness set (recorded in its JSON) ...
    _register_evaluated(registry, REWARD_HELPFULNESS, tmp_path, key="h1", batch=week1.pk,
                        name="helpfulness RM on week 1", by_level={sig: (3, 1), neg: (1, 1)},
                        eval_set={"axis": "helpfulness", "batches": ["week 1"], "pairs": 6})
    # ... and on the safety set: not compared with the helpfulness row.
    h1 = registry.find("h1")
    crossed = json.loads((h1.path / "eval" / "eval-helpfulness-RM-on-week-1.json").read_text())
    crossed.update(name="helpfulness RM on week 1 safety", eval_set={"axis": "safety"})
    (h1.path / "eval" / "eval-crossed.json").write_text(json.dumps(crossed))
    # Week 2: the set is named by the evaluate step's result, not in the JSON.
    _, h2_json = _register_evaluated(
        registry, REWARD_HELPFULNESS, tmp_path, key="h2", batch=week2.pk,
        name="helpfulness RM on week 2", by_level={sig: (4, 0), neg: (1, 1)})
    run = make_run(week2, state=RunState.SUCCEEDED)
    StepRun.objects.filter(pipeline=run, step="evaluate_rms").update(
        state=RunState.SUCCEEDED, result={
            "helpfulness": {"accuracy": 0.83, "pairs": 6, "json": str(h2_json),
                            "eval_set": {"axis": "helpfulness", "batches": ["week 1", "week 2"],
                                         "pairs": 6}}})
    # The safety RM of week 2, on the safety set.
    _register_evaluated(registry, REWARD_SAFETY, tmp_path, key="s2", batch=week2.pk,
                        name="safety RM on week 2", by_level={sig: (2, 0), neg: (0, 2)},
                        eval_set={"axis": "safety", "batches": ["week 2"], "pairs": 4})
    # One with no eval_set anywhere, one missing its per-strength figures, one not JSON.
    _register_evaluated(registry, REWARD_SAFETY, tmp_path, key="s3", batch=week2.pk,
                        name="safety RM, set unknown", by_level={sig: (1, 0)})
    s3 = registry.find("s3")
    (s3.path / "eval" / "eval-no-levels.json").write_text(json.dumps(
        {"name": "broken", "accuracy": 0.5, "eval_set": {"axis": "safety"}}))
    (s3.path / "eval" / "eval-garbage.json").write_text("{not json")

    response = client.get(reverse("console:home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert_accessible(html)
    helpfulness = html[html.index('id="reward-helpfulness"'):html.index('id="reward-safety"')]
    safety = html[html.index('id="reward-safety"'):html.index('id="reward-crossed"')]
    crossed_part = html[html.index('id="reward-crossed"'):]

    versions = re.findall(r'<td class="mono">(reward-[a-z]+-\d+)</td>', helpfulness)
    assert versions == ["reward-helpfulness-0001", "reward-helpfulness-0002"]
    assert "helpfulness held-out set of week 1, week 2" in helpfulness  # from the step result
    assert re.findall(r'<td class="mono">(reward-[a-z]+-\d+)</td>', safety) == [
        "reward-safety-0001"]
    assert "helpfulness RM on week 1 safety" in crossed_part
    assert "helpfulness RM on week 1 safety" not in helpfulness + safety
    notes = html[html.index('id="reward-notes"'):]
    assert "reward-safety-0002, “safety RM, set unknown”: left out of the comparison" in notes
    assert "eval-no-levels.json: no accuracy per strength level" in html
    assert "eval-garbage.json" in html

    # The chart across weeks: one line per strength level and the average.
    svg = helpfulness[helpfulness.index("<svg"):helpfulness.index("</svg>")]
    for name in ("Significantly better", "Better", "Slightly better", "Negligibly / unsure",
                 "Average"):
        assert f">{name}</text>" in svg
    assert svg.count("<polyline") == 3  # two levels with pairs + the average; empty ones gap
    assert "<title>0001 week 1: Significantly better 75.0%</title>" in svg
    assert "<title>0002 week 2: Average 83.3%</title>" in svg
    assert "style=" not in svg


# --- Jobs, home, navigation --------------------------------------------------------------


def test_jobs_page_lists_and_filters_jobs(client, manager):
    Job.objects.create(task_name="curation.run", queue="curation", label="Curation run june",
                       state=JobState.FAILED, message="ValueError: no sources")
    Job.objects.create(task_name="annotation.export_batch", queue="default",
                       label="Export raw of week 12", state=JobState.RUNNING, progress=0.4)
    html = client.get(reverse("console:jobs")).content.decode()
    assert_accessible(html)
    assert "Curation run june" in html and "Export raw of week 12" in html
    assert "(1 queued or running)" in html
    failed = client.get(reverse("console:jobs"), {"state": "failed"}).content.decode()
    assert "Curation run june" in failed and "Export raw of week 12" not in failed


def test_counts_of_one_are_singular_on_the_console(client, manager):
    Job.objects.create(task_name="annotation.export_batch", queue="default",
                       label="Export raw of week 12", state=JobState.SUCCEEDED,
                       result={"records": 1})
    html = client.get(reverse("console:jobs")).content.decode()
    assert "The newest 1 are shown" not in html and "The only one is shown." in html
    batch = make_batch(name="week 12", test_split_size=1)
    html = client.get(reverse("console:batch", args=[batch.pk])).content.decode()
    assert "1 comparisons" not in html and "<dd>1 comparison</dd>" in html


def test_jobs_page_and_home_count_and_list_weekly_cycle_steps(client, manager):
    from paddock.workers.models import StepRun

    run = PipelineRun.objects.create(batch=make_batch(name="week 12"), state=JobState.RUNNING)
    for position, (name, state) in enumerate([("close_batch", JobState.SUCCEEDED),
                                              ("export", JobState.RUNNING),
                                              ("train_rm_helpfulness", "pending")]):
        StepRun.objects.create(pipeline=run, step=name, position=position, queue="default",
                               state=state, message="exporting" if name == "export" else "")
    html = client.get(reverse("console:jobs")).content.decode()
    assert_accessible(html)
    assert "(1 queued or running)" in html  # the running step; no job at all
    steps = html.split('id="pipeline-steps"')[1]
    assert steps.count('<tr class="pipeline-step"') == 2  # pending steps wait on the run page
    assert "Export judgements and prompts" in steps and "week 12" in steps
    assert reverse("console:run", args=[run.pk]) + "#step-export" in steps
    running = client.get(reverse("console:jobs"), {"state": "running"}).content.decode()
    assert running.split('id="pipeline-steps"')[1].count('<tr class="pipeline-step"') == 1
    assert "(1 queued or running)" in client.get(reverse("console:home")).content.decode()


def test_one_navigation_links_console_batches_curation_and_jobs(client, manager):
    make_batch(name="week 12")
    html = client.get(reverse("console:home")).content.decode()
    nav = html[html.index("<nav>"):html.index("</nav>")]
    for name in ("console:home", "console:batches", "curation:home", "console:jobs"):
        assert f'href="{reverse(name)}"' in nav, name
    assert "week 12" in html  # batches in progress
    batches = client.get(reverse("console:batches")).content.decode()
    assert "week 12" in batches and "New batch" in batches


# --- Charts --------------------------------------------------------------------------------


def test_line_chart_gaps_escaping_and_empty():
    chart = line_chart("l", "Accuracy <by> week",
                       [Row("<b>w1</b>", (0.5, None)), Row("w2", (0.75, 0.6)),
                        Row("w3", (1.0, 0.7))],
                       [Series("Level", "line-1"), Series("Average", "line-5")], reference=0.5)
    assert "<b>" not in chart.svg and "&lt;b&gt;w1&lt;/b&gt;" in chart.svg
    assert "&lt;by&gt;" in chart.svg and "style=" not in chart.svg
    assert chart.svg.count("<polyline") == 2 and chart.svg.count("<circle") == 5
    assert 'class="reference"' in chart.svg and "<title>w2: Average 60.0%</title>" in chart.svg
    assert not chart.empty
    assert line_chart("e", "Nothing", [Row("w1", (None,))], [Series("A", "line-1")]).empty
    assert line_chart("e", "Nothing", [], [Series("A", "line-1")]).empty


def test_chart_scales_and_escaping():
    assert axis_ticks(0) == [0, 1] and axis_ticks(1) == [0, 1]
    assert axis_ticks(3) == [0, 1, 2, 3] and axis_ticks(5) == [0, 2, 4, 6]
    assert axis_ticks(240) == [0, 100, 200, 300]
    assert axis_ticks(40.3, whole=False) == [0, 20, 40, 60]
    chart = bar_chart("x", "Judgements <per> annotator",
                      [Row("<script>alert(1)</script>", (3, 1), "3 + 1")],
                      [Series("Judged", "bar-1"), Series("Skipped", "bar-2")])
    assert "<script>" not in chart.svg and "&lt;script&gt;" in chart.svg
    assert "&lt;per&gt;" in chart.svg and not chart.empty
    assert 'aria-labelledby="x-title"' in chart.svg and "style=" not in chart.svg
    empty = column_chart("d", "Per day", [Row("11-23", (0, 0))],
                         [Series("Judged", "bar-1"), Series("Skipped", "bar-2")])
    assert empty.empty
