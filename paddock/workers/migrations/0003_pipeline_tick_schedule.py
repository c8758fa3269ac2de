"""The beat entry that drives the weekly loop: ``pipeline.tick`` every minute.

Stored in django-celery-beat's tables (not in code), so a data manager can pause or
change it in the admin and the change survives restarts; the batches' own open and close
times are the weekly schedule itself.
"""

from django.db import migrations

NAME = "paddock: weekly loop tick (open/close batches, start pipelines, watchdog)"


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=NAME, defaults={"task": "pipeline.tick", "interval": every_minute,
                             "queue": "default", "enabled": True},
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("workers", "0002_pipeline_runs"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create, remove)]
