"""A training CLI run frozen mid-training, then stopped with SIGTERM: the shared part of
the resumable-run tests of the reward and policy CLIs."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_at_first_progress(argv: list[str], **popen) -> Iterator[tuple[subprocess.Popen,
                                                                       list[dict]]]:
    """Start ``argv``, read its JSON lines until the first ``progress`` event, freeze the
    process there (SIGSTOP) and yield it with the events seen; killed on the way out if it
    is still alive."""
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             **popen)
    try:
        seen: list[dict] = []
        for line in child.stdout:
            seen.append(json.loads(line))
            if seen[-1]["event"] == "progress":
                child.send_signal(signal.SIGSTOP)
                break
        assert seen and seen[-1]["event"] == "progress", child.stderr.read()
        yield child, seen
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def stop_with_sigterm(child: subprocess.Popen, *, timeout: float) -> tuple[str, str]:
    """SIGTERM a frozen run, let it go on to its clean stop; its remaining stdout, stderr."""
    child.send_signal(signal.SIGTERM)
    child.send_signal(signal.SIGCONT)
    return child.communicate(timeout=timeout)
