"""/healthz reports database, Redis and workers; 200 only when all three are fine."""

import io
import time

import pytest
from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.conf import settings
from django.core.management import CommandError, call_command

from paddock.platform.health.checks import check_redis, check_workers, platform_health
from paddock.workers.queues import Queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, make_user):
    from paddock.platform.accounts.models import Role

    client.force_login(make_user(Role.DATA_MANAGER))
    return client


@pytest.mark.worker
def test_healthz_is_200_with_a_worker_running(manager_client, default_worker):
    response = manager_client.get("/healthz")

    assert response.status_code == 200, response.json()
    report = response.json()
    assert report["status"] == "ok"
    assert report["checks"]["database"]["ok"] and report["checks"]["redis"]["ok"]
    workers = report["checks"]["workers"]
    assert default_worker.name in workers["workers"]
    assert default_worker.name in workers["queues"]["default"]
    assert "no-store" in response["Cache-Control"]


def test_healthz_is_503_when_redis_is_unreachable(manager_client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    response = manager_client.get("/healthz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"]["ok"] is False and "Connection" in checks["redis"]["error"]
    assert checks["workers"] == {"ok": False, "error": "not checked: Redis is unreachable"}
    assert checks["database"]["ok"] is True


def test_anonymous_callers_get_the_status_without_details(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {
        "database": {"ok": True}, "redis": {"ok": False}, "workers": {"ok": False}}}


def test_worker_check_fails_when_no_worker_answers():
    lonely = Celery(
        "lonely",
        set_as_current=False,
        broker=settings.REDIS_URL,
        broker_transport_options={"global_keyprefix": "paddock-test-nobody-home:"},
    )

    result = check_workers(lonely, timeout=0.3)

    assert result.ok is False
    assert result.detail["workers"] == []
    assert set(result.detail["queues_without_workers"]) == {
        "default", "curation", "generation", "training", "training_group"
    }
    assert platform_health(app=lonely, redis_url=settings.REDIS_URL, worker_timeout=0.3)[
        "status"
    ] == "unavailable"


def test_redis_check_hides_the_password():
    result = check_redis("redis://:hunter2@127.0.0.1:1/0")
    assert not result.ok
    assert "hunter2" not in str(result.detail)


@pytest.mark.worker
def test_after_a_full_sweep_checks_stop_waiting_once_known_workers_answered(
    celery_app, default_worker, monkeypatch
):
    from paddock.platform.health import checks

    monkeypatch.setattr(checks, "_known_workers", {})
    limits = []
    real_inspect = celery_app.control.inspect

    def recording_inspect(*args, **kwargs):
        limits.append(kwargs.get("limit"))
        return real_inspect(*args, **kwargs)

    monkeypatch.setattr(celery_app.control, "inspect", recording_inspect)

    first = check_workers(celery_app, timeout=1.0)
    second = check_workers(celery_app, timeout=1.0)

    assert first.ok and second.ok
    assert second.detail["workers"] == first.detail["workers"]
    assert limits == [None, len(first.detail["workers"])]


class _SlowProbe:
    """Stands in for a probe task whose worker answers ``delay`` seconds after sending
    (None: never), as a worker still starting after a restart does."""

    def __init__(self, delay: float | None):
        self.delay = delay

    def apply_async(self, **options):
        return _SlowResult(None if self.delay is None else time.monotonic() + self.delay)


class _SlowResult:
    def __init__(self, answers_at: float | None):
        self.answers_at = answers_at

    def get(self, timeout: float):
        now = time.monotonic()
        if self.answers_at is None or self.answers_at > now + timeout:
            time.sleep(timeout)
            raise CeleryTimeoutError("The operation timed out.")
        time.sleep(max(self.answers_at - now, 0))
        return {"worker": "celery@restarted", "pid": 4242}


def _run_check_workers(monkeypatch, delay, *extra):
    from paddock.platform.health.management.commands import check_workers as command

    monkeypatch.setattr(command, "PROBES", {Queue.DEFAULT: _SlowProbe(delay)})
    out = io.StringIO()
    call_command("check_workers", "--queue", "default", "--timeout", "0.2", *extra, stdout=out)
    return out.getvalue()


def test_check_workers_waits_for_a_worker_still_starting(monkeypatch):
    # The first probe after a restart answered after the timeout (11.2 s against 10 s).
    output = _run_check_workers(monkeypatch, 0.5, "--startup-grace", "1")

    assert "a worker may still be starting" in output
    assert "celery@restarted (pid 4242); answered after" in output
    assert "still starting" in output.splitlines()[-1]


def test_check_workers_fails_when_the_grace_runs_out(monkeypatch):
    with pytest.raises(CommandError, match="no worker consumes: default"):
        _run_check_workers(monkeypatch, None, "--startup-grace", "0.3")


def test_check_workers_without_grace_fails_at_the_timeout(monkeypatch):
    with pytest.raises(CommandError, match="no worker consumes: default"):
        _run_check_workers(monkeypatch, 0.5, "--startup-grace", "0")
