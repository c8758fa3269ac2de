"""kill -9 of a web worker and a PostgreSQL restart while annotators submit, against the
real stack: gunicorn (2 workers) on a PostgreSQL cluster of the test's own.

Clients behave like the workspace: a request that got no answer, or a 503, is sent again
(submit is idempotent per assignment). Afterwards every acknowledged judgement is stored,
no annotator judged a comparison twice, no comparison got more judgements than its
overlap, no request answered 500, and the server recovered by itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.support import postgres_server
from tests.support.redis_server import free_port
from tests.support.skips import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)


class Stack:
    def __init__(self) -> None:
        self.pg = postgres_server.PostgresServer().init()
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "paddock.platform.settings",
                    "DATABASE_URL": self.pg.create_database("paddock"), "DEBUG": "false",
                    "PADDOCK_ARTIFACTS_DIR": tempfile.mkdtemp(prefix="paddock-faults-")}
        self.env.pop("PADDOCK_TEST_DATABASE_NAME", None)
        self.manage("migrate", "--noinput", "-v", "0")
        seeded = self.manage("shell", "-c", "import json; from benchmarks.annotation_load "
                             "import seed; print(json.dumps(seed(6000, 16, 1)))")
        self.batch_id, self.tokens = json.loads(seeded.stdout.strip().splitlines()[-1])
        self.port = free_port()
        self.log = Path(self.env["PADDOCK_ARTIFACTS_DIR"]) / "gunicorn.log"
        self.server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "paddock.platform.wsgi", "--bind",
             f"127.0.0.1:{self.port}", "--workers", "2", "--threads", "2", "--worker-class",
             "gthread", "--log-level", "warning"],
            cwd=ROOT, env=self.env, stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        from benchmarks.common import wait_for_server

        wait_for_server(self.base, who="fault tests")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, check=True)

    def web_workers(self) -> list[int]:
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            if int(text[text.rindex(")") + 2:].split()[1]) == self.server.pid:
                children.append(int(stat.parent.name))
        return children

    def query(self, sql: str) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.env["DATABASE_URL"].replace("postgres://", "postgresql://")
                             ) as connection:
            return connection.execute(sql).fetchall()

    def close(self) -> None:
        self.server.terminate()
        self.server.wait(timeout=30)
        self.pg.remove()


@pytest.fixture(scope="module")
def stack():
    reason = postgres_server.missing()
    if reason:
        skip_or_fail(reason)
    stack = Stack()
    yield stack
    stack.close()


class Annotators:
    """Threads that annotate like the workspace does, retrying what got no answer."""

    def __init__(self, stack: Stack, tokens: list[str]) -> None:
        self.stack = stack
        self.stop = threading.Event()
        self.statuses: Counter[int] = Counter()
        self.bodies_503: list[dict] = []
        self.transport_errors = 0
        self.acknowledged: list[int] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(t,)) for t in tokens]

    def __enter__(self) -> Annotators:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _call(self, client, path: str, body: dict | None = None):
        import httpx

        try:
            response = client.post(path, json=body)
        except httpx.TransportError:
            with self.lock:
                self.transport_errors += 1
            return None
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code == 503:
                self.bodies_503.append(response.json())
        return response

    def _run(self, token: str) -> None:
        import httpx

        with httpx.Client(base_url=self.stack.base, timeout=10,
                          headers={"Authorization": f"Token {token}"}) as client:
            while not self.stop.is_set():
                lease = self._call(client, "/api/v1/annotation/next")
                if lease is None or lease.status_code != 200:
                    if lease is not None and lease.status_code == 204:
                        return
                    time.sleep(0.1)
                    continue
                path = f"/api/v1/annotation/assignments/{lease.json()['assignment_id']}/submit"
                for _ in range(100):  # until acknowledged, as the workspace retries
                    done = self._call(client, path, {"chosen": "left", "strength": "better",
                                                     "left_safe": True, "right_safe": False})
                    if done is not None and done.status_code in (200, 201):
                        with self.lock:
                            self.acknowledged.append(done.json()["id"])
                        time.sleep(0.05)  # a (very fast) annotator's reading time
                        break
                    time.sleep(0.1)

    def check(self) -> None:
        stored = {row[0] for row in self.stack.query("SELECT id FROM annotation_judgement")}
        assert set(self.acknowledged) <= stored, "acknowledged judgements were lost"
        twice = self.stack.query(
            "SELECT comparison_id, annotator_id FROM annotation_judgement "
            "GROUP BY 1, 2 HAVING count(*) > 1")
        assert twice == []
        over = self.stack.query(
            "SELECT c.id FROM annotation_comparison c JOIN annotation_judgement j "
            "ON j.comparison_id = c.id GROUP BY c.id HAVING count(*) > 1")  # overlap 1
        assert over == []
        assert self.statuses[500] == 0, self.stack.log.read_text()[-3000:]


def test_a_web_worker_killed_mid_submit_loses_no_judgement(stack):
    with Annotators(stack, stack.tokens[:8]) as annotators:
        time.sleep(1.0)
        for _ in range(3):
            victim = stack.web_workers()[0]
            os.kill(victim, signal.SIGKILL)
            time.sleep(1.5)  # gunicorn's master starts a replacement
        time.sleep(1.0)
    annotators.check()
    assert annotators.transport_errors > 0  # the kills did cut requests off
    assert len(annotators.acknowledged) >= 10  # work went on around the kills (under load:
    # three replacement workers start within these 4.5 s, so the count varies)
    assert len(stack.web_workers()) == 2


def test_a_postgres_restart_answers_503_then_recovers_by_itself(stack):
    with Annotators(stack, stack.tokens[8:]) as annotators:
        time.sleep(1.0)
        stack.pg.stop("fast")
        time.sleep(2.0)
        stack.pg.start()
        stack.pg.wait_until_up()
        before = len(annotators.acknowledged)
        time.sleep(3.0)
        after = len(annotators.acknowledged)
    annotators.check()
    assert annotators.statuses[503] > 0, (annotators.statuses, annotators.transport_errors,
                                          stack.log.read_text()[-3000:])
    assert {body["error"] for body in annotators.bodies_503} == {"database_unavailable"}
    assert after > before, "no judgement was accepted after the restart"
