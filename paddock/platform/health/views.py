from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from paddock.platform.celery import app
from paddock.platform.health.checks import platform_health


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """JSON status of database, Redis and workers; HTTP 200 only when all three are fine.

    A load balancer needs only the status, so anonymous callers (and annotators) get
    whether each part is ok; the details (database vendor, Redis host, worker host names,
    queues, errors) describe the installation and are for data managers and admins.
    """
    report = platform_health(
        app=app, redis_url=settings.REDIS_URL, worker_timeout=settings.PADDOCK_WORKER_PING_TIMEOUT
    )
    status = 200 if report["status"] == "ok" else 503
    user = request.user
    if not (user.is_authenticated and getattr(user, "is_data_manager", False)):
        report = {"status": report["status"],
                  "checks": {name: {"ok": check["ok"]} for name, check in report["checks"].items()}}
    return JsonResponse(report, status=status)
