"""Run a training CLI as a child process and turn its JSON lines into step progress.

The child dies with the worker (``PR_SET_PDEATHSIG``): a killed worker never leaves a
trainer writing into a step folder that the resumed step is about to use.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
from collections import deque
from typing import Any

from paddock.workers.pipeline.runner import StepContext


class TrainingProcessError(RuntimeError):
    """The child exited with an error; the message carries the end of what it printed."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _describe(event: dict[str, Any]) -> tuple[float | None, str]:
    step, total = event.get("step"), event.get("total_steps") or event.get("total")
    if step is None or not total:
        return None, event.get("event", "")
    if event.get("event") == "sampling":  # a policy CLI's sampling pass
        what = f" ({event['what']})" if event.get("what") else ""
        return float(step) / float(total), f"sampled {step}/{total} responses{what}"
    parts = [f"step {step}/{total}"]
    if event.get("loss") is not None:
        parts.append(f"loss {float(event['loss']):.4f}")
    if event.get("eta_seconds") is not None:
        parts.append(f"ETA {int(event['eta_seconds'])} s")
    return float(step) / float(total), ", ".join(parts)


# Commands whose trainer shares each step over several processes (paddock.training.distributed).
DATA_PARALLEL = {("paddock.training.reward", "train")}


def launcher(module: str, args: list[str]) -> list[str]:
    """``python``, or ``python -m torch.distributed.run`` with one process per GPU where
    ``PADDOCK_TRAINING_PROCESSES`` (the GPUs of this machine the worker owns) is above 1."""
    from django.conf import settings

    processes = settings.PADDOCK_TRAINING_PROCESSES
    if processes > 1 and (module, args[0]) in DATA_PARALLEL:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node", str(processes)]
    return [sys.executable]


def run_training_cli(
    ctx: StepContext, module: str, args: list[str], *, allow_usage_error: str | None = None,
) -> dict[str, Any] | None:
    """The ``done`` event of ``python -m module args``; None when the child refused with
    a usage error containing ``allow_usage_error`` (e.g. nothing to evaluate)."""
    command = [*launcher(module, args), "-m", module, *args]
    ctx.report(message=f"running {module} {args[0]}", line="$ " + " ".join(command))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env, preexec_fn=_die_with_parent)
    errors: deque[str] = deque(maxlen=40)
    reader = threading.Thread(target=lambda: errors.extend(child.stderr), daemon=True)
    reader.start()
    done: dict[str, Any] | None = None
    for line in child.stdout:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            ctx.report(line=line)
            continue
        if not isinstance(event, dict):
            continue
        if event.get("event") == "done":
            done = event
            ctx.report(1.0, "finished", line=line)
            continue
        fraction, message = _describe(event)
        ctx.report(fraction, message, line=line)
    code = child.wait()
    reader.join(timeout=5)
    for line in errors:
        ctx.report(line=line)
    if code == 2 and allow_usage_error and any(allow_usage_error in e for e in errors):
        return None
    if code != 0 or done is None:
        tail = "".join(errors).strip()[-2000:] or "(nothing on stderr)"
        raise TrainingProcessError(f"{module} {args[0]} exited with status {code}: {tail}")
    return done
