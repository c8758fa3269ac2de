"""Make sure a Redis server answers at REDIS_URL, starting a local one if needed.

Used by ``make run`` and ``make test`` on a machine that may have nothing installed. In
order: use the Redis that answers; else, when REDIS_URL points at this machine, start
``redis-server`` with its data under ``var/redis``; else install Debian's ``redis-server``
package when we are root (or have password-less sudo) and PADDOCK_INSTALL_SYSTEM_PACKAGES
is not 0; else stop with one line saying exactly what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import redis

from paddock.platform.config import DEFAULT_REDIS_URL, mask_url

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
START_TIMEOUT_SECONDS = 15


class RedisUnavailable(RuntimeError):
    pass


def answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def may_install_packages() -> bool:
    if os.environ.get("PADDOCK_INSTALL_SYSTEM_PACKAGES", "1").strip() == "0":
        return False
    if shutil.which("apt-get") is None:
        return False
    if os.geteuid() == 0:
        return True
    return shutil.which("sudo") is not None and subprocess.run(
        ["sudo", "-n", "true"], capture_output=True, check=False
    ).returncode == 0


def install_redis_package() -> None:
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("paddock: installing Debian's redis-server package (apt-get)...", flush=True)
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "redis-server"],
        check=True,
        env=env,
    )


def start_local_server(server: str, port: int, var_dir: Path) -> None:
    data = var_dir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            server,
            "--daemonize", "yes",
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(data),
            "--pidfile", str(data / "redis.pid"),
            "--logfile", str(data / "redis.log"),
            "--appendonly", "yes",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def ensure_redis(url: str, var_dir: Path) -> str:
    """Return a sentence saying how Redis came to answer; raise RedisUnavailable if not."""
    if answers(url):
        return f"Redis answers at {mask_url(url)}."
    parts = urlsplit(url)
    if parts.scheme != "redis" or parts.hostname not in LOCAL_HOSTS:
        raise RedisUnavailable(
            f"Redis does not answer at {mask_url(url)}, which is not on this machine: start "
            "it there, or unset REDIS_URL to use a local one."
        )
    server = shutil.which("redis-server")
    if server is None:
        if not may_install_packages():
            raise RedisUnavailable(
                f"Redis does not answer at {mask_url(url)} and redis-server is not installed: "
                "run 'sudo apt-get install redis-server' (Debian/Ubuntu) and try again, or "
                "set REDIS_URL to a running Redis."
            )
        install_redis_package()
        if answers(url):  # the package's own service may have started
            return f"installed redis-server; it answers at {mask_url(url)}."
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
    start_local_server(server, parts.port or 6379, var_dir)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if answers(url):
            return f"started a local redis-server at {mask_url(url)} (data in {var_dir / 'redis'})."
        time.sleep(0.2)
    raise RedisUnavailable(
        f"started redis-server but nothing answers at {mask_url(url)} after "
        f"{START_TIMEOUT_SECONDS} s: see {var_dir / 'redis' / 'redis.log'}."
    )


def main() -> None:
    url = os.environ.get("REDIS_URL", "").strip() or DEFAULT_REDIS_URL
    default_var = Path(__file__).resolve().parents[2] / "var"
    var_dir = Path(os.environ.get("PADDOCK_VAR_DIR", "").strip() or default_var)
    try:
        print(f"paddock: {ensure_redis(url, var_dir)}")
    except (RedisUnavailable, subprocess.CalledProcessError) as exc:
        sys.stderr.write(f"paddock: {exc}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
