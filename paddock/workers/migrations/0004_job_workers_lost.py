"""Job.workers_lost: how many deliveries of a job found their worker dead, so a task that
kills its worker (out of memory) is failed on its third delivery, not redelivered forever."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('workers', '0003_pipeline_tick_schedule'),
    ]

    operations = [
        migrations.AddField(
            model_name='job',
            name='workers_lost',
            field=models.PositiveIntegerField(default=0, help_text='Deliveries whose worker died while running this job.'),
        ),
    ]
