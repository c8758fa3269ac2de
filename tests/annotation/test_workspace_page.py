"""The workspace page as the server renders it (the browser tests drive it in Chromium)."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from paddock.annotation.models import BatchStatus
from paddock.annotation.views import STRENGTH_LEVELS
from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch

pytestmark = pytest.mark.django_db

STATIC = Path(__file__).resolve().parents[2] / "paddock" / "annotation" / "static" / "annotation"


def test_workspace_shows_keys_guidelines_and_locks_scripts_down(client, make_user):
    make_batch(name="week 12")
    client.force_login(make_user(Role.ANNOTATOR))
    response = client.get(reverse("annotation:workspace"))
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    page = response.content.decode()
    assert 'src="/static/annotation/workspace.js"' in page
    assert "<script>" not in page  # no inline script at all
    for level in STRENGTH_LEVELS:
        assert f'data-key="{level.key}"' in page and level.help in page
    assert "Guidelines" in page and "Helpfulness" in page and "Safety" in page
    assert re.search(r'<section id="empty"[^>]*\bhidden\b', page)  # a batch is open
    assert 'id="prompt-batch"' not in page  # one open batch: no batch picker


def test_without_an_open_batch_the_page_says_so_at_once(client, make_user):
    client.force_login(make_user(Role.ANNOTATOR))
    page = client.get(reverse("annotation:workspace")).content.decode()
    assert "Nothing to annotate right now." in page and "No batch is open" in page
    assert not re.search(r'<section id="empty"[^>]*\bhidden\b', page)


def test_after_a_batch_closed_the_page_names_it_and_the_next_one(client, make_user):
    now = timezone.now()
    make_batch(name="week 11", status=BatchStatus.CLOSED, opens_at=now - timedelta(days=7),
               closes_at=now - timedelta(hours=2))
    make_batch(name="week 12", status=BatchStatus.SCHEDULED, opens_at=now + timedelta(days=1))
    client.force_login(make_user(Role.ANNOTATOR))
    page = client.get(reverse("annotation:workspace")).content.decode()
    assert 'data-reason="batch_closed"' in page
    assert "Batch week 11 closed on" in page and "Batch week 12 opens on" in page


def test_several_open_batches_give_a_batch_picker_for_prompts(client, make_user):
    make_batch(name="week 12")
    make_batch(name="week 13")
    client.force_login(make_user(Role.ANNOTATOR))
    page = client.get(reverse("annotation:workspace")).content.decode()
    assert 'id="prompt-batch"' in page and "week 12" in page and "week 13" in page


def test_the_script_never_turns_text_into_html():
    """Model text reaches the page only as text nodes: no HTML-parsing sinks at all."""
    script = (STATIC / "workspace.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                 "createContextualFragment", "DOMParser", "eval(", "new Function"):
        assert sink not in script, sink
