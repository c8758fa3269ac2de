"""``make run``'s Redis step: use one that answers, start a local one, or say what to do."""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import redis

from tests.support.skips import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_redis(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PADDOCK_VAR_DIR": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "-m", "paddock.platform.ensure_redis"],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60,
    )


def test_answers_when_redis_is_already_running(tmp_path):
    from django.conf import settings

    result = ensure_redis(tmp_path, REDIS_URL=settings.REDIS_URL)
    assert result.returncode == 0, result.stderr
    assert "Redis answers at" in result.stdout


def test_starts_a_local_server_when_none_answers(tmp_path):
    if shutil.which("redis-server") is None:
        skip_or_fail("redis-server is not installed")
    url = f"redis://127.0.0.1:{free_port()}/0"
    try:
        result = ensure_redis(tmp_path, REDIS_URL=url)
        assert result.returncode == 0, result.stderr
        assert "started a local redis-server" in result.stdout
        assert redis.Redis.from_url(url).ping()
        assert (tmp_path / "redis" / "redis.pid").exists()
        again = ensure_redis(tmp_path, REDIS_URL=url)
        assert "Redis answers at" in again.stdout
    finally:
        try:
            redis.Redis.from_url(url).shutdown(nosave=True)
        except redis.ConnectionError:
            pass


def test_says_what_to_install_when_redis_is_missing_and_installing_is_not_allowed(tmp_path):
    url = f"redis://127.0.0.1:{free_port()}/0"
    bare_path = tmp_path / "bin"
    bare_path.mkdir()
    result = ensure_redis(
        tmp_path, REDIS_URL=url, PATH=str(bare_path), PADDOCK_INSTALL_SYSTEM_PACKAGES="0"
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"paddock: Redis does not answer at {url} and redis-server is not installed: run "
        "'sudo apt-get install redis-server' (Debian/Ubuntu) and try again, or set REDIS_URL "
        "to a running Redis."
    )


def test_remote_redis_is_never_started_locally(tmp_path):
    result = ensure_redis(tmp_path, REDIS_URL="redis://redis.invalid:6379/0")
    assert result.returncode == 1
    assert "which is not on this machine" in result.stderr


