"""The `vaults.act_for_wallet` permission (staff acting for a wallet through the API), granted to
the `operator` and `admin` staff groups. Idempotent: whichever branch creates the groups first,
the other only adds what is missing."""
from django.contrib.auth.management import create_permissions
from django.db import migrations

STAFF_GROUPS = ["viewer", "operator", "admin"]
ACTING_GROUPS = ["operator", "admin"]


def grant(apps, schema_editor):
    app_config = apps.get_app_config("vaults")
    app_config.models_module = True  # create_permissions skips apps it thinks have no models
    create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(content_type__app_label="vaults", codename="act_for_wallet")
    for name in STAFF_GROUPS:
        group, _ = Group.objects.get_or_create(name=name)
        if name in ACTING_GROUPS:
            group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("vaults", "0003_ledger_chain"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="vault",
            options={"permissions": [("act_for_wallet", "Can act for a wallet through the API")]},
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
