from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("vaults", "0002_audit_trail_append_only")]

    operations = [
        migrations.CreateModel(
            name="LedgerChain",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("genesis_hash", models.CharField(max_length=64)),
                ("instance", models.CharField(blank=True, default="", max_length=64,
                                              help_text="The local validator's instance id (empty on real clusters)")),
                ("history_start_slot", models.BigIntegerField(
                    default=0,
                    help_text="The chain holds no transaction history before this slot (a restored local chain)")),
                ("rpc_url", models.CharField(blank=True, default="", help_text="Where it was first seen",
                                             max_length=255)),
                ("recorded_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={"db_table": "ledger_chain"},
        ),
        migrations.AddConstraint(
            model_name="ledgerchain",
            constraint=models.CheckConstraint(condition=models.Q(("id", 1)), name="ledger_chain_single_row"),
        ),
    ]
