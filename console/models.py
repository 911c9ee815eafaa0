"""The staff console's own state: the alert workflow and the on-chain administration proposals.

Alerts themselves are append-only `audit_trail` rows (monitoring/services/alerts.py); their
workflow lives here, one `AlertCase` per alert, created when staff first touch it (an alert
without one is open). Every change of either model also writes an audit row
(console/services/), in the same database transaction.
"""
from django.conf import settings
from django.db import models

from vaults.models import PUBKEY_LENGTH, AuditTrail


class AlertCase(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    alert = models.OneToOneField(AuditTrail, on_delete=models.PROTECT, related_name="case")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="assigned_alerts")
    note = models.TextField(blank=True, default="")
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "alert_cases"
        indexes = [models.Index(fields=["status"], name="alert_cases_status_idx")]
        permissions = [("work_alert", "Can acknowledge, assign and resolve alerts")]

    def __str__(self):
        return f"alert {self.alert_id}: {self.status}"


class ChainAdminAction(models.Model):
    """One administrative instruction for the vault program, proposed by one staff member and
    approved by another before anything is signed."""

    class Kind(models.TextChoices):
        SET_PAUSED = "set_paused", "pause or resume an action"
        ADD_AUTHORIZED_PROGRAM = "add_authorized_program", "authorize a program"
        REMOVE_AUTHORIZED_PROGRAM = "remove_authorized_program", "revoke a program"
        SET_STRANDED_LOCK_GRACE = "set_stranded_lock_grace", "set the grace period of a revoked program's locks"
        PROPOSE_ADMIN = "propose_admin", "propose a new admin"
        ACCEPT_ADMIN = "accept_admin", "accept the admin role"

    class Status(models.TextChoices):
        PROPOSED = "proposed"  # waiting for a second staff member
        AWAITING_SIGNATURE = "awaiting_signature"  # approved; the unsigned transaction is exported
        EXECUTED = "executed"  # confirmed on chain, and the chain shows the intended state
        FAILED = "failed"
        REJECTED = "rejected"
        CANCELLED = "cancelled"
        EXPIRED = "expired"

    OPEN_STATUSES = (Status.PROPOSED, Status.AWAITING_SIGNATURE)

    kind = models.CharField(max_length=32, choices=Kind.choices)
    params = models.JSONField(default=dict, help_text="The instruction's arguments, e.g. {action, paused}")
    summary = models.CharField(max_length=255, help_text="What the instruction does, for people")
    reason = models.TextField(blank=True, default="")
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PROPOSED)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    signer = models.CharField(max_length=PUBKEY_LENGTH, blank=True, default="",
                              help_text="The key that must sign: the on-chain admin (pending admin for accept_admin)")
    unsigned_transaction = models.TextField(blank=True, default="", help_text="base64, for an external signer")
    signature = models.CharField(max_length=88, blank=True, default="")
    slot = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    chain_state = models.JSONField(default=dict, blank=True, help_text="The authority read back after execution")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "chain_admin_actions"
        ordering = ["-proposed_at"]
        verbose_name = "on-chain administration"
        verbose_name_plural = "on-chain administration"
        permissions = [
            ("propose_chainadminaction", "Can propose on-chain administration"),
            ("approve_chainadminaction", "Can approve and sign on-chain administration"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.summary} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES
