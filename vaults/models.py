"""The seeds' five tables (with their names), plus the API's credentials.

The chain is the source of truth for balances; these rows are what the back office has seen of
it. Amounts are u64 in base units (NUMERIC(20,0)), never floats.
"""
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from .fields import U64_MAX, SignedAmountField, U64Field

PUBKEY_LENGTH = 44


def u64_range_check(field_name):
    return models.CheckConstraint(
        condition=Q(**{f"{field_name}__gte": 0}) & Q(**{f"{field_name}__lte": U64_MAX}),
        name=f"%(class)s_{field_name}_u64",
    )


class Vault(models.Model):
    """A user's vault PDA and the last state read from the chain."""

    owner = models.CharField(max_length=PUBKEY_LENGTH, unique=True)
    address = models.CharField(max_length=PUBKEY_LENGTH, unique=True)
    token_account = models.CharField(max_length=PUBKEY_LENGTH)
    total_balance = U64Field(default=0)
    locked_balance = U64Field(default=0)
    available_balance = U64Field(default=0)
    total_deposited = U64Field(default=0)
    total_withdrawn = U64Field(default=0)
    event_seq = U64Field(default=0)
    onchain_created_at = models.BigIntegerField(help_text="Unix timestamp from the vault account")
    last_synced_slot = models.BigIntegerField(default=0)
    is_closed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "vaults"
        permissions = [
            ("act_for_wallet", "Can act for a wallet through the API"),
            ("reconcile_vault", "Can reconcile a vault against the chain now"),
        ]
        constraints = [
            u64_range_check("total_balance"),
            u64_range_check("locked_balance"),
            u64_range_check("available_balance"),
            models.CheckConstraint(
                condition=Q(available_balance=models.F("total_balance") - models.F("locked_balance")),
                name="vaults_available_is_total_minus_locked",
            ),
        ]

    def __str__(self):
        return f"vault {self.address} (owner {self.owner})"


class Transaction(models.Model):
    """One vault event from one confirmed transaction: unique on (signature, event_index)."""

    class Type(models.TextChoices):
        INITIALIZE = "initialize"
        DEPOSIT = "deposit"
        WITHDRAWAL = "withdrawal"
        SURPLUS = "surplus"
        LOCK = "lock"
        UNLOCK = "unlock"
        TRANSFER = "transfer"
        CLOSE = "close"

    class Status(models.TextChoices):
        CONFIRMED = "confirmed"
        FINALIZED = "finalized"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    vault = models.ForeignKey(Vault, on_delete=models.PROTECT, related_name="transactions")
    counterparty_vault = models.ForeignKey(
        Vault, on_delete=models.PROTECT, null=True, blank=True, related_name="incoming_transfers"
    )
    transaction_type = models.CharField(max_length=16, choices=Type.choices)
    amount = U64Field()
    signature = models.CharField(max_length=88)
    event_index = models.PositiveIntegerField(help_text="Position of the event within its transaction")
    event_seq = U64Field(null=True, blank=True, help_text="The vault's event sequence number")
    slot = models.BigIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CONFIRMED)
    caller_program = models.CharField(max_length=PUBKEY_LENGTH, blank=True, default="")
    timestamp = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "transactions"
        constraints = [
            models.UniqueConstraint(fields=["signature", "event_index"], name="transactions_signature_event_unique"),
            u64_range_check("amount"),
        ]
        indexes = [
            models.Index(fields=["timestamp"], name="transactions_timestamp_idx"),
            models.Index(fields=["vault", "-timestamp"], name="transactions_vault_ts_idx"),
        ]

    def __str__(self):
        return f"{self.transaction_type} {self.amount} ({self.signature[:12]}…#{self.event_index})"


class BalanceSnapshot(models.Model):
    class Kind(models.TextChoices):
        EVENT = "event"
        HOURLY = "hourly"
        DAILY = "daily"

    vault = models.ForeignKey(Vault, on_delete=models.PROTECT, related_name="snapshots")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    total_balance = U64Field()
    locked_balance = U64Field()
    available_balance = U64Field()
    slot = models.BigIntegerField()
    timestamp = models.DateTimeField()

    class Meta:
        db_table = "balance_snapshots"
        constraints = [u64_range_check("total_balance")]
        indexes = [
            models.Index(fields=["timestamp"], name="balance_snapshots_ts_idx"),
            models.Index(fields=["vault", "-timestamp"], name="balance_snapshots_vault_ts_idx"),
        ]


class ReconciliationLog(models.Model):
    """On-chain vs off-chain comparison (written by the reconciliation job)."""

    class Status(models.TextChoices):
        MATCHED = "matched"
        MISMATCH = "mismatch"
        ERROR = "error"

    vault = models.ForeignKey(Vault, on_delete=models.PROTECT, related_name="reconciliations", null=True)
    slot = models.BigIntegerField()
    onchain_total_balance = U64Field(null=True)
    token_account_amount = U64Field(null=True)
    database_total_balance = U64Field(null=True)
    difference = SignedAmountField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices)
    details = models.JSONField(default=dict, blank=True)
    timestamp = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "reconciliation_logs"
        indexes = [
            models.Index(fields=["timestamp"], name="reconciliation_logs_ts_idx"),
            models.Index(fields=["vault", "-timestamp"], name="reconciliation_vault_ts_idx"),
        ]


class AuditTrailQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyViolation("the audit trail is append-only")

    def delete(self):
        raise AppendOnlyViolation("the audit trail is append-only")


class AppendOnlyViolation(Exception):
    pass


class AuditTrail(models.Model):
    """Append-only: a database trigger (migration 0002) rejects UPDATE and DELETE as well."""

    class Outcome(models.TextChoices):
        SUCCESS = "success"
        FAILURE = "failure"

    timestamp = models.DateTimeField(auto_now_add=True)
    actor_type = models.CharField(max_length=16)
    actor = models.CharField(max_length=128, blank=True, default="")
    action = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True, default="")
    status_code = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    error_code = models.CharField(max_length=64, blank=True, default="")
    vault_owner = models.CharField(max_length=PUBKEY_LENGTH, blank=True, default="")
    signature = models.CharField(max_length=88, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)

    objects = AuditTrailQuerySet.as_manager()

    class Meta:
        db_table = "audit_trail"
        indexes = [
            models.Index(fields=["timestamp"], name="audit_trail_ts_idx"),
            models.Index(fields=["vault_owner", "-timestamp"], name="audit_trail_owner_ts_idx"),
            models.Index(fields=["actor", "-timestamp"], name="audit_trail_actor_ts_idx"),
        ]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyViolation("the audit trail is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyViolation("the audit trail is append-only")


class ApiKey(models.Model):
    """A service client's key. Only a hash is stored; the key is shown once, at creation."""

    name = models.CharField(max_length=100, unique=True)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "api_keys"
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"


class WalletSession(models.Model):
    """A token issued after a wallet signed a login nonce; it acts for that wallet only."""

    wallet = models.CharField(max_length=PUBKEY_LENGTH, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked = models.BooleanField(default=False)

    class Meta:
        db_table = "wallet_sessions"

    def __str__(self):
        return f"session of {self.wallet}"


class LedgerChain(models.Model):
    """The one chain this ledger belongs to (vaults/services/chain_identity.py): recorded by the
    first process that starts on an empty ledger; every web, indexer and worker process refuses
    to start, and the indexer and the jobs to index, when the RPC serves another chain."""

    genesis_hash = models.CharField(max_length=64)
    instance = models.CharField(max_length=64, blank=True, default="",
                                help_text="The local validator's instance id (empty on real clusters)")
    history_start_slot = models.BigIntegerField(
        default=0, help_text="The chain holds no transaction history before this slot (a restored local chain)")
    rpc_url = models.CharField(max_length=255, blank=True, default="", help_text="Where it was first seen")
    recorded_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "ledger_chain"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="ledger_chain_single_row")]

    def __str__(self):
        return f"{self.genesis_hash}{' / ' + self.instance[:12] if self.instance else ''}"
