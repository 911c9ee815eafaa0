"""Monitoring state: where the indexer has got to. The vault data it writes lives in the vaults
app's tables (the seeds' five)."""
from django.db import models

from vaults.fields import U64Field
from vaults.models import AuditTrail, AuditTrailQuerySet, ReconciliationLog


class IndexerCursor(models.Model):
    """The newest signature the indexer has fully stored, per stream (one per program). Stored
    in the same database transaction as the rows it covers, so a restart resumes exactly."""

    name = models.CharField(max_length=64, unique=True)
    last_signature = models.CharField(max_length=88, blank=True, default="")
    last_slot = models.BigIntegerField(default=0)
    finalized_slot = models.BigIntegerField(default=0, help_text="Rows at or below this slot are final")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "indexer_cursors"

    def __str__(self):
        return f"{self.name} @ {self.last_slot}"


class IndexedEvent(models.Model):
    """The indexer's own record of each vault event it has applied: one row per (signature,
    event index, vault). A transfer touches two vaults, so it has two rows, each with that
    vault's sequence number; that is what gap detection reads (the `transactions` table keeps
    only the sender's). Written in the same database transaction as the ledger rows, so "this
    event is indexed" and "its rows exist" are the same fact."""

    signature = models.CharField(max_length=88)
    event_index = models.PositiveIntegerField()
    vault_address = models.CharField(max_length=44)
    seq = models.BigIntegerField(help_text="The vault's event sequence number after this event")
    generation = models.BigIntegerField(
        default=0,
        help_text="The vault's creation slot (vault program v2); its numbers start at (generation << 20) + 1",
    )
    slot = models.BigIntegerField()
    # The vault's balances right after this event (from the event itself), for its balance_update.
    total_balance = U64Field(null=True)
    locked_balance = U64Field(null=True)
    available_balance = U64Field(null=True)
    announced = models.BooleanField(
        default=False, help_text="Published on the streams. Events are announced in sequence order only: one whose "
                                 "predecessor is not stored yet waits, unannounced and never replayed, for the gap to close")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "indexer_events"
        constraints = [
            models.UniqueConstraint(fields=["signature", "event_index", "vault_address"],
                                    name="indexer_events_signature_event_vault_unique"),
        ]
        indexes = [
            models.Index(fields=["vault_address", "seq"], name="indexer_events_vault_seq_idx"),
            models.Index(fields=["signature"], name="indexer_events_signature_idx"),
        ]

    def __str__(self):
        return f"{self.vault_address} #{self.seq} ({self.signature[:12]}…#{self.event_index})"

# ---- the admin's monitoring views (proxies: no tables of their own) ----------------------------

class AlertManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(action__startswith="alert.")


class Alert(AuditTrail):
    """The audit trail's alert rows (action `alert.<kind>`), written by monitoring/services/alerts.py."""

    objects = AlertManager.from_queryset(AuditTrailQuerySet)()

    class Meta:
        proxy = True
        ordering = ["-timestamp"]


class MonitoringDashboard(ReconciliationLog):
    """The admin's analytics page (TVL over time, flows per day, reconciliation, alerts)."""

    class Meta:
        proxy = True
        verbose_name = "monitoring dashboard"
        verbose_name_plural = "monitoring dashboard"
