from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0003_comparison_author'),
    ]

    operations = [
        migrations.AddField(
            model_name='batch',
            name='reveal_gold_accuracy',
            field=models.BooleanField(default=False, help_text="Annotators see their own accuracy on this batch's gold comparisons."),
        ),
    ]
