"""The console's "Training" pages: the weekly pipeline runs, each with its steps, and the
manager's start, cancel and re-run.

No worker runs here: the services send their Celery tasks on commit, which a ``db`` test
never reaches, so the rows are made (or moved) with the ORM to stand for what workers do.
Who may open these pages is walked with the other console URLs in test_console.py.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from paddock.annotation.models import BatchStatus
from paddock.console.pipelines import log_lines, result_figures
from paddock.platform.accounts.models import Role
from paddock.workers.models import PipelineRun, RunState, StepRun
from paddock.workers.pipeline.plan import STEP_NAMES, STEPS
from tests.annotation.factories import make_batch
from tests.platform.test_console import assert_accessible

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(client, make_user):
    user = make_user(Role.DATA_MANAGER)
    client.force_login(user)
    return user


@pytest.fixture(autouse=True)
def artifacts(settings, tmp_path):
    settings.ARTIFACTS_DIR = tmp_path  # a re-run moves a failed step's folder


def make_run(batch=None, *, state=RunState.RUNNING, steps=None, **fields) -> PipelineRun:
    """A run whose steps are in ``steps`` (name to state; the others pending), as the
    workers would have left it."""
    now = timezone.now()
    run = PipelineRun.objects.create(batch=batch or make_batch(), state=state,
                                     started_at=now - timedelta(minutes=5), **fields)
    # Made a moment before it started, as a queued run is (created_at is set on insert).
    PipelineRun.objects.filter(pk=run.pk).update(created_at=now - timedelta(minutes=6))
    run.refresh_from_db()
    for position, spec in enumerate(STEPS):
        step_state = (steps or {}).get(spec.name, RunState.PENDING)
        done = step_state in (RunState.SUCCEEDED, RunState.FAILED)
        StepRun.objects.create(
            pipeline=run, step=spec.name, position=position, queue=spec.queue.value,
            state=step_state, progress=1.0 if step_state == RunState.SUCCEEDED else 0.0,
            attempts=1 if done or step_state == RunState.RUNNING else 0,
            started_at=now - timedelta(minutes=4) if done or step_state == RunState.RUNNING
            else None,
            finished_at=now - timedelta(minutes=1) if done else None,
        )
    return run


def step_states(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<tr class="step" id="step-\w+" data-step="(\w+)" data-state="(\w+)">',
                      html)


# --- The pages ---------------------------------------------------------------------------


def test_runs_are_listed_newest_first_with_their_current_step(client, manager):
    older = make_run(make_batch(name="week 11"), state=RunState.FAILED,
                     steps={"close_batch": RunState.SUCCEEDED, "export": RunState.FAILED})
    PipelineRun.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=7))
    newer = make_run(make_batch(name="week 12"),
                     steps={"close_batch": RunState.SUCCEEDED, "export": RunState.RUNNING})

    response = client.get(reverse("console:runs"))
    assert response.status_code == 200
    html = response.content.decode()
    assert_accessible(html)
    rows = html[html.index('id="runs-table"'):].split('<tr class="run">')[1:]
    assert all(str(run.pk)[:8] in row for row, run in zip(rows, (newer, older), strict=True))
    assert "week 12" in rows[0] and "Running" in rows[0]
    assert "Export judgements and prompts" in rows[0] and "(1 of 10 done)" in rows[0]
    assert "week 11" in rows[1] and "Failed" in rows[1]
    assert "Export judgements and prompts" in rows[1]  # the step that stopped it
    assert "(1 active)" in html
    assert f'href="{reverse("console:runs")}">Training</a>' in html  # in the navigation


def test_one_run_is_not_called_the_newest_1_runs(client, manager):
    make_run()
    html = client.get(reverse("console:runs")).content.decode()
    assert "The newest 1 runs" not in html and "The only run, read from the database" in html


def test_no_runs_yet_says_how_one_starts(client, manager):
    html = client.get(reverse("console:runs")).content.decode()
    assert "No training runs yet." in html and "Run the weekly cycle now" in html


def test_a_run_shows_its_steps_in_order_with_states_and_figures(client, manager):
    run = make_run(steps={"close_batch": RunState.SUCCEEDED, "export": RunState.SUCCEEDED,
                          "train_helpfulness_rm": RunState.SUCCEEDED,
                          "train_safety_rm": RunState.SUCCEEDED,
                          "evaluate_rms": RunState.SUCCEEDED,
                          "rejection_sampling": RunState.RUNNING})
    run.steps.filter(step="train_helpfulness_rm").update(result={
        "version": "reward-helpfulness-0003", "path": "/models/x", "metrics": {"loss": 0.41237}})
    run.steps.filter(step="evaluate_rms").update(result={
        "helpfulness": {"accuracy": 0.6875, "pairs": 32, "json": "/x.json"},
        "safety": {"skipped": "no held-out judgements in this batch"}})
    run.steps.filter(step="rejection_sampling").update(progress=0.5, worker="gpu-1@box",
                                                       message="sampling 2 of 4")

    response = client.get(reverse("console:run", args=[run.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert_accessible(html)
    assert step_states(html) == [
        ("close_batch", "succeeded"), ("export", "succeeded"),
        ("train_helpfulness_rm", "succeeded"), ("train_safety_rm", "succeeded"),
        ("evaluate_rms", "succeeded"), ("rejection_sampling", "running"),
        ("ppo", "pending"), ("register_policy", "pending"), ("sample_next_batch", "pending"),
        ("open_next_batch", "pending"),
    ]
    for spec in STEPS:
        assert escape(spec.title) in html
    assert "<dt>Version</dt><dd>reward-helpfulness-0003</dd>" in html
    assert "<dt>Loss</dt><dd>0.4124</dd>" in html
    assert "<dt>Helpfulness RM accuracy</dt><dd>68.8% on 32 held-out pairs</dd>" in html
    assert "not measured: no held-out judgements in this batch" in html
    running = html[html.index('id="step-rejection_sampling"'):html.index('id="step-ppo"')]
    assert "sampling 2 of 4" in running and "gpu-1@box" in running and 'value="0.5' in running
    # Active: polled, and the manager may cancel it (not re-run it).
    assert 'data-live="1"' in html and reverse("console:run_live", args=[run.pk]) in html
    assert reverse("console:run_cancel", args=[run.pk]) in html
    assert reverse("console:run_rerun", args=[run.pk]) not in html
    assert reverse("console:batch", args=[run.batch_id]) in html


def test_the_live_partial_is_the_steps_alone_and_stops_when_the_run_ends(client, manager):
    run = make_run(steps={"close_batch": RunState.RUNNING})
    url = reverse("console:run_live", args=[run.pk])
    fragment = client.get(url).content.decode()
    assert "<html" not in fragment and 'data-live="1"' in fragment
    assert step_states(fragment)[0] == ("close_batch", "running")

    run.steps.filter(step="close_batch").update(state=RunState.SUCCEEDED, progress=1.0)
    PipelineRun.objects.filter(pk=run.pk).update(state=RunState.SUCCEEDED)
    fragment = client.get(url).content.decode()
    assert 'data-live="0"' in fragment  # console.js reloads the page for its buttons
    assert step_states(fragment)[0] == ("close_batch", "succeeded")


def test_a_log_and_an_error_are_shown_escaped(client, manager):
    run = make_run(state=RunState.FAILED, steps={"close_batch": RunState.FAILED})
    run.steps.filter(step="close_batch").update(
        log_tail="epoch 1 <script>alert('log')</script>", error="Traceback <b>boom</b>")
    html = client.get(reverse("console:run", args=[run.pk])).content.decode()
    assert "<script>alert" not in html and "<b>boom" not in html
    assert "epoch 1 &lt;script&gt;alert(&#x27;log&#x27;)&lt;/script&gt;" in html
    assert '<details id="log-close_batch"><summary>Error and log</summary>' in html
    assert '<pre class="error">Traceback &lt;b&gt;boom&lt;/b&gt;</pre>' in html


def test_a_finished_run_links_its_next_batch_and_offers_a_rerun(client, manager):
    following = make_batch(name="week 13", status=BatchStatus.DRAFT)
    run = make_run(state=RunState.FAILED, next_batch=following,
                   steps={"close_batch": RunState.SUCCEEDED, "export": RunState.FAILED})
    html = client.get(reverse("console:run", args=[run.pk])).content.decode()
    assert f'href="{reverse("console:batch", args=[following.pk])}" id="next-batch"' in html
    assert 'data-live="0"' in html and reverse("console:run_cancel", args=[run.pk]) not in html
    assert '<label for="rerun-from">Re-run from</label>' in html
    # The step that failed is proposed first.
    assert '<option value="export" selected>2. Export judgements and prompts</option>' in html


def test_result_figures_leave_paths_out_and_keep_a_few_metrics():
    assert result_figures(None) == []
    figures = result_figures({"version": "policy-0002", "path": "/a/b", "new": True,
                              "metrics": {"ppo": {"reward": 1.5, "kl": 0.01}, "note": "x",
                                          "list": [1, 2]}})
    assert figures == [("Version", "policy-0002"), ("PPO: mean reward", "1.5"),
                       ("PPO: KL divergence", "0.01"), ("Note", "x")]


def test_step_figures_have_names_and_units_not_keys():
    figures = result_figures({"metrics": {"mean_loss_last_10_steps": 0.51234,
                                          "seconds": 12.5, "final_loss": 0.5}})
    assert figures == [("Mean loss, last 10 steps", "0.5123"), ("Training time", "12.5 s"),
                       ("Final loss", "0.5")]


def test_a_json_log_reads_as_lines():
    text = log_lines('$ python -m paddock.training.reward train\n'
                     '{"event": "progress", "step": 3, "total_steps": 10, "loss": 0.5}\n'
                     '{"event": "done", "metrics": {"steps": 10}}\nplain line\n'
                     '{"eta_seconds": 12, "final_loss": null}')
    assert text == ("$ python -m paddock.training.reward train\n"
                    "progress: step 3, steps planned 10, loss 0.5\n"
                    'done: metrics {"steps": 10}\nplain line\n'
                    "ETA 12 s, final loss \N{EN DASH}")


# --- Start, cancel, re-run ---------------------------------------------------------------


def test_run_now_starts_a_run_of_every_step_and_shows_it(client, manager,
                                                         django_capture_on_commit_callbacks):
    batch = make_batch(name="week 12")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("console:batch_run_pipeline", args=[batch.pk]))
    run = PipelineRun.objects.get(batch=batch)
    assert response.status_code == 302
    assert response["Location"] == reverse("console:run", args=[run.pk])
    assert len(callbacks) == 1  # the steps go to the workers once the request commits
    assert run.trigger == PipelineRun.Trigger.MANUAL and run.created_by == manager
    assert list(run.steps.order_by("position").values_list("step", flat=True)) == list(
        STEP_NAMES)
    assert run.steps.count() == 10

    # A second click finds the run that is going instead of starting another.
    again = client.post(reverse("console:batch_run_pipeline", args=[batch.pk]), follow=True)
    assert again.redirect_chain[-1][0] == reverse("console:run", args=[run.pk])
    assert PipelineRun.objects.filter(batch=batch).count() == 1
    assert b"already has a run going" in again.content

    page = client.get(reverse("console:batch", args=[batch.pk])).content.decode()
    training = page[page.index('id="training"'):page.index('id="progress-title"')]
    assert "A weekly cycle is running" in training and "Run the weekly cycle now" not in training
    assert reverse("console:run", args=[run.pk]) in training


def test_a_draft_batch_cannot_run_the_cycle(client, manager):
    batch = make_batch(name="week 14", status=BatchStatus.DRAFT)
    page = client.get(reverse("console:batch", args=[batch.pk])).content.decode()
    assert "Run the weekly cycle now" not in page
    response = client.post(reverse("console:batch_run_pipeline", args=[batch.pk]), follow=True)
    assert b"Not started: batch week 14 is draft" in response.content
    assert not PipelineRun.objects.exists()


def test_a_batch_page_lists_its_runs(client, manager):
    batch = make_batch(name="week 12", status=BatchStatus.CLOSED)
    run = make_run(batch, state=RunState.FAILED, steps={"close_batch": RunState.FAILED})
    page = client.get(reverse("console:batch", args=[batch.pk])).content.decode()
    assert_accessible(page)
    runs = page[page.index('id="batch-runs"'):]
    assert reverse("console:run", args=[run.pk]) in runs and "Failed" in runs
    assert "Run the weekly cycle now" in page  # nothing active: a new run may start


def test_cancel_stops_an_active_run(client, manager):
    run = make_run(steps={"close_batch": RunState.SUCCEEDED, "export": RunState.RUNNING})
    response = client.post(reverse("console:run_cancel", args=[run.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("console:run", args=[run.pk])
    assert b"Run cancelled" in response.content
    run.refresh_from_db()
    assert run.state == RunState.CANCELLED and run.finished_at is not None
    states = dict(run.steps.values_list("step", "state"))
    assert states["close_batch"] == RunState.SUCCEEDED
    assert states["export"] == RunState.CANCELLED
    assert {states[name] for name in STEP_NAMES[2:]} == {RunState.CANCELLED}
    html = response.content.decode()
    assert 'data-live="0"' in html and reverse("console:run_rerun", args=[run.pk]) in html


def test_an_annotator_cannot_cancel_a_run(client, make_user):
    run = make_run(steps={"close_batch": RunState.RUNNING})
    client.force_login(make_user(Role.ANNOTATOR))
    assert client.post(reverse("console:run_cancel", args=[run.pk])).status_code == 403
    assert client.get(reverse("console:run", args=[run.pk])).status_code == 403
    client.logout()
    response = client.post(reverse("console:run_cancel", args=[run.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    run.refresh_from_db()
    assert run.state == RunState.RUNNING


def test_rerun_from_a_failed_step_reuses_the_earlier_ones(client, manager):
    run = make_run(state=RunState.FAILED,
                   steps={"close_batch": RunState.SUCCEEDED, "export": RunState.SUCCEEDED,
                          "train_helpfulness_rm": RunState.FAILED,
                          "train_safety_rm": RunState.SUCCEEDED})
    run.steps.filter(step="export").update(result={"prompt_count": 12})
    # Either RM of the parallel pair re-runs both.
    response = client.post(reverse("console:run_rerun", args=[run.pk]),
                           {"from_step": "train_safety_rm"}, follow=True)
    new = PipelineRun.objects.exclude(pk=run.pk).get()
    assert response.redirect_chain[-1][0] == reverse("console:run", args=[new.pk])
    assert new.trigger == PipelineRun.Trigger.RERUN and new.batch_id == run.batch_id
    assert new.created_by == manager and new.is_active
    html = response.content.decode()
    assert "Re-running from \N{LEFT DOUBLE QUOTATION MARK}Train the helpfulness RM" in html
    assert step_states(html)[:4] == [
        ("close_batch", "succeeded"), ("export", "succeeded"),
        ("train_helpfulness_rm", "queued"), ("train_safety_rm", "queued")]
    export = new.steps.get(step="export")
    assert export.result == {"prompt_count": 12} and export.message.startswith("reused from")
    assert "<dt>Prompts</dt><dd>12</dd>" in html
    run.refresh_from_db()
    assert run.state == RunState.FAILED  # the old run is left as it was


def test_rerun_of_an_active_run_is_refused_with_the_reason(client, manager):
    run = make_run(steps={"close_batch": RunState.RUNNING})
    response = client.post(reverse("console:run_rerun", args=[run.pk]),
                           {"from_step": "close_batch"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("console:run", args=[run.pk])
    assert (b'<p class="flash error">Not re-run: this run is still active: cancel it first, '
            b"or wait for it.</p>") in response.content
    assert PipelineRun.objects.count() == 1


def test_rerun_past_an_unfinished_step_is_refused(client, manager):
    run = make_run(state=RunState.FAILED, steps={"close_batch": RunState.SUCCEEDED,
                                                 "export": RunState.FAILED})
    response = client.post(reverse("console:run_rerun", args=[run.pk]),
                           {"from_step": "ppo"}, follow=True)
    assert b"Not re-run: cannot start at ppo: export" in response.content
    response = client.post(reverse("console:run_rerun", args=[run.pk]),
                           {"from_step": "nope"}, follow=True)
    assert b"Not re-run: unknown step" in response.content
    assert PipelineRun.objects.count() == 1


def test_the_batch_form_sets_which_steps_the_weekly_cycle_runs(client, manager):
    from paddock.workers.pipeline.service import pipeline_start
    from tests.platform.test_console import batch_form

    page = client.get(reverse("console:batch_create")).content.decode()
    assert "Run the weekly cycle when it closes" in page and "PPO" in page
    form = batch_form(name="week 5", pipeline_on_close="on", step_rejection_sampling="on",
                      step_ppo="on", step_sample_next_batch="on")  # open_next_batch off
    assert client.post(reverse("console:batch_create"), form).status_code == 302
    from paddock.annotation.models import Batch

    batch = Batch.objects.get(name="week 5")
    assert batch.pipeline_on_close is True
    assert batch.pipeline_plan["steps"] == {"rejection_sampling": True, "ppo": True,
                                            "sample_next_batch": True,
                                            "open_next_batch": False}
    run = pipeline_start(batch)
    assert run.plan["steps"]["ppo"] is True and run.plan["steps"]["open_next_batch"] is False


# --- Plan presets --------------------------------------------------------------------------


def test_the_batch_form_picks_a_preset_and_overrides_it(client, manager):
    from paddock.annotation.models import Batch
    from paddock.workers.pipeline.service import pipeline_start
    from tests.platform.test_console import batch_form

    page = client.get(reverse("console:batch_create")).content.decode()
    assert_accessible(page)
    assert "Plan preset" in page and 'value="recipe"' in page
    assert re.search(r'<option value="demo"[^>]*selected', page)  # demo is the default
    form = batch_form(name="week 5", pipeline_preset="recipe", step_rejection_sampling="on",
                      step_ppo="on", step_sample_next_batch="on", step_open_next_batch="on",
                      pipeline_overrides='{"ppo": {"iterations": 400}}')
    response = client.post(reverse("console:batch_create"), form)
    assert response.status_code == 302, response.content.decode()
    batch = Batch.objects.get(name="week 5")
    assert batch.pipeline_plan == {
        "preset": "recipe", "ppo": {"iterations": 400},
        "steps": {"rejection_sampling": True, "ppo": True, "sample_next_batch": True,
                  "open_next_batch": True}}
    run = pipeline_start(batch)
    assert run.plan["preset"] == "recipe" and run.plan["steps"]["ppo"] is True
    assert run.plan["ppo"]["iterations"] == 400 and run.plan["ppo"]["batch_size"] == 512

    # The edit form shows what is stored, and saving it unchanged keeps it.
    edit = client.get(reverse("console:batch_edit", args=[batch.pk])).content.decode()
    assert re.search(r'<option value="recipe"[^>]*selected', edit)
    assert "&quot;iterations&quot;: 400" in edit
    page = client.get(reverse("console:batch", args=[batch.pk])).content.decode()
    plan = page[page.index('id="batch-plan"'):]
    assert "recipe" in plan and "PPO" in plan and "iterations" in plan


@pytest.mark.parametrize(("preset", "overrides", "message"), [
    ("demo", '{"ppo": {"micro_batch_size": 8}}',
     "plan.ppo: minibatch_size 4 is not a multiple of micro_batch_size 8."),
    ("recipe", '{"ppo": {"batch_size": 100}}',
     "plan.ppo: batch_size 100 is not a multiple of minibatch_size 64."),
    ("demo", '{"rejection": {"temperature": 0}}',
     "plan.rejection: temperature must be a number above 0, not 0."),
    ("demo", '{"ppo": {"iterations": 4,}}', "Not JSON:"),
    ("demo", "[1, 2]", "Write a JSON object"),
    ("demo", '{"steps": {"ppo": true}}', "Leave out steps"),
    ("demo", '{"nope": 1}', "plan: unknown key &#x27;nope&#x27;"),
    ("huge", "", "Select a valid choice. huge is not one of the available choices."),
])
def test_a_bad_plan_is_explained_on_the_form(client, manager, preset, overrides, message):
    from paddock.annotation.models import Batch
    from tests.platform.test_console import batch_form

    response = client.post(reverse("console:batch_create"), batch_form(
        name="week 6", pipeline_preset=preset, pipeline_overrides=overrides))
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert 'aria-invalid="true"' in html or "has-error" in html
    assert not Batch.objects.filter(name="week 6").exists()


def test_a_bad_stored_plan_is_said_plainly_not_a_500(client, manager):
    batch = make_batch(name="week 7", status=BatchStatus.OPEN)
    batch.pipeline_plan = {"ppo": {"minibatch_size": 3}}  # set past the form (admin, API)
    batch.save()
    page = client.get(reverse("console:batch", args=[batch.pk]))
    assert page.status_code == 200
    assert b"The plan stored with this batch is refused: plan.ppo: batch_size 8 is not a " \
           b"multiple of minibatch_size 3" in page.content
    edit = client.get(reverse("console:batch_edit", args=[batch.pk]))
    assert edit.status_code == 200
    response = client.post(reverse("console:batch_run_pipeline", args=[batch.pk]), follow=True)
    assert b"Not started: plan.ppo: batch_size 8 is not a multiple of minibatch_size 3" \
        in response.content
    assert not PipelineRun.objects.exists()

    batch.pipeline_plan = ["ppo"]  # not even an object
    batch.save()
    page = client.get(reverse("console:batch", args=[batch.pk]))
    assert page.status_code == 200 and b"plan: must be an object" in page.content
    assert client.get(reverse("console:batch_edit", args=[batch.pk])).status_code == 200
    response = client.post(reverse("console:batch_run_pipeline", args=[batch.pk]), follow=True)
    assert b"Not started: plan: the plan stored with this batch is not a JSON object" \
        in response.content
    assert not PipelineRun.objects.exists()


def test_run_now_with_a_preset(client, manager):
    batch = make_batch(name="week 8", status=BatchStatus.OPEN)
    page = client.get(reverse("console:batch", args=[batch.pk])).content.decode()
    assert_accessible(page)
    form = page[page.index('id="run-pipeline"'):]
    assert re.search(r'<option value="demo"[^>]*selected', form)
    response = client.post(reverse("console:batch_run_pipeline", args=[batch.pk]),
                           {"preset": "recipe"})
    run = PipelineRun.objects.get(batch=batch)
    assert response["Location"] == reverse("console:run", args=[run.pk])
    assert run.plan["preset"] == "recipe" and run.plan["reward"]["batch_pairs"] == 512
    batch.refresh_from_db()
    assert batch.pipeline_plan["preset"] == "recipe"  # the next start uses it too

    page = client.get(reverse("console:run", args=[run.pk])).content.decode()
    assert re.search(r'id="run-preset">recipe ', page)
    listed = client.get(reverse("console:runs")).content.decode()
    assert "<td>recipe</td>" in listed


def test_run_now_refuses_an_unknown_preset_or_one_the_overrides_break(client, manager):
    batch = make_batch(name="week 9", status=BatchStatus.OPEN)
    response = client.post(reverse("console:batch_run_pipeline", args=[batch.pk]),
                           {"preset": "huge"}, follow=True)
    assert b"Not started: Select a valid choice." in response.content
    batch.pipeline_plan = {"ppo": {"batch_size": 8}}  # good with demo's minibatch of 4 ...
    batch.save()
    response = client.post(reverse("console:batch_run_pipeline", args=[batch.pk]),
                           {"preset": "recipe"}, follow=True)  # ... not with recipe's 64
    assert (b"Not started: plan.ppo: batch_size 8 is not a multiple of minibatch_size 64."
            in response.content)
    assert not PipelineRun.objects.exists()
    batch.refresh_from_db()
    assert batch.pipeline_plan == {"ppo": {"batch_size": 8}}  # unchanged


def test_a_run_from_before_presets_says_so(client, manager):
    run = make_run(make_batch(name="week 10"), plan={"steps": {"ppo": False}})
    page = client.get(reverse("console:run", args=[run.pk])).content.decode()
    assert 'id="run-preset">none (a plan from before presets)' in page


def test_a_new_batch_proposes_the_latest_batchs_preset(client, manager):
    batch = make_batch(name="week 20")
    batch.pipeline_plan = {"preset": "recipe"}
    batch.save()
    page = client.get(reverse("console:batch_create")).content.decode()
    assert re.search(r'<option value="recipe"[^>]*selected', page)
