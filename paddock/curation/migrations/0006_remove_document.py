"""Issue 19, step 3 of 3: documents live in the document store; the Document table goes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('curation', '0005_documents_to_store'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='droppeddocument',
            name='dropped_once_per_run',
        ),
        migrations.RemoveField(
            model_name='droppeddocument',
            name='document',
        ),
        migrations.RemoveField(
            model_name='droppeddocument',
            name='duplicate_of',
        ),
        migrations.AlterField(
            model_name='droppeddocument',
            name='position',
            field=models.PositiveIntegerField(),
        ),
        migrations.AlterField(
            model_name='droppeddocument',
            name='source',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='curation.source'),
        ),
        migrations.AlterField(
            model_name='source',
            name='fingerprint',
            field=models.CharField(db_index=True, help_text="SHA-256 of the input's bytes.", max_length=64),
        ),
        migrations.AlterField(
            model_name='source',
            name='identity',
            field=models.CharField(help_text='Fingerprint plus name, format and field options.', max_length=64, unique=True),
        ),
        migrations.AlterField(
            model_name='source',
            name='name',
            field=models.SlugField(help_text='Used for up-sampling weights.', max_length=100, unique=True),
        ),
        migrations.AddConstraint(
            model_name='droppeddocument',
            constraint=models.UniqueConstraint(fields=('run', 'source', 'position'), name='dropped_once_per_run'),
        ),
        migrations.DeleteModel(
            name='Document',
        ),
    ]
