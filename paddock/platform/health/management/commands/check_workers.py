"""``manage.py check_workers``: send a probe task to every queue and wait for the answers.

Where /healthz asks workers what they listen to, this proves the whole path (broker,
routing, a worker executing the task, the result coming back) for each queue.

Right after a restart a worker needs a while (imports, connecting, the first task) before
it answers: a first probe once took 11.2 s against the 10 s timeout, a false failure. So a
queue silent at the timeout gets a grace period (``--startup-grace``, 30 s by default),
announced as "a worker may still be starting"; only a queue still silent after it fails.
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
        parser.add_argument(
            "--startup-grace", type=float, default=30.0, dest="grace",
            help="Further seconds for a queue silent at the timeout (a worker still starting).",
        )

    def handle(self, *args, queues: list[str] | None, timeout: float, grace: float, **options):
        selected = [Queue(name) for name in queues] if queues else list(Queue)
        started = time.monotonic()
        pending = {
            queue: PROBES[queue].apply_async(expires=timeout + grace) for queue in selected
        }
        late = self._collect(pending, deadline=started + timeout, started=started)
        if late and grace > 0:
            self.stdout.write(
                f"no answer yet from {', '.join(q.value for q in late)} after {timeout:g} s: "
                f"a worker may still be starting; waiting up to {grace:g} s more"
            )
            late = self._collect(
                {queue: pending[queue] for queue in late},
                deadline=started + timeout + grace, started=started, late=True,
            )
        for queue in late:
            self.stdout.write(
                f"{queue.value:<11} no worker answered within {timeout + grace:g} s"
            )
        if late:
            names = ", ".join(queue.value for queue in late)
            raise CommandError(f"no worker consumes: {names}", returncode=1)

    def _collect(self, pending, *, deadline: float, started: float, late: bool = False):
        """Print each answer that comes before the deadline; return the silent queues."""
        silent = []
        for queue, result in pending.items():
            try:
                report = result.get(timeout=max(deadline - time.monotonic(), 0.1))
            except CeleryTimeoutError:
                silent.append(queue)
                continue
            extra = f", {report['accelerator']}" if "accelerator" in report else ""
            after = (
                f"; answered after {time.monotonic() - started:.1f} s, it was still starting"
                if late else ""
            )
            self.stdout.write(
                f"{queue.value:<11} {report['worker']} (pid {report['pid']}{extra}){after}"
            )
        return silent
