"""``manage.py check_workers``: send a probe task to every queue and wait for the answers.

Where /healthz asks workers what they listen to, this proves the whole path (broker,
routing, a worker executing the task, the result coming back) for each queue.
"""

from __future__ import annotations

import time

from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.core.management.base import BaseCommand, CommandError

from paddock.workers.queues import Queue
from paddock.workers.tasks.diagnostics import PROBES


class Command(BaseCommand):
    help = "Send a probe task to each queue; exit 1 if a queue has no worker answering."

    def add_arguments(self, parser):
        parser.add_argument(
            "--queue", action="append", choices=[q.value for q in Queue], dest="queues"
        )
        parser.add_argument("--timeout", type=float, default=10.0, help="Seconds to wait.")

    def handle(self, *args, queues: list[str] | None, timeout: float, **options):
        selected = [Queue(name) for name in queues] if queues else list(Queue)
        pending = {queue: PROBES[queue].apply_async(expires=timeout) for queue in selected}
        deadline = time.monotonic() + timeout
        silent = []
        for queue, result in pending.items():
            try:
                report = result.get(timeout=max(deadline - time.monotonic(), 0.1))
            except CeleryTimeoutError:
                silent.append(queue.value)
                self.stdout.write(f"{queue.value:<11} no worker answered within {timeout:g} s")
                continue
            extra = f", {report['accelerator']}" if "accelerator" in report else ""
            self.stdout.write(f"{queue.value:<11} {report['worker']} (pid {report['pid']}{extra})")
        if silent:
            raise CommandError(f"no worker consumes: {', '.join(silent)}", returncode=1)
