"""``manage.py seed_demo``: the demo users ``make run`` prints and the demo batch, created
once and kept."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from paddock.platform.accounts.models import Role

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
        self.stdout.write("Demo users (username / password):")
        for username, password, role in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username, defaults={"role": role})
            if created:
                user.set_password(password)
                user.save()
            note = "" if created else " (existing; password unchanged)"
            self.stdout.write(f"  {role.label:<13} {username} / {password}{note}")
        from paddock.workers.demo import demo_batch_seed

        batch = demo_batch_seed()
        self.stdout.write(f"Demo batch: {batch.name} ({batch.comparisons.count()} judged "
                          "comparisons); run its weekly cycle from the console's batch page.")
