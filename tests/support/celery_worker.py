"""A real Celery worker process for tests: started, waited for, stopped, logs kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from celery import Celery

from tests.support.timing import scaled

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    def __init__(self, *, queues: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.queues = queues
        self.name = f"test-{'-'.join(queues)}-{uuid.uuid4().hex[:6]}@localhost"
        self.env = env
        self.log_path = log_dir / f"{self.name}.log"
        self.process: subprocess.Popen | None = None
        self.concurrency = 1

    def start(self, app: Celery, timeout: float = 60.0) -> WorkerProcess:
        """Start the worker and wait until it answers a ping (``timeout`` is scaled)."""
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "paddock.platform", "worker",
                "--queues", ",".join(self.queues),
                "--hostname", self.name,
                "--concurrency", str(self.concurrency),
                "--pool", "prefork",
                "--prefetch-multiplier", "1",
                "--without-gossip", "--without-mingle",
                "--loglevel", "info",
                "--include", "tests.support.tasks",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so kill() takes the pool too
        )
        self._wait_ready(app, scaled(timeout))
        return self

    def _wait_ready(self, app: Celery, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early; log:\n{self.log()}")
            if app.control.ping(destination=[self.name], timeout=0.5):
                return
        self.stop()
        raise RuntimeError(f"worker did not answer a ping in {timeout:.0f} s (raise "
                           f"PADDOCK_TEST_TIMEOUT_SCALE on a slow machine); log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once, as a lost machine would."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # warm shutdown: finish the current task, then exit
        try:
            self.process.wait(timeout=scaled(20))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def worker_environment(
    settings_module: str = "tests.settings", database_name: str | None = None
) -> dict[str, str]:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = settings_module
    if database_name is not None:
        env["PADDOCK_TEST_DATABASE_NAME"] = database_name
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env
