"""Admin: the monitoring dashboard (analytics) and the alerts, both read-only.

The periodic jobs themselves are django-celery-beat's "Periodic tasks" (declared in
monitoring/schedules.py; staff may change their schedule or disable them there).
"""
from django.contrib import admin
from django.template.response import TemplateResponse

from monitoring.models import Alert, MonitoringDashboard
from monitoring.services.vault_monitor import VaultMonitor
from vaults.admin import ReadOnlyAdmin as VaultsReadOnlyAdmin


class ReadOnlyAdmin(VaultsReadOnlyAdmin):
    def get_actions(self, request):
        return {}


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ("timestamp", "action", "severity", "message", "vault_owner", "signature", "outcome")
    list_filter = ("action",)
    search_fields = ("vault_owner", "signature", "details__message")
    date_hierarchy = "timestamp"

    @admin.display(description="severity")
    def severity(self, obj):
        return (obj.details or {}).get("severity", "")

    @admin.display(description="message")
    def message(self, obj):
        return (obj.details or {}).get("message", "")


@admin.register(MonitoringDashboard)
class MonitoringDashboardAdmin(ReadOnlyAdmin):
    """One page of aggregates instead of a list of rows."""

    def changelist_view(self, request, extra_context=None):
        context = {
            **self.admin_site.each_context(request),
            "title": "Monitoring dashboard",
            "opts": self.model._meta,
            "analytics": VaultMonitor().analytics(),
            "tvl_chart": _tvl_chart(),
        }
        return TemplateResponse(request, "admin/monitoring/dashboard.html", context)


def _tvl_chart() -> dict:
    """TVL after each recent deposit and withdrawal (console/selectors.py), for the chart."""
    from django.conf import settings

    from console.selectors import tvl_series, tvl_totals

    return {**tvl_series(tvl_totals()["total_value_locked"]), "decimals": settings.COLLATERAL_DECIMALS,
            "symbol": settings.COLLATERAL_SYMBOL}
