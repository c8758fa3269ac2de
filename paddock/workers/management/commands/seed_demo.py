"""``manage.py seed_demo``: the demo users ``make run`` prints and the demo batches, created
once and kept. The users come last, so they sit right above the URL ``make run`` prints."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from paddock.platform.accounts.models import Role
from paddock.platform.errors import BrokerUnavailable
from paddock.workers.demo import demo_batch_seed, demo_live_batch_seed, demo_ready_batch_seed
from paddock.workers.jobs import job_enqueue
from paddock.workers.models import Job, JobState
from paddock.workers.tasks.annotation import fill_demo_batch_task

DEMO_USERS = (
    ("annotator", "paddock-annotator", Role.ANNOTATOR),
    ("manager", "paddock-manager", Role.DATA_MANAGER),
    ("admin", "paddock-admin", Role.ADMIN),
)


class Command(BaseCommand):
    help = "Create the demo annotator, data manager and admin (development only)."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError(
                "seed_demo creates users with published passwords; it refuses to run with "
                "PADDOCK_ENV=production. Use create_user instead."
            )
        User = get_user_model()
        users = []
        for username, password, role in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username, defaults={"role": role})
            if created:
                user.set_password(password)
                user.save()
            note = "" if created else " (existing; password unchanged)"
            users.append(f"  {role.label:<13} {username} / {password}{note}")

        batch = demo_batch_seed()
        self.stdout.write(f"Demo batch: {batch.name} ({batch.comparisons.count()} judged "
                          "comparisons); run its weekly cycle from the console's batch page.")
        ready = demo_ready_batch_seed()
        unjudged = ready.comparisons.filter(judgements__isnull=True).count()
        self.stdout.write(f"Demo batch: {ready.name} ({unjudged} comparisons waiting for the "
                          "annotator)")
        self._live_batch()
        self.stdout.write("Demo users (username / password):")
        for line in users:
            self.stdout.write(line)

    def _live_batch(self) -> None:
        """The open batch SmolLM2 answers: its sampling job waits in the queue until the
        generation worker starts."""

        batch, _ = demo_live_batch_seed()
        waiting = batch.conversations.filter(comparisons__isnull=True).count()
        pending = Job.objects.filter(task_name=fill_demo_batch_task.name,
                                     state__in=[JobState.QUEUED, JobState.RUNNING],
                                     kwargs__batch_id=batch.pk).exists()
        if waiting and not pending:
            try:
                job_enqueue(task=fill_demo_batch_task, kwargs={"batch_id": batch.pk},
                            label=f"Sample the responses of {batch.name}")
            except BrokerUnavailable:
                self.stdout.write("  (Redis is not reachable: run seed_demo again to sample "
                                  "the demo prompts' responses)")
                return
        self.stdout.write(f"Demo batch: {batch.name} ({waiting} prompts waiting for their "
                          "responses from the generation worker, then open to annotators)")
