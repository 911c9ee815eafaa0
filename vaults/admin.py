"""Admin: read-only where the chain is the source of truth; the audit trail is never editable."""
from django.contrib import admin, messages

from vaults.models import ApiKey, AuditTrail, BalanceSnapshot, ReconciliationLog, Transaction, Vault, WalletSession
from vaults.services.api_keys import create_api_key


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Vault)
class VaultAdmin(ReadOnlyAdmin):
    list_display = ("owner", "address", "total_balance", "locked_balance", "available_balance", "is_closed", "last_synced_slot")
    search_fields = ("owner", "address", "token_account")
    list_filter = ("is_closed",)


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("timestamp", "transaction_type", "amount", "vault", "signature", "event_index", "status")
    list_filter = ("transaction_type", "status")
    search_fields = ("signature", "vault__owner", "vault__address")
    date_hierarchy = "timestamp"


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("timestamp", "vault", "kind", "total_balance", "locked_balance", "available_balance", "slot")
    list_filter = ("kind",)


@admin.register(ReconciliationLog)
class ReconciliationLogAdmin(ReadOnlyAdmin):
    list_display = ("timestamp", "vault", "status", "onchain_total_balance", "token_account_amount", "database_total_balance", "difference")
    list_filter = ("status",)


@admin.register(AuditTrail)
class AuditTrailAdmin(ReadOnlyAdmin):
    list_display = ("timestamp", "actor_type", "actor", "action", "status_code", "outcome", "error_code", "ip_address")
    list_filter = ("outcome", "actor_type", "action")
    search_fields = ("actor", "vault_owner", "signature", "path")
    date_hierarchy = "timestamp"

    def get_actions(self, request):
        return {}  # not even the bulk delete action


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "is_active", "created_by", "created_at", "last_used_at")
    fields = ("name", "is_active")
    readonly_fields = ("prefix", "created_at", "last_used_at")

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        raw, created = create_api_key(obj.name, created_by=request.user)
        obj.pk, obj.prefix, obj.key_hash = created.pk, created.prefix, created.key_hash
        obj._state.adding = False
        if not obj.is_active:
            ApiKey.objects.filter(pk=created.pk).update(is_active=False)
        messages.warning(request, f"API key for {obj.name} (shown once, store it now): {raw}")

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: the audit trail refers to keys by name


@admin.register(WalletSession)
class WalletSessionAdmin(admin.ModelAdmin):
    list_display = ("wallet", "created_at", "expires_at", "revoked")
    readonly_fields = ("wallet", "created_at", "expires_at")
    fields = ("wallet", "created_at", "expires_at", "revoked")
    search_fields = ("wallet",)

    def has_add_permission(self, request):
        return False
