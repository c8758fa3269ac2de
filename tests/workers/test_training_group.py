"""A training step across machines: the worker that takes it asks the others to join
(queue ``training_group``), they meet at ``PADDOCK_TRAINING_RENDEZVOUS`` under torchrun's
static rendezvous, and the result is the one process's.

Two "machines" here are two torchrun launches on this host (one gloo rank each); the
broker is left out (the join message is handed straight to the join task, in a thread).
"""

from __future__ import annotations

import socket
import sys
import threading

import pytest
import torch
from celery import current_app
from safetensors.torch import load_file

from paddock.training.tiny import build_tiny_llama
from paddock.workers.pipeline.child import JOIN_TASK, TrainingProcessError, run_training_cli
from paddock.workers.tasks.pipeline import join_training_group
from tests.training.test_reward_cli import export_file
from tests.training.test_reward_distributed import ARGS, train


class Reports:
    """Stands in for the step's context: keeps what the runner would write to its row."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def report(self, fraction=None, message: str = "", *, line: str = "") -> None:
        if message:
            self.messages.append(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def two_machines(settings, monkeypatch):
    """Settings for a step over two machines of one process each; join messages run the
    join task in a thread. Yields the join results (or errors)."""
    settings.PADDOCK_TRAINING_PROCESSES = 1
    settings.PADDOCK_TRAINING_NODES = 2
    settings.PADDOCK_TRAINING_RENDEZVOUS = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    outcomes: list = []
    threads: list[threading.Thread] = []

    def join(kwargs: dict) -> None:
        try:
            outcomes.append(join_training_group.run(**kwargs))
        except Exception as error:
            outcomes.append(error)

    def send_task(name: str, kwargs: dict, expires: int):
        assert name == JOIN_TASK and expires == settings.PADDOCK_TRAINING_JOIN_SECONDS
        thread = threading.Thread(target=join, args=(kwargs,))
        thread.start()
        threads.append(thread)

    monkeypatch.setattr(current_app, "send_task", send_task)
    yield outcomes
    for thread in threads:
        thread.join(timeout=300)


@pytest.mark.timeout(600)
def test_a_step_on_two_machines_learns_what_one_process_learns(two_machines, tmp_path):
    model = str(build_tiny_llama(tmp_path / "base"))
    data = export_file(tmp_path / "export.jsonl", 24)
    train([sys.executable], model, data, tmp_path / "one")
    reports = Reports()
    done = run_training_cli(
        reports, "paddock.training.reward",
        ["train", "--model", model, "--output", str(tmp_path / "group"),
         "--data", f"paddock={data}", *ARGS])
    assert done["metrics"]["ranks"] == 2 and done["metrics"]["parallelism"] == "ddp"
    assert any("asked 1 more machine(s) to join" in m for m in reports.messages)
    first = load_file(tmp_path / "one" / "model.safetensors")
    second = load_file(tmp_path / "group" / "model.safetensors")
    for name, tensor in first.items():
        torch.testing.assert_close(second[name], tensor, atol=2e-5, rtol=1e-4, msg=name)


@pytest.mark.timeout(600)
def test_a_machine_that_fails_fails_the_step_with_its_reason(two_machines, tmp_path):
    """A setting every rank refuses (no engine across ranks): both machines fail, the
    step's error and the join task's each carry the reason; nobody waits for ever."""
    model = str(build_tiny_llama(tmp_path / "base"))
    data = export_file(tmp_path / "export.jsonl", 8)
    with pytest.raises(TrainingProcessError, match="every rank would train its own copy"):
        run_training_cli(
            Reports(), "paddock.training.reward",
            ["train", "--model", model, "--output", str(tmp_path / "group"),
             "--data", f"paddock={data}", *ARGS, "--set", 'parallelism="none"'])
    joined = wait_for(lambda: two_machines, timeout=120)
    assert isinstance(joined[0], TrainingProcessError)
    assert "machine 1 of 2" in str(joined[0])


def wait_for(condition, *, timeout: float):
    import time

    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return value
