"""Composite indexes for a vault's history in its order (vaults.selectors.get_transactions).
Built CONCURRENTLY: a big `transactions` table keeps taking writes while they build."""
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('vaults', '0004_vault_permissions'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='transaction',
            index=models.Index(fields=['vault', 'timestamp', 'slot', 'event_index', 'id'], name='transactions_vault_hist_idx'),
        ),
        AddIndexConcurrently(
            model_name='transaction',
            index=models.Index(condition=models.Q(('counterparty_vault__isnull', False)), fields=['counterparty_vault', 'timestamp', 'slot', 'event_index', 'id'], name='transactions_cparty_hist_idx'),
        ),
        # Its leading columns are the new index's: the history index serves its queries.
        RemoveIndexConcurrently(
            model_name='transaction',
            name='transactions_vault_ts_idx',
        ),
    ]
