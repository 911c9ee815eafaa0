"""Staff accounts for tests: a role (console/roles.py), a password and a TOTP device."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from django_otp.oath import totp


@dataclass(frozen=True)
class StaffLogin:
    username: str
    password: str
    totp_key: str

    def code(self, steps_ahead: int = 0) -> str:
        """The authenticator's code now (or `steps_ahead` 30-second steps later: a code may be
        used once, and the device accepts the next step too)."""
        return f"{totp(bytes.fromhex(self.totp_key), t0=0, step=30, drift=steps_ahead):06d}"


def make_staff(username: str, role: str = "admin", *, superuser: bool | None = None,
               password: str = "correct horse battery") -> StaffLogin:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = get_user_model().objects.create_user(username, f"{username}@example.com", password, is_staff=True,
                                                is_superuser=bool(superuser))
    user.groups.add(Group.objects.get(name=role))
    key = secrets.token_hex(20)
    TOTPDevice.objects.create(user=user, name="authenticator", key=key, confirmed=True)
    return StaffLogin(username, password, key)


def wait_for_fresh_step(margin: float = 2) -> None:
    """Sleeps past the current 30-second step when fewer than `margin` seconds of it are left, so
    a code typed now is still valid when the server checks it."""
    left = 30 - time.time() % 30
    if left < margin:
        time.sleep(left + 0.1)


def verified_login(client, user) -> None:
    """Django's test client signed in as `user` with a verified authenticator device, as the
    admin's two-factor sign-in leaves the session."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user).first() or TOTPDevice.objects.create(
        user=user, name="authenticator", key=secrets.token_hex(20), confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
