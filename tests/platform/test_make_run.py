"""`make run` talks while it works: it says what it installs and how long that takes before
the long pip install, and ends with the URL (the demo users come just before, from
seed_demo). Read from `make -n` on a fresh virtualenv path, so nothing is run."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dry_run(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")

    def run(target: str) -> list[str]:
        result = subprocess.run(
            ["make", "--no-print-directory", "-n", target, f"VENV={tmp_path / 'venv'}"],
            cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
        )
        # Under `make test` this make is a sub-make: its "make[1]: ..." notes are not steps.
        return [line for line in result.stdout.splitlines() if not line.startswith("make[")]

    return run


@pytest.mark.parametrize("target", ["run", "test"])
def test_the_install_is_announced_with_its_size_and_time_first(dry_run, target):
    lines = dry_run(target)

    first_install = next(i for i, line in enumerate(lines) if "pip install" in line
                         and "-e '.[" in line)
    said = " ".join(line for line in lines[:first_install] if line.startswith("echo"))
    assert "creating the virtualenv" in said
    assert "torch" in said and "2 GB" in said and "minutes" in said


def test_run_ends_with_the_url_after_the_demo_users(dry_run):
    lines = dry_run("run")

    seed = next(i for i, line in enumerate(lines) if "manage.py seed_demo" in line)
    url = next(i for i, line in enumerate(lines) if "paddock is starting at http://" in line)
    assert seed < url
    assert "honcho start" in lines[-1]
    assert all(line.startswith("echo") for line in lines[url:-1])
    assert any("/api/docs/" in line for line in lines[url:-1])


def test_the_demo_web_process_shows_the_sites_own_error_pages():
    """Django's technical 404 and 500 pages (DEBUG) are for developers: make run's web
    process leaves DEBUG off unless the user sets it, and still serves static files."""
    web = next(line for line in (ROOT / "Procfile").read_text().splitlines()
               if line.startswith("web:"))
    assert 'DEBUG="${DEBUG:-false}"' in web and "runserver --insecure" in web
