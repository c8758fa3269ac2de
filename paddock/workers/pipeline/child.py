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
from dataclasses import dataclass
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


# Commands whose trainer runs under torchrun when a step has several GPUs or machines
# (paddock.training.engines: DDP or FSDP).
DATA_PARALLEL = {("paddock.training.reward", "train"), ("paddock.training.policy", "sft"),
                 ("paddock.training.policy", "rejection"), ("paddock.training.policy", "ppo")}


JOIN_TASK = "pipeline.join_training_group"


class GroupConfigurationError(RuntimeError):
    """A training group asked for without the address its machines meet at."""


@dataclass(frozen=True)
class Group:
    """Where a training step's ranks run: ``processes`` per machine on ``nodes`` machines;
    machine 0 (the worker that took the step) listens at ``master`` (host:port)."""

    processes: int = 1
    nodes: int = 1
    master: str | None = None

    def command(self, node_rank: int = 0) -> list[str]:
        """The launcher for machine ``node_rank`` of the group: plain ``python`` for one
        process, torchrun ``--standalone`` on one machine, a static rendezvous at
        ``master`` across machines (rank 0, which reports, is always on machine 0)."""
        if self.nodes == 1 and self.processes == 1:
            return [sys.executable]
        torchrun = [sys.executable, "-m", "torch.distributed.run",
                    "--nproc_per_node", str(self.processes)]
        if self.nodes == 1:
            return [*torchrun, "--standalone"]
        host, _, port = (self.master or "").rpartition(":")
        return [*torchrun, "--nnodes", str(self.nodes), "--node_rank", str(node_rank),
                "--master_addr", host, "--master_port", port]


def training_group(module: str, args: list[str]) -> Group:
    """The group this command runs on, from the worker's settings: one process unless the
    command is data-parallel and the worker owns several GPUs (``PADDOCK_TRAINING_PROCESSES``)
    or steps span machines (``PADDOCK_TRAINING_NODES``, meeting at
    ``PADDOCK_TRAINING_RENDEZVOUS``)."""
    from django.conf import settings

    if (module, args[0]) not in DATA_PARALLEL:
        return Group()
    nodes = settings.PADDOCK_TRAINING_NODES
    master = settings.PADDOCK_TRAINING_RENDEZVOUS or None
    if nodes > 1:
        host, _, port = (master or "").rpartition(":")
        if not host or not port.isdigit():
            raise GroupConfigurationError(
                f"PADDOCK_TRAINING_NODES={nodes} needs PADDOCK_TRAINING_RENDEZVOUS=host:port, "
                f"the address at which the other machines reach this one (got {master!r})")
    return Group(settings.PADDOCK_TRAINING_PROCESSES, nodes, master)


def engine_setting(module: str, args: list[str]) -> list[str]:
    """``--set parallelism=...`` from ``PADDOCK_TRAINING_PARALLELISM`` for the commands that
    train under torchrun: the engine is a property of the machines, not of a batch's plan."""
    from django.conf import settings

    chosen = settings.PADDOCK_TRAINING_PARALLELISM
    if (module, args[0]) not in DATA_PARALLEL or chosen == "auto":
        return []
    return ["--set", f"parallelism={json.dumps(chosen)}"]


def _child_environment() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}


def ask_group_to_join(group: Group, module: str, args: list[str]) -> None:
    """One join message per other machine, on the ``training_group`` queue, which every GPU
    worker consumes; each carries its machine's rank. A message not taken within
    ``PADDOCK_TRAINING_JOIN_SECONDS`` expires (the group has given up by then)."""
    from celery import current_app
    from django.conf import settings

    for node_rank in range(1, group.nodes):  # by name: the task module imports this one
        current_app.send_task(
            JOIN_TASK, kwargs={"module": module, "args": args, "processes": group.processes,
                               "nodes": group.nodes, "master": group.master,
                               "node_rank": node_rank},
            expires=settings.PADDOCK_TRAINING_JOIN_SECONDS)


def join_group(module: str, args: list[str], group: Group, node_rank: int) -> int:
    """Run machine ``node_rank``'s share of a group step; its ranks report nothing (rank 0,
    on machine 0, does), so only the exit status and the end of stderr matter."""
    command = [*group.command(node_rank), "-m", module, *args]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, env=_child_environment(), preexec_fn=_die_with_parent)
    errors: deque[str] = deque(child.stderr, maxlen=40)
    code = child.wait()
    if code != 0:
        tail = "".join(errors).strip()[-2000:] or "(nothing on stderr)"
        raise TrainingProcessError(f"{module} {args[0]} (machine {node_rank} of {group.nodes}) "
                                   f"exited with status {code}: {tail}")
    return code


def run_training_cli(
    ctx: StepContext, module: str, args: list[str], *, allow_usage_error: str | None = None,
) -> dict[str, Any] | None:
    """The ``done`` event of ``python -m module args``; None when the child refused with
    a usage error containing ``allow_usage_error`` (e.g. nothing to evaluate)."""
    group = training_group(module, args)
    args = [*args, *engine_setting(module, args)]
    command = [*group.command(0), "-m", module, *args]
    ctx.report(message=f"running {module} {args[0]}", line="$ " + " ".join(command))
    if group.nodes > 1:
        ask_group_to_join(group, module, args)
        ctx.report(message=f"asked {group.nodes - 1} more machine(s) to join at {group.master}")
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=_child_environment(), preexec_fn=_die_with_parent)
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
