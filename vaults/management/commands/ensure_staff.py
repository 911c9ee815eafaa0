"""Creates (or resets) a staff account for local runs, in a role, with its TOTP device:
`make run` prints the login and the authenticator secret."""
from base64 import b32encode

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from console.roles import ADMIN, OPERATOR, VIEWER


class Command(BaseCommand):
    help = "Create or update a staff account (role admin = superuser) with the given password and TOTP key."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", required=True)
        parser.add_argument("--role", choices=[ADMIN, OPERATOR, VIEWER], default=ADMIN)
        parser.add_argument("--totp-key", help="hex secret of the account's authenticator (TOTP) device")

    def handle(self, *args, username, password, role, totp_key, **options):
        from django_otp.plugins.otp_totp.models import TOTPDevice

        user, created = get_user_model().objects.get_or_create(username=username)
        user.is_staff = True
        user.is_superuser = role == ADMIN
        user.set_password(password)
        user.save()
        group = Group.objects.filter(name=role).first()
        if group is None:
            raise CommandError(f"the {role} group is missing: run migrate first")
        user.groups.add(group)
        if totp_key:
            try:
                bytes.fromhex(totp_key)
            except ValueError as exc:
                raise CommandError("--totp-key must be hex") from exc
            device, _ = TOTPDevice.objects.update_or_create(
                user=user, name="authenticator", defaults={"key": totp_key, "confirmed": True})
            self.stdout.write(f"TOTP {b32encode(bytes.fromhex(totp_key)).decode()} {device.config_url}")
        self.stdout.write(f"{'created' if created else 'updated'} staff user {username} ({role})")
