"""How many prompts and next turns one annotator may send for sampling.

Each costs two generations on a GPU worker and grows a batch, so an annotator's requests
are counted (DRF's throttle, in the shared cache, keyed by the user) against
``PADDOCK_PROMPT_RATE``: "30/hour" by default, any "N/second|minute|hour|day". Writing a
prompt and continuing a conversation share one count. Past it the API answers 429 with
Retry-After and a sentence saying when to try again; nothing is stored.
"""

from __future__ import annotations

import math

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import Throttled
from rest_framework.throttling import UserRateThrottle

PERIODS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


class SamplingRateThrottle(UserRateThrottle):
    scope = "sampling"

    def get_rate(self) -> str:
        # Read per request (not once at import, as DRF's own rates are), so a changed
        # setting applies at once.
        return settings.PADDOCK_PROMPT_RATE


def _rate() -> tuple[str, str]:
    """PADDOCK_PROMPT_RATE as (count, period in words): "30/hour" -> ("30", "hour")."""
    count, period = settings.PADDOCK_PROMPT_RATE.split("/")
    return count, PERIODS.get(period[:1], period)


def _prompts(count: str) -> str:
    return f"{count} prompt{'s' if count != '1' else ''}"


def rate_words() -> str:
    """The rate for people: "30 prompts an hour"."""
    count, per = _rate()
    return f"{_prompts(count)} {'an' if per == 'hour' else 'a'} {per}"


def _wait_words(seconds: float) -> str:
    seconds = max(1, math.ceil(seconds))
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class SamplingThrottled(Throttled):
    """429 in the API's own shape ({"error", "detail"}); DRF sets Retry-After from wait."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS

    def __init__(self, wait: float | None):
        count, per = _rate()
        after = f"try again in {_wait_words(wait)}" if wait else "try again later"
        detail = (f"You have sent {_prompts(count)} for responses in the last {per}, the most "
                  f"allowed; {after}. Nothing was stored.")
        super().__init__(detail={"error": "throttled", "detail": detail})
        self.wait = math.ceil(wait) if wait else None


class SamplingThrottleMixin:
    """For the views that queue sampling: counted per annotator, refused in words."""

    throttle_classes = [SamplingRateThrottle]

    def throttled(self, request, wait):
        raise SamplingThrottled(wait)
