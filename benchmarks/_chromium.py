"""Debian's Chromium under Playwright, for the browser tests and the UI benchmark.

Playwright is only the driver here: it never downloads a browser. It launches the system
Chromium (``apt-get install chromium``), headless, with everything that would reach the
network on its own switched off (the machines have no internet).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM = Path(os.environ.get("PADDOCK_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Even a stray `playwright install` must not fetch a browser build.
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


def missing() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        hint = "'make test' installs it where it may" if shutil.which("apt-get") else ""
        return (f"Chromium is not installed at {CHROMIUM}: run 'sudo apt-get install chromium'"
                f"{' (' + hint + ')' if hint else ''}, or set PADDOCK_CHROMIUM")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed: pip install -e '.[test]'"
    return None


def launch(playwright):
    """A headless Chromium browser (a ``playwright.sync_api.Browser``)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
