"""Bad configuration stops start-up with one line that says what to fix."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "PADDOCK_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "paddock.example.org",
}


def manage(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return run_python("manage.py", *args, tmp_path=tmp_path, **env)


def run_python(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "SECRET_KEY", "PADDOCK_ENV", "DEBUG", "ALLOWED_HOSTS"}
    }
    environ.update(
        DJANGO_SETTINGS_MODULE="paddock.platform.settings", PADDOCK_VAR_DIR=str(tmp_path), **env
    )
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120,
    )


def one_line_error(result: subprocess.CompletedProcess, program: str = "paddock") -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{program}: ")
    return lines[0]


def test_malformed_database_url(tmp_path):
    line = one_line_error(manage("check", tmp_path=tmp_path, DATABASE_URL="postgres//db"))
    assert "DATABASE_URL='postgres//db' is malformed" in line


def test_unreachable_database(tmp_path):
    url = "postgres://postgres:pw@127.0.0.1:1/paddock"
    line = one_line_error(manage("migrate", tmp_path=tmp_path, DATABASE_URL=url))
    assert "cannot use the database postgres://postgres:***@127.0.0.1:1/paddock" in line
    assert "Connection refused" in line


@pytest.mark.parametrize(
    ("missing", "message"),
    [("SECRET_KEY", "SECRET_KEY is not set"), ("ALLOWED_HOSTS", "ALLOWED_HOSTS is not set")],
)
def test_production_without_required_settings(tmp_path, missing, message):
    env = {key: value for key, value in PRODUCTION.items() if key != missing}
    line = one_line_error(manage("check", tmp_path=tmp_path, **env))
    assert message in line


def test_production_refuses_debug(tmp_path):
    line = one_line_error(manage("check", tmp_path=tmp_path, DEBUG="true", **PRODUCTION))
    assert "DEBUG=true with PADDOCK_ENV=production" in line


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", tmp_path=tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", **PRODUCTION,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_worker_launcher_stops_on_bad_configuration_before_starting_celery(tmp_path):
    result = run_python(
        "-m", "paddock.workers.launch", "gpu", tmp_path=tmp_path, DATABASE_URL="mysql//x"
    )
    line = one_line_error(result, program="paddock-worker")
    assert "configuration error: DATABASE_URL='mysql//x' is malformed" in line


def test_worker_launcher_stops_when_redis_is_unreachable(tmp_path):
    result = run_python(
        "-m", "paddock.workers.launch", "cpu", tmp_path=tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", REDIS_URL="redis://127.0.0.1:1/0",
    )
    line = one_line_error(result, program="paddock-worker")
    assert "cannot reach Redis at redis://127.0.0.1:1/0" in line
    assert "start redis-server or fix REDIS_URL" in line
