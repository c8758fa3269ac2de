from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from paddock.platform.celery import app
from paddock.platform.health.checks import platform_health


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """JSON status of database, Redis and workers; HTTP 200 only when all three are fine."""
    report = platform_health(
        app=app, redis_url=settings.REDIS_URL, worker_timeout=settings.PADDOCK_WORKER_PING_TIMEOUT
    )
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
