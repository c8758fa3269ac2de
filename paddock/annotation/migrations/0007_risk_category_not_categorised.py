"""Risk category "not categorised", and the public safety data filed under it.

The HH-RLHF importer used to file every public safety conversation under "unqualified
advice": the public data carries no category, so that label was a guess. Only that
importer creates open-source conversations, so those it labelled are relabelled here (and
back, when the migration is reversed).
"""

from django.db import migrations, models

GUESSED = "unqualified_advice"
NOT_CATEGORISED = "not_categorised"


def relabel(apps, _schema_editor, old=GUESSED, new=NOT_CATEGORISED):
    Conversation = apps.get_model("annotation", "Conversation")
    Conversation.objects.filter(origin="open_source", axis="safety",
                                risk_category=old).update(risk_category=new)


def unlabel(apps, schema_editor):
    relabel(apps, schema_editor, old=NOT_CATEGORISED, new=GUESSED)


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0006_batch_pipeline'),
    ]

    operations = [
        migrations.AlterField(
            model_name='conversation',
            name='risk_category',
            field=models.CharField(blank=True, choices=[('illicit_criminal', 'Illicit and criminal activities'), ('hateful_harmful', 'Hateful and harmful activities'), ('unqualified_advice', 'Unqualified advice'), ('not_categorised', 'Not categorised')], max_length=20),
        ),
        migrations.RunPython(relabel, unlabel),
    ]
