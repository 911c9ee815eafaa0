"""Events are announced in sequence order: each IndexedEvent records whether it went out on the
streams, and the vault's balances after it (for its balance_update when it is announced later).
Rows stored before this migration were announced when they were stored."""
from django.db import migrations, models

import vaults.fields


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0003_monitoring_admin_proxies")]

    operations = [
        migrations.AddField("indexedevent", "total_balance", vaults.fields.U64Field(null=True)),
        migrations.AddField("indexedevent", "locked_balance", vaults.fields.U64Field(null=True)),
        migrations.AddField("indexedevent", "available_balance", vaults.fields.U64Field(null=True)),
        migrations.AddField("indexedevent", "announced", models.BooleanField(default=True)),
        migrations.AlterField(
            "indexedevent", "announced",
            models.BooleanField(default=False, help_text=(
                "Published on the streams. Events are announced in sequence order only: one whose predecessor is "
                "not stored yet waits, unannounced and never replayed, for the gap to close"))),
    ]
