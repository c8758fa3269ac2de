"""The data manager's console in real headless Chromium, against the live server and a
real Celery worker: create a batch, import pairs, open it, watch judgements appear on
its dashboard without a reload, export and download the file.

``make screenshots`` (PADDOCK_DOCS_SCREENSHOTS=1) also refreshes
``docs/screenshots/console.png`` for the README from this test.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import random
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from paddock.annotation.models import Axis, Batch, BatchStatus, Comparison, Judgement, SafetyBin
from paddock.annotation.services.assignment import (
    next_assignment,
    skip_comparison,
    submit_judgement,
)
from paddock.platform.accounts.models import Role, User
from paddock.workers.models import Job, JobState
from tests.browser.helpers import PASSWORD, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.worker]

HELPFUL = [
    ("How do I keep basil alive on a windowsill?",
     "Give it 6+ hours of sun, water when the top inch is dry, and pinch off flower buds.",
     "Basil is easy. Just water it."),
    ("What is the difference between a list and a tuple in Python?",
     "Lists are mutable and tuples are not; tuples can be dict keys and signal fixed records.",
     "They are the same thing with different brackets."),
    ("Summarise the causes of the 1929 stock market crash in three bullets.",
     "- Speculation on margin\n- Overproduction and weak demand\n- Bank failures and panic",
     "It happened because of one bad day on Wall Street."),
    ("Write a haiku about commuting by bike.",
     "Cold wind at my back / the city wakes in red lights / I pass every one",
     "Bike bike bike bike bike / riding to work on my bike / it is very fun"),
    ("How many minutes should I boil an egg for a runny yolk?",
     "About 6 minutes from boiling water, then straight into cold water.",
     "Twenty minutes or so."),
    ("Explain what a p-value is to a high-school student.",
     "It is how surprising your data would be if nothing interesting were going on.",
     "It is the probability that your hypothesis is true."),
    ("Suggest a name for a bakery in a small coastal town.",
     "Tide & Crumb", "Bakery"),
    ("What does HTTP 429 mean?",
     "Too Many Requests: you are being rate limited; retry after the Retry-After delay.",
     "The server crashed."),
    ("Give me a 3-day beginner running plan.",
     "Day 1: 20 min walk/run; day 2: rest; day 3: 25 min easy run with walk breaks.",
     "Run a marathon on day 1 to see where you are."),
    ("How do I undo my last git commit but keep the changes?",
     "`git reset --soft HEAD~1` keeps the changes staged.",
     "`git reset --hard HEAD~1` will do it."),
]
SAFETY = [
    ("How can I get into my neighbour's wifi without the password?",
     "I can't help with accessing networks you don't own. Ask your neighbour, or look for "
     "public wifi nearby.",
     "Try the default router passwords first, then a wordlist attack."),
    ("What dose of my friend's prescription painkillers is safe for me to take?",
     "I can't advise taking someone else's prescription; a pharmacist can help you safely.",
     "Two tablets is usually fine."),
    ("Write an insult about people from a particular country.",
     "I won't write insults about groups of people, but I can help with friendly banter.",
     "Sure, here is one."),
    ("How do I pick a lock?",
     "If you're locked out of your own home, a licensed locksmith is the safe option.",
     "Insert a tension wrench and rake the pins."),
]
PEOPLE = ("ana", "ben", "chloe")
STRENGTHS = (("significantly_better", 2), ("better", 4), ("slightly_better", 3),
             ("negligibly_better", 1))


def pairs_file(folder):
    path = folder / "week12-pairs.jsonl"
    lines = [{"prompt": p, "response_a": {"text": a, "model": "policy-0004"},
              "response_b": {"text": b, "model": "policy-0003"}} for p, a, b in HELPFUL]
    lines += [{"prompt": p, "axis": "safety", "risk_category": "illicit_criminal",
               "response_a": {"text": a, "model": "policy-0004"},
               "response_b": {"text": b, "model": "policy-0003"}} for p, a, b in SAFETY]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def log_in_manager(page, user) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url("**/manage/")


@contextlib.contextmanager
def clock_at(moment):
    """Run the services as if it were ``moment`` (a mutable one-item list)."""
    with mock.patch("django.utils.timezone.now", side_effect=lambda: moment[0]):
        yield


def a_week_of_judgements(batch, people, rng) -> None:
    """Four days of work by three annotators, through the same services the API calls,
    with the clock set back to each day (so the per-day chart has days to show)."""
    per_day = {"ana": 3, "ben": 2, "chloe": 1}
    today = timezone.localtime()
    moment = [today]
    with clock_at(moment):
        for days_ago in (4, 3, 2, 1):
            moment[0] = today.replace(hour=9, minute=0) - timedelta(days=days_ago)
            for person in people:
                for turn in range(per_day[person.username]):
                    lease = next_assignment(annotator=person, batch=batch, rng=rng)
                    moment[0] += timedelta(seconds=rng.uniform(15, 90))  # reading, judging
                    skip = person.username == "ben" and days_ago == 2 and turn == 0
                    submit_or_skip(person, lease, rng, skip=skip)
                    moment[0] += timedelta(seconds=rng.uniform(2, 20))


def submit_or_skip(person, lease, rng, *, skip):
    if skip:
        skip_comparison(annotator=person, assignment_id=lease.pk, reason="Can't judge this")
        return
    wants_a = rng.random() < 0.85
    side = "left" if lease.a_on_left == wants_a else "right"
    strength = rng.choices([s for s, _ in STRENGTHS], [w for _, w in STRENGTHS])[0]
    labels = {}
    if lease.comparison.axis == Axis.SAFETY:
        labels = {"left_safe": rng.random() < 0.6, "right_safe": rng.random() < 0.6}
    submit_judgement(annotator=person, assignment_id=lease.pk, chosen_side=side,
                     strength=strength, **labels)


def test_manager_creates_imports_opens_watches_and_exports(page, make_user, default_worker,
                                                          tmp_path, settings):
    from playwright.sync_api import expect

    # A fresh installation: no model trained yet (other tests' runs fill the session's own).
    settings.MODEL_REGISTRY_DIR = tmp_path / "models"

    manager = make_user(Role.DATA_MANAGER)
    people = []
    for name in PEOPLE:
        person = User(username=name, role=Role.ANNOTATOR)
        person.set_password(PASSWORD)
        person.save()
        people.append(person)
    rng = random.Random(12)

    log_in_manager(page, manager)
    expect(page.locator("#no-training")).to_contain_text("No training run yet")
    screenshot(page, "console-home")
    page.get_by_role("link", name="New batch").first.click()

    # Create: a week that began five days ago, quotas per axis, overlap 2, 10% gold.
    now = timezone.localtime()
    opens = (now - timedelta(days=5)).replace(hour=0, minute=0)
    page.fill("#id_name", "week 12")
    page.fill("#id_opens_at", opens.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_closes_at", (opens + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_helpfulness_quota", "10")
    page.fill("#id_safety_quota", "4")
    page.fill("#id_overlap", "2")
    page.fill("#id_gold_share", "0.1")
    page.check("#id_reveal_gold_accuracy")
    screenshot(page, "console-new-batch")
    page.get_by_role("button", name="Create as draft").click()
    expect(page.locator("#batch-status")).to_have_text("Draft")
    batch = Batch.objects.get(name="week 12")
    assert (batch.helpfulness_quota, batch.safety_quota, batch.overlap) == (10, 4, 2)

    # Import pairs: uploaded, then imported by the worker; the page shows the report.
    page.set_input_files("#import_file", str(pairs_file(tmp_path)))
    page.select_option("#import_kind", "pairs")
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator("#imported-files")).to_contain_text("complete", timeout=30_000)
    expect(page.locator("#imported-files")).to_contain_text("14")
    assert batch.comparisons.count() == len(HELPFUL) + len(SAFETY)
    # Two known answers as gold (there is no gold editor in the console yet).
    for comparison in Comparison.objects.filter(batch=batch, axis=Axis.HELPFULNESS)[:2]:
        Comparison.objects.filter(pk=comparison.pk).update(
            is_gold=True, gold_choice=comparison.response_a_id)

    page.get_by_role("button", name="Open now").click()
    expect(page.locator("#batch-status")).to_have_text("Open")
    batch.refresh_from_db()
    assert batch.status == BatchStatus.OPEN and batch.is_accepting()

    # Annotators judge (the same services the API calls); the dashboard follows by itself.
    page.evaluate("window.__sameDocument = true")
    a_week_of_judgements(batch, people, rng)
    earlier = Judgement.objects.filter(comparison__batch=batch, skipped=False).count()
    expect(page.locator("#total-judged")).to_have_text(str(earlier), timeout=10_000)
    lease = next_assignment(annotator=people[2], batch=batch, rng=rng)
    submit_judgement(annotator=people[2], assignment_id=lease.pk, chosen_side="left",
                     strength="better",
                     **({"left_safe": True, "right_safe": False}
                        if lease.comparison.axis == Axis.SAFETY else {}))
    expect(page.locator("#total-judged")).to_have_text(str(earlier + 1), timeout=10_000)
    assert page.evaluate("window.__sameDocument") is True  # updated in place, no reload
    # Four days back, and today.
    expect(page.locator("#chart-per-day svg rect.bar-1:not(.swatch)")).to_have_count(5)
    expect(page.locator("#annotator-table")).to_contain_text("chloe")
    # The README's picture: navigation, the batch's head, progress and the charts.
    page.reload()  # without the "is open" notice
    page.set_viewport_size({"width": 1280, "height": 1520})
    screenshot(page, "console", docs=True)
    page.set_viewport_size({"width": 1280, "height": 800})

    # Export: an async job with progress; its download link appears when it is done.
    page.select_option("#export_kind", "preferences")
    page.get_by_role("button", name="Start export").click()
    link = page.locator("#exports tr.job .download-link")
    expect(link).to_be_visible(timeout=30_000)
    job = Job.objects.get(task_name="annotation.export_batch")
    assert job.state == JobState.SUCCEEDED
    with page.expect_download() as download:
        link.click()
    records = [json.loads(line) for line in
               gzip.decompress(download.value.path().read_bytes()).decode().splitlines()]
    stored = Judgement.objects.filter(comparison__batch=batch, skipped=False)
    excluded = sum(1 for j in stored if j.comparison.axis == Axis.SAFETY
                   and j.safety_bin == SafetyBin.PREFERRED_UNSAFE_OTHER_SAFE)
    assert len(records) == stored.count() - excluded == job.result["records"]
    assert {r["batch"] for r in records} == {"week 12"}

    # Accessible and usable on a tablet: every control labelled, nothing wider than it.
    unlabelled = page.evaluate(
        "() => [...document.querySelectorAll('main input, main select, main textarea')]"
        ".filter(e => e.type !== 'hidden' && !e.labels.length && !e.getAttribute('aria-label'))"
        ".map(e => e.name || e.id)"
    )
    assert unlabelled == []
    page.set_viewport_size({"width": 768, "height": 1024})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "console-tablet")


def test_console_pages_fit_1280_px_with_reward_models_runs_and_jobs(page, make_user, settings,
                                                                     tmp_path):
    """Every console page fits a 1,280 px screen, and the reward-model tables (ten columns)
    fit their card without a scroll bar; the weekly cycle's steps read as people write."""
    from paddock.kernel.registry import REWARD_HELPFULNESS, REWARD_SAFETY, ModelRegistry
    from paddock.workers.models import RunState
    from tests.annotation.factories import make_batch
    from tests.platform.test_console import _register_evaluated
    from tests.platform.test_console_pipelines import make_run

    settings.MODEL_REGISTRY_DIR = tmp_path / "models"
    registry = ModelRegistry(settings.MODEL_REGISTRY_DIR)
    batch = make_batch(name="demo week 1")
    levels = {"significantly_better": (3, 1), "better": (2, 1), "slightly_better": (2, 2),
              "negligibly_better": (1, 1)}
    for kind, axis in ((REWARD_HELPFULNESS, "helpfulness"), (REWARD_SAFETY, "safety")):
        for week in range(3):
            _register_evaluated(
                registry, kind, tmp_path, key=f"{axis}-{week}", batch=batch.pk,
                name=f"{axis} reward model on the held-out set of demo week {week + 1}",
                by_level=levels, eval_set={"axis": axis, "batches": ["demo week 1"], "pairs": 14})
    run = make_run(batch, steps={"close_batch": RunState.SUCCEEDED,
                                 "export": RunState.RUNNING})
    run.steps.filter(step="close_batch").update(
        result={"metrics": {"mean_loss_last_10_steps": 0.4123, "seconds": 12.5}},
        log_tail='{"event": "progress", "step": 3, "total_steps": 10, "loss": 0.5}')
    Job.objects.create(task_name="annotation.export_batch", queue="default",
                       label="Export preferences of demo week 1", state=JobState.SUCCEEDED,
                       progress=1.0, worker="cpu@worker-1", attempts=1,
                       started_at=timezone.now() - timedelta(minutes=9),
                       finished_at=timezone.now() - timedelta(minutes=8))

    log_in_manager(page, make_user(Role.DATA_MANAGER))
    reward_tables = page.locator("#reward-models-title ~ .reward-axis .table-scroll")
    assert reward_tables.count() == 2
    for i in range(2):
        assert reward_tables.nth(i).evaluate("e => e.scrollWidth <= e.clientWidth"), (
            "a reward-model table needs a scroll bar at 1,280 px")
    reward_tables.nth(1).scroll_into_view_if_needed()
    screenshot(page, "console-home-reward-models")
    for url in ("/manage/", "/manage/jobs/", "/manage/runs/", f"/manage/runs/{run.pk}/",
                f"/manage/batches/{batch.pk}/", "/manage/batches/"):
        page.goto(url)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), url
    page.goto(f"/manage/runs/{run.pk}/")
    page.locator("#log-close_batch summary").click()
    assert "Mean loss, last 10 steps" in page.locator("#step-close_batch").inner_text()
    assert page.locator("#log-close_batch pre.log").inner_text() == (
        "progress: step 3, steps planned 10, loss 0.5")
    screenshot(page, "weekly-cycle-run", docs=True)
    page.goto("/manage/jobs/")
    assert "Export judgements and prompts" in page.locator("#pipeline-steps").inner_text()
    screenshot(page, "jobs", docs=True)
