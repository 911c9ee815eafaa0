"""The three staff roles, as Django groups (created by migration 0002, idempotently).

- viewer: reads every page of the console; changes nothing.
- operator: a viewer who works alerts (acknowledge, assign, resolve), runs a reconciliation now,
  proposes on-chain administration, and may act for wallets through the API.
- admin: an operator who approves (and so signs) on-chain administration proposed by someone
  else, and manages staff accounts, their TOTP devices and API keys.

Permissions are `app_label.codename`. Superusers hold every permission, but the four-eyes rule
(a proposal is approved by somebody else) applies to them too.
"""
VIEWER = "viewer"
OPERATOR = "operator"
ADMIN = "admin"

_VIEW = [
    "vaults.view_vault", "vaults.view_transaction", "vaults.view_balancesnapshot",
    "vaults.view_reconciliationlog", "vaults.view_audittrail",
    "monitoring.view_alert", "monitoring.view_monitoringdashboard",
    "console.view_alertcase", "console.view_chainadminaction",
    "django_celery_beat.view_periodictask",
]
_OPERATE = [
    "console.work_alert", "console.change_alertcase", "console.add_alertcase",
    "console.propose_chainadminaction", "console.add_chainadminaction",
    "vaults.act_for_wallet", "vaults.reconcile_vault",
    "vaults.view_apikey", "vaults.view_walletsession",
]
_ADMINISTER = [
    "console.approve_chainadminaction", "console.change_chainadminaction",
    "vaults.add_apikey", "vaults.change_apikey", "vaults.change_walletsession",
    "auth.view_user", "auth.add_user", "auth.change_user", "auth.view_group",
    "otp_totp.view_totpdevice", "otp_totp.add_totpdevice", "otp_totp.change_totpdevice",
    "otp_totp.delete_totpdevice",
    "otp_static.view_staticdevice", "otp_static.add_staticdevice", "otp_static.change_staticdevice",
    "django_celery_beat.change_periodictask",
]

ROLE_PERMISSIONS = {
    VIEWER: _VIEW,
    OPERATOR: _VIEW + _OPERATE,
    ADMIN: _VIEW + _OPERATE + _ADMINISTER,
}


def sync_roles(apps, *, create_missing_permissions=True) -> None:
    """Creates the groups and gives each its permissions (adds; never removes what staff added).
    `apps` is a migration's historical registry or django.apps.apps."""
    if create_missing_permissions:
        from django.contrib.auth.management import create_permissions

        for config in apps.get_app_configs():
            config.models_module = True  # historical configs: create_permissions skips None
            create_permissions(config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for name in names:
            app_label, codename = name.split(".")
            found = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if found is not None:
                wanted.append(found)
        group.permissions.add(*wanted)
