"""Every judgement's ``batch`` is required: the submit service sets it on every insert (the
only code that stores a judgement), and 0008 filled it in on the rows before.

The fill is run once more first, for a row an old worker stored while 0008 ran (a no-op
elsewhere). Not atomic: on PostgreSQL an UPDATE of a deferred foreign key followed by an
ALTER TABLE in one transaction fails ("pending trigger events").
"""

import importlib

import django.db.models.deletion
from django.db import migrations, models

BACKFILL_BATCH = importlib.import_module(
    "paddock.annotation.migrations.0008_judgement_browser").BACKFILL_BATCH


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('annotation', '0008_judgement_browser'),
    ]

    operations = [
        migrations.RunSQL(BACKFILL_BATCH, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name='judgement',
            name='batch',
            field=models.ForeignKey(db_index=False, editable=False,
                                    on_delete=django.db.models.deletion.PROTECT,
                                    related_name='+', to='annotation.batch'),
        ),
    ]
