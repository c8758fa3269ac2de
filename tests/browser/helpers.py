"""What the browser tests do again and again: log in, wait for a comparison, screenshot."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"  # git-ignored
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "secret-pass-123"  # the make_user fixture's default


def screenshot(page, name: str, *, docs: bool = False) -> Path:
    """Save what the page shows to var/screenshots/NAME.png; with ``docs`` and
    PADDOCK_DOCS_SCREENSHOTS=1, also refresh docs/screenshots/NAME.png for the README."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    if docs and os.environ.get("PADDOCK_DOCS_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (DOCS_SCREENSHOTS / f"{name}.png").write_bytes(path.read_bytes())
    return path


def log_in(page, user, password: str = PASSWORD) -> None:
    """Through the real login form; annotators land on the workspace."""
    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.press("#id_password", "Enter")
    page.wait_for_url("**/annotate/")


def shown_assignment(page) -> int:
    """The assignment the workspace shows once it is idle (waits for one to appear)."""
    page.wait_for_function(
        "() => { const c = document.getElementById('comparison');"
        " return !c.hidden && c.dataset.assignment &&"
        " !document.getElementById('workspace').classList.contains('busy'); }"
    )
    return int(page.get_attribute("#comparison", "data-assignment"))


def next_assignment_shown(page, previous: int) -> int:
    """Wait until a comparison other than ``previous`` is shown, and return its id."""
    page.wait_for_function(
        "previous => { const c = document.getElementById('comparison');"
        " return !c.hidden && c.dataset.assignment && c.dataset.assignment !== previous &&"
        " !document.getElementById('workspace').classList.contains('busy'); }",
        arg=str(previous),
    )
    return int(page.get_attribute("#comparison", "data-assignment"))
