"""What a user sees when a page is refused, missing, or the server fails.

403 and 404 pages say what happened in words and lead back home, in the site's layout;
API requests get JSON in the API's error shape instead.

Django calls ``server_error`` for any exception a view or middleware did not handle, while
the exception is still being handled, so it can tell an outage (the database or the task
broker unreachable: wait and try again, nothing was stored half-way since every write is
one transaction) from a bug. API clients get JSON in the shape of the API's other errors;
browsers get a short page in the site's layout, rendered without the request: its context
(the signed-in user, messages) would need the database that may be the very thing down.
Nothing about the exception itself is shown.

``ApiJsonErrors`` (a middleware) holds the API to that shape for every error it answers,
including those Django writes itself: an unknown path under ``DEBUG`` (its technical 404
page), a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413 here, where Django would answer a
bare 400 page), a malformed request.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
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


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    # The role checks' messages are written for people ("This page is for data managers.").
    detail = str(exception) or "Your account cannot open this page."
    if _wants_json(request):
        return JsonResponse({"error": "forbidden", "detail": detail}, status=403)
    return render(request, "403.html", {"detail": detail}, status=403)


NOT_FOUND = "There is no page at this address; it may have been moved, or the link is wrong."


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    # Http404's own text names models and queries ("No CurationRun matches ..."): not shown.
    detail = NOT_FOUND
    if _wants_json(request):
        return JsonResponse({"error": "not_found", "detail": detail}, status=404)
    return render(request, "404.html", {"detail": detail, "path": request.path}, status=404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Django's CSRF refusal (``CSRF_FAILURE_VIEW``), in the site's layout and in words.

    The usual cause is harmless: a form left open across a sign-out or sign-in, or
    cookies blocked. ``reason`` is Django's developer text ("CSRF token missing."): kept
    in the log, not shown.
    """
    detail = ("The form's security token (CSRF) was missing or out of date, so nothing was "
              "changed. This happens when a page was left open across a sign-in or "
              "sign-out, or when cookies are blocked: reload the page and try again.")
    if _wants_json(request):
        return JsonResponse({"error": "csrf_failed", "detail": detail}, status=403)
    return render(request, "403.html", {"detail": detail, "csrf": True}, status=403)


def _failure_page(status: int, detail: str) -> str:
    try:
        return loader.render_to_string("500.html", {"status": status, "detail": detail})
    except Exception:  # the page must never fail itself: fall back to bare HTML
        return f"<!doctype html><title>paddock: {status}</title><h1>{status}</h1><p>{detail}</p>"


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
        response = HttpResponse(_failure_page(status, detail), status=status,
                                content_type="text/html; charset=utf-8")
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


# What an API error Django wrote as a page says instead, by status.
_API_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request was malformed; nothing was changed."),
    401: ("not_authenticated", "Sign in or send an API token."),
    403: ("forbidden", "Your account cannot use this endpoint."),
    404: ("not_found", NOT_FOUND),
    405: ("method_not_allowed", "This endpoint does not take that method."),
    500: ("server_error", "Something went wrong on the server; it has been logged. Nothing "
          "was stored half-way."),
}


def request_too_large() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    size = f" ({limit / 1e6:g} MB)" if limit else ""
    return JsonResponse({"error": "too_large", "detail": (
        f"The request body is larger than the API accepts{size}; nothing was stored. "
        "Send files as a multipart upload (batch import), or split the request.")},
        status=413)


class ApiJsonErrors:
    """Every error under ``/api/`` answers JSON ``{"error": code, "detail": sentence}``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (response.status_code < 400 or not request.path.startswith("/api/")
                or "json" in response.get("Content-Type", "")):
            return response
        code, detail = _API_ERRORS.get(
            response.status_code, ("error", f"The request failed ({response.status_code})."))
        replaced = JsonResponse({"error": code, "detail": detail}, status=response.status_code)
        for header in ("Retry-After", "WWW-Authenticate", "Allow"):
            if response.has_header(header):
                replaced[header] = response[header]
        return replaced

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, RequestDataTooBig) and request.path.startswith("/api/"):
            return request_too_large()
        return None
