"""The staff roles viewer, operator and admin (console/roles.py), created idempotently."""
from django.db import migrations


def create_roles(apps, schema_editor):
    from console.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0001_initial"),
        ("vaults", "0004_vault_permissions"),
        ("monitoring", "0003_monitoring_admin_proxies"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
