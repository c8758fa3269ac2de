"""Skipping for a missing prerequisite, which CI turns into a failure.

A user's clone may lack ../shared or a system binary, and a skip with the reason is right
there; CI always has them, so ``.ci/run`` sets PADDOCK_STRICT_SKIPS=1 and a skip becomes a
failure instead of a silently smaller suite.
"""

import os

import pytest


def skip_or_fail(reason: str) -> None:
    if os.environ.get("PADDOCK_STRICT_SKIPS") == "1":
        pytest.fail(f"{reason} (PADDOCK_STRICT_SKIPS=1: CI must have it)")
    pytest.skip(reason)
