"""/healthz reports database, Redis and workers; 200 only when all three are fine."""

import pytest
from celery import Celery
from django.conf import settings

from paddock.platform.health.checks import check_redis, check_workers, platform_health

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
        "default", "curation", "generation", "training"
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
