"""The staff console in the admin: the alert workflow, the vault page, on-chain administration.

Every view checks permissions (console/roles.py): a viewer sees the pages without any action
button, and a POST without the permission is answered 403.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from console.models import AlertCase, ChainAdminAction
from console.selectors import alerts_with_status
from console.services import alert_workflow, chain_admin
from console.services.staff_audit import record_staff_action
from console.services.vault_page import load_vault_page
from console.templatetags.console import short_key
from monitoring.admin import AlertAdmin as MonitoringAlertAdmin
from monitoring.models import Alert
from monitoring.templatetags.amounts import collateral
from vaults.admin import VaultAdmin as LedgerVaultAdmin
from vaults.chain.client import ChainError
from vaults.errors import VaultServiceError
from vaults.models import Vault


def _context(model_admin, request, **extra):
    return {**model_admin.admin_site.each_context(request), "opts": model_admin.model._meta, **extra}


def _post_only(request):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return None


# ---- alerts ------------------------------------------------------------------------------------

class WorkflowFilter(admin.SimpleListFilter):
    title = "workflow"
    parameter_name = "workflow"

    def lookups(self, request, model_admin):
        return AlertCase.Status.choices

    def queryset(self, request, queryset):
        value = self.value()
        if value in AlertCase.Status.values:
            return queryset.filter(pk__in=alerts_with_status(value).values("pk"))
        return queryset


admin.site.unregister(Alert)


@admin.register(Alert)
class AlertWorkflowAdmin(MonitoringAlertAdmin):
    list_display = ("timestamp", "action", "severity", "message", "workflow", "assignee", "vault_owner")
    list_filter = (WorkflowFilter, "action")
    list_select_related = ("case", "case__assignee")

    @admin.display(description="workflow")
    def workflow(self, obj):
        case = getattr(obj, "case", None)
        status = case.status if case else AlertCase.Status.OPEN
        return format_html('<span class="workflow workflow-{}">{}</span>', status, status)

    @admin.display(description="assignee")
    def assignee(self, obj):
        case = getattr(obj, "case", None)
        return case.assignee.get_username() if case and case.assignee else "—"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        alert = Alert.objects.filter(pk=object_id).first()
        if alert is None or not self.has_view_permission(request, alert):
            raise Http404("no such alert") if alert is None else PermissionDenied
        can_work = request.user.has_perm("console.work_alert")
        if request.method == "POST":
            if not can_work:
                raise PermissionDenied("viewers cannot change alerts")
            assignee = None
            if request.POST.get("assignee"):
                assignee = get_user_model().objects.filter(pk=request.POST["assignee"], is_staff=True,
                                                           is_active=True).first()
                if assignee is None:
                    messages.error(request, "no such staff member")
                    return HttpResponseRedirect(request.path)
            try:
                alert_workflow.apply_step(request, alert, request.POST.get("step", ""), assignee=assignee,
                                          note=request.POST.get("note"))
                messages.success(request, f"alert {request.POST.get('step')}: done")
            except VaultServiceError as exc:
                messages.error(request, exc.message)
            return HttpResponseRedirect(request.path)
        case = alert_workflow.case_for(alert)
        context = _context(self, request, title=f"Alert: {alert.error_code}", alert=alert, case=case,
                           status=case.status if case else AlertCase.Status.OPEN, can_work=can_work,
                           staff=get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username"),
                           history=self._history(alert))
        return TemplateResponse(request, "admin/console/alert_detail.html", context)

    @staticmethod
    def _history(alert):
        from vaults.models import AuditTrail

        return AuditTrail.objects.filter(action__startswith="alert_case.", details__alert_id=alert.pk).order_by("timestamp")


# ---- the vault page ----------------------------------------------------------------------------

admin.site.unregister(Vault)


@admin.register(Vault)
class VaultPageAdmin(LedgerVaultAdmin):
    """The list fits a laptop screen (short keys, amounts in USDT); a vault opens its page."""

    list_display = ("owner_short", "vault_short", "total", "locked", "available", "is_closed", "last_synced_slot")
    list_display_links = ("owner_short",)

    @admin.display(description="owner", ordering="owner")
    def owner_short(self, obj):
        return format_html('<span title="{}">{}</span>', obj.owner, short_key(obj.owner))

    @admin.display(description="vault", ordering="address")
    def vault_short(self, obj):
        return format_html('<span title="{}">{}</span>', obj.address, short_key(obj.address))

    @admin.display(description="total", ordering="total_balance")
    def total(self, obj):
        return collateral(obj.total_balance)

    @admin.display(description="locked", ordering="locked_balance")
    def locked(self, obj):
        return collateral(obj.locked_balance)

    @admin.display(description="available", ordering="available_balance")
    def available(self, obj):
        return collateral(obj.available_balance)

    def get_urls(self):
        return [path("<path:object_id>/reconcile/", self.admin_site.admin_view(self.reconcile_view),
                     name="vaults_vault_reconcile")] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        vault = Vault.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if vault is None:
            raise Http404("no such vault")
        if not self.has_view_permission(request, vault):
            raise PermissionDenied
        page = load_vault_page(vault)
        context = _context(self, request, title=f"Vault {vault.address}", vault=vault, page=page,
                           can_reconcile=request.user.has_perm("vaults.reconcile_vault"),
                           chart={"t": [int(s.timestamp.timestamp()) for s in page.snapshots],
                                  "total": [int(s.total_balance) for s in page.snapshots],
                                  "locked": [int(s.locked_balance) for s in page.snapshots],
                                  "decimals": settings.COLLATERAL_DECIMALS, "symbol": settings.COLLATERAL_SYMBOL})
        return TemplateResponse(request, "admin/console/vault_page.html", context)

    def reconcile_view(self, request, object_id):
        refused = _post_only(request)
        if refused:
            return refused
        if not request.user.has_perm("vaults.reconcile_vault"):
            raise PermissionDenied("needs vaults.reconcile_vault")
        vault = Vault.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if vault is None:
            raise Http404("no such vault")
        from monitoring.services.balance_tracker import BalanceTracker

        try:
            log = BalanceTracker().reconcile_balance(vault.address)
        except ChainError as exc:
            record_staff_action(request, "vault.reconcile_now", status_code=503, error_code="rpc_unavailable",
                                vault_owner=vault.owner, details={"vault": vault.address, "error": str(exc)})
            messages.error(request, f"the chain could not be read: {exc}")
        else:
            record_staff_action(request, "vault.reconcile_now", vault_owner=vault.owner,
                                details={"vault": vault.address, "reconciliation_log_id": log.pk,
                                         "status": log.status, "difference": int(log.difference)})
            level = messages.SUCCESS if log.status == "matched" else messages.WARNING
            messages.add_message(request, level, f"reconciled at slot {log.slot}: {log.status}"
                                 + (f" (difference {log.difference:+d})" if log.difference else ""))
        return HttpResponseRedirect(reverse("admin:vaults_vault_change", args=[vault.pk]))


# ---- on-chain administration -------------------------------------------------------------------

@admin.register(ChainAdminAction)
class ChainAdminActionAdmin(admin.ModelAdmin):
    """One page: the authority as the chain has it, the propose form, and the proposals."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("propose/", wrap(self.propose_view), name="console_chainadminaction_propose"),
            path("<int:action_id>/<str:step>/", wrap(self.step_view), name="console_chainadminaction_step"),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        authority, chain_error = None, ""
        try:
            authority = chain_admin.read_authority()
        except VaultServiceError as exc:
            chain_error = exc.message
        actions = ChainAdminAction.objects.select_related("proposed_by", "decided_by")
        ops = None
        try:
            key = chain_admin.ops_keypair()
            ops = str(key.pubkey()) if key else None
        except Exception as exc:  # noqa: BLE001 - a broken setting is shown, not a 500
            chain_error = chain_error or f"CHAIN_ADMIN_OPS_KEY is unreadable: {exc}"
        context = _context(
            self, request, title="On-chain administration", authority=authority, chain_error=chain_error,
            open_actions=actions.filter(status__in=ChainAdminAction.OPEN_STATUSES),
            closed_actions=actions.exclude(status__in=ChainAdminAction.OPEN_STATUSES)[:50],
            can_propose=request.user.has_perm(chain_admin.PROPOSE),
            can_approve=request.user.has_perm(chain_admin.APPROVE),
            ops_key=ops, pause_actions=chain_admin.PAUSE_LABELS, kinds=ChainAdminAction.Kind.choices,
        )
        return TemplateResponse(request, "admin/console/chain_admin.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:console_chainadminaction_changelist") + f"#action-{object_id}")

    def propose_view(self, request):
        refused = _post_only(request)
        if refused:
            return refused
        if not request.user.has_perm(chain_admin.PROPOSE):
            raise PermissionDenied("needs console.propose_chainadminaction")
        params = {name: request.POST.get(name) for name in ("action", "paused", "program_id", "new_admin", "seconds")}
        try:
            action = chain_admin.propose(request, request.POST.get("kind", ""), params, request.POST.get("reason", ""))
            messages.success(request, f"proposed #{action.pk}: {action.summary}. Another staff member must approve it.")
        except VaultServiceError as exc:
            messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("admin:console_chainadminaction_changelist"))

    def step_view(self, request, action_id, step):
        refused = _post_only(request)
        if refused:
            return refused
        steps = {
            "approve": lambda: chain_admin.approve(request, action_id),
            "reject": lambda: chain_admin.reject(request, action_id, request.POST.get("reason", "")),
            "cancel": lambda: chain_admin.cancel(request, action_id, request.POST.get("reason", "")),
            "export": lambda: chain_admin.export_unsigned(request, action_id),
            "sign": lambda: chain_admin.sign_with_ops_key(request, action_id),
            "relay": lambda: chain_admin.relay_signed(request, action_id, request.POST.get("signed_transaction", "")),
        }
        if step not in steps:
            raise Http404("no such step")
        if not ChainAdminAction.objects.filter(pk=action_id).exists():
            raise Http404("no such action")
        try:
            action = steps[step]()
        except VaultServiceError as exc:
            messages.error(request, exc.message)
        else:
            if action.status == ChainAdminAction.Status.EXECUTED:
                messages.success(request, f"#{action.pk} {action.summary}: confirmed on chain ({action.signature})")
            elif action.status == ChainAdminAction.Status.FAILED or action.error:
                messages.error(request, f"#{action.pk} {action.summary}: {action.error}")
            else:
                messages.info(request, f"#{action.pk} {action.summary}: {action.status.replace('_', ' ')}")
        return HttpResponseRedirect(reverse("admin:console_chainadminaction_changelist") + f"#action-{action_id}")


__all__ = ["AlertWorkflowAdmin", "ChainAdminActionAdmin", "VaultPageAdmin", "Q"]
