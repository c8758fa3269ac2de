"""``manage.py preflight``: can this process reach the database and Redis?

Run before migrations and before starting workers, so a wrong DATABASE_URL or a stopped
Redis shows up as one sentence instead of a traceback deep in a worker's log.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from paddock.platform.health.checks import preflight_problems


class Command(BaseCommand):
    help = "Check that the database and Redis answer; exit 1 with the reason if not."

    requires_system_checks = []

    def handle(self, *args, **options):
        problems = preflight_problems(settings.REDIS_URL)
        if problems:
            raise CommandError(" ".join(problems), returncode=1)
        self.stdout.write("database and Redis answer.")
