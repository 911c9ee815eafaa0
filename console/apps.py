from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ConsoleConfig(AppConfig):
    """The staff console: roles, two-factor sign-in, the alert workflow, on-chain administration
    with four eyes, the public live pages and /metrics."""

    default = True
    name = "console"
    verbose_name = "Staff console"

    def ready(self):
        from django.db.models.signals import post_migrate

        from console import metrics

        metrics.install_signal_handlers()
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="console.sync_roles")


def _sync_roles(sender, using="default", **kwargs):
    """The roles exist after every migrate and flush too (migration 0002 creates them first);
    permissions of models added later reach the groups this way."""
    from django.apps import apps

    from console.roles import sync_roles

    sync_roles(apps, create_missing_permissions=False)


class ConsoleAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin whose default site requires a TOTP code (console/admin_site.py)."""

    default = False
    default_site = "console.admin_site.ConsoleAdminSite"
