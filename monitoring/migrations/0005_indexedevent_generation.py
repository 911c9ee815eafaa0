from django.db import migrations, models


class Migration(migrations.Migration):
    """Vault program v2 numbers a vault's events per generation (its creation slot), so one
    address never repeats a number across close and re-creation; gap detection reads it."""

    dependencies = [
        ('monitoring', '0004_indexed_event_announcement'),
    ]

    operations = [
        migrations.AddField(
            model_name='indexedevent',
            name='generation',
            field=models.BigIntegerField(default=0, help_text="The vault's creation slot (vault program v2); its numbers start at (generation << 20) + 1"),
        ),
    ]
