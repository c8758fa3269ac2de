"""Waiting in tests on a condition, with budgets that stretch on slow machines.

A fixed wall-clock limit that is generous on a quiet workstation fails on a busy 2-core
machine where five processes share the CPUs (issue 17: "run stayed running for 150 s").
Every budget a worker test waits on goes through ``scaled``, so one environment variable,
PADDOCK_TEST_TIMEOUT_SCALE, stretches them all; the default is generous because a wait
that succeeds returns at once and only a failing test pays for the slack.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_SCALE = 3.0


def timeout_scale() -> float:
    raw = os.environ.get("PADDOCK_TEST_TIMEOUT_SCALE", "").strip()
    if not raw:
        return DEFAULT_SCALE
    try:
        scale = float(raw)
    except ValueError:
        raise ValueError(f"PADDOCK_TEST_TIMEOUT_SCALE={raw!r} is not a number") from None
    if scale <= 0:
        raise ValueError(f"PADDOCK_TEST_TIMEOUT_SCALE={raw!r} must be positive")
    return scale


def scaled(seconds: float) -> float:
    """``seconds`` as measured on a quiet machine, stretched by the suite's scale factor."""
    return seconds * timeout_scale()


def wait_until(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    describe: Callable[[], str],
    interval: float = 0.2,
) -> T:
    """Poll ``condition`` until it returns something truthy, for a scaled ``timeout``.

    On time-out the error says what state things were in (``describe``), not only that
    time ran out, because a slow machine and a stuck worker need different fixes.
    """
    budget = scaled(timeout)
    deadline = time.monotonic() + budget
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"waited {budget:.0f} s (PADDOCK_TEST_TIMEOUT_SCALE={timeout_scale():g}):\n"
                f"{describe()}"
            )
        time.sleep(interval)
