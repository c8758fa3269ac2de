"""Issue 19, step 1 of 3: the fields that replace Document rows (filled by 0005)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('curation', '0003_drop_reasons_filters'),
    ]

    operations = [
        migrations.AddField(
            model_name='source',
            name='identity',
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.AddField(
            model_name='droppeddocument',
            name='source',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE,
                                    related_name='+', to='curation.source'),
        ),
        migrations.AddField(
            model_name='droppeddocument',
            name='position',
            field=models.PositiveIntegerField(null=True),
        ),
        migrations.AddField(
            model_name='droppeddocument',
            name='locator',
            field=models.CharField(blank=True, max_length=300, default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='droppeddocument',
            name='url',
            field=models.TextField(blank=True, default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='droppeddocument',
            name='domain',
            field=models.CharField(blank=True, max_length=253, default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='droppeddocument',
            name='duplicate_of_source',
            field=models.ForeignKey(blank=True, null=True,
                                    on_delete=django.db.models.deletion.SET_NULL,
                                    related_name='+', to='curation.source'),
        ),
        migrations.AddField(
            model_name='droppeddocument',
            name='duplicate_of_position',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='droppeddocument',
            name='duplicate_of_ref',
            field=models.TextField(blank=True, default='',
                                   help_text="The duplicated document's url, or its locator."),
            preserve_default=False,
        ),
    ]
