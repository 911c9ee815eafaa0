"""Reads for the console pages (no writes here)."""
from __future__ import annotations

from django.db.models import Q

from console.models import AlertCase
from monitoring.models import Alert


def alerts_with_status(status: str):
    """Alerts in one workflow status; an alert nobody has touched yet is open."""
    if status == AlertCase.Status.OPEN:
        return Alert.objects.filter(Q(case__isnull=True) | Q(case__status=AlertCase.Status.OPEN))
    return Alert.objects.filter(case__status=status)


def open_alert_counts() -> dict:
    return {
        "open": alerts_with_status(AlertCase.Status.OPEN).count(),
        "acknowledged": alerts_with_status(AlertCase.Status.ACKNOWLEDGED).count(),
    }
