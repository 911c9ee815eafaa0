"""What every console page's header shows: the number of open alerts (staff pages only)."""
from console.selectors import open_alert_counts


def console(request):
    path = request.path
    if not path.startswith("/admin/"):
        return {}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff or not user.has_perm("monitoring.view_alert"):
        return {}
    return {"alert_counts": open_alert_counts()}
