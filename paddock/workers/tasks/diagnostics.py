"""Probe tasks, one per queue: prove end to end that some worker consumes each queue.

``manage.py check_workers`` sends one probe to every queue and waits for the answers; a
queue whose probe times out has no worker behind it (a GPU machine is down, say).
"""

from __future__ import annotations

import os
import socket
import sys
from importlib.util import find_spec

from celery import current_task

from paddock.workers.declare import paddock_task
from paddock.workers.queues import Queue


def _accelerator() -> str:
    """What a GPU worker would train on; 'cpu' where torch is missing or sees no GPU."""
    if find_spec("torch") is None:
        return "cpu (torch not installed)"
    import torch

    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    return "cpu"


def _probe(queue: Queue) -> dict[str, str | int]:
    report: dict[str, str | int] = {
        "queue": queue.value,
        "worker": current_task.request.hostname or socket.gethostname(),
        "pid": os.getpid(),
        "python": sys.version.split()[0],
    }
    if queue.needs_gpu:
        report["accelerator"] = _accelerator()
    return report


@paddock_task(name="diagnostics.probe_default", queue=Queue.DEFAULT)
def probe_default() -> dict[str, str | int]:
    return _probe(Queue.DEFAULT)


@paddock_task(name="diagnostics.probe_curation", queue=Queue.CURATION)
def probe_curation() -> dict[str, str | int]:
    return _probe(Queue.CURATION)


@paddock_task(name="diagnostics.probe_generation", queue=Queue.GENERATION)
def probe_generation() -> dict[str, str | int]:
    return _probe(Queue.GENERATION)


@paddock_task(name="diagnostics.probe_training", queue=Queue.TRAINING)
def probe_training() -> dict[str, str | int]:
    return _probe(Queue.TRAINING)


PROBES = {
    Queue.DEFAULT: probe_default,
    Queue.CURATION: probe_curation,
    Queue.GENERATION: probe_generation,
    Queue.TRAINING: probe_training,
}
