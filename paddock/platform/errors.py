"""What a user sees when the server fails: a 503 that says what is down, or a plain 500.

Django calls ``server_error`` for any exception a view or middleware did not handle, while
the exception is still being handled, so it can tell an outage (the database or the task
broker unreachable: wait and try again, nothing was stored half-way since every write is
one transaction) from a bug. API clients get JSON in the shape of the API's other errors;
browsers get a short page. Nothing about the exception itself is shown.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from kombu.exceptions import OperationalError as BrokerOperationalError

RETRY_AFTER_SECONDS = 5


class BrokerUnavailable(RuntimeError):
    """The task broker (Redis) could not take a message; nothing was started."""


OUTAGES: dict[tuple[type[BaseException], ...], tuple[str, str]] = {
    (OperationalError, InterfaceError): (
        "database_unavailable",
        "The database cannot be reached right now; nothing was stored. Try again in a moment.",
    ),
    (BrokerUnavailable, BrokerOperationalError): (
        "broker_unavailable",
        "The task queue (Redis) cannot be reached right now; nothing was started. Try again "
        "in a moment.",
    ),
}


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", "")


def server_error(request: HttpRequest) -> HttpResponse:
    error = sys.exc_info()[1]
    outage = next((what for kinds, what in OUTAGES.items() if isinstance(error, kinds)), None)
    if outage is not None:
        status, (code, detail) = 503, outage
    else:
        status, code, detail = 500, "server_error", (
            "Something went wrong on the server; it has been logged. Nothing was stored "
            "half-way.")
    if _wants_json(request):
        response: HttpResponse = JsonResponse({"error": code, "detail": detail}, status=status)
    else:
        response = HttpResponse(
            f"<!doctype html><title>paddock: {status}</title><h1>{status}</h1><p>{detail}</p>",
            status=status, content_type="text/html; charset=utf-8")
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
