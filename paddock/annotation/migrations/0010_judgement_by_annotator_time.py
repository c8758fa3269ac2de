"""An index on (annotator, created_at) for the serving path's "latest answer" read, which
also serves the foreign key's lookups, so the key's own index goes (created first, so the
table is never without one)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("annotation", "0009_judgement_batch_required"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="judgement",
            index=models.Index(fields=["annotator", "created_at"],
                               name="judgement_by_annotator_time"),
        ),
        migrations.AlterField(
            model_name="judgement",
            name="annotator",
            field=models.ForeignKey(db_index=False,
                                    on_delete=django.db.models.deletion.PROTECT,
                                    related_name="judgements", to=settings.AUTH_USER_MODEL),
        ),
    ]
