"""The three roles exist (migration + post_migrate) and carry what their names promise."""
import pytest
from django.contrib.auth.models import Group

from console.roles import ROLE_PERMISSIONS
from tests.console.staff import make_staff

pytestmark = pytest.mark.django_db


def test_the_three_groups_hold_every_declared_permission():
    for role, names in ROLE_PERMISSIONS.items():
        held = {f"{p.content_type.app_label}.{p.codename}" for p in Group.objects.get(name=role).permissions.all()}
        assert set(names) <= held, set(names) - held


def test_roles_nest_viewer_operator_admin(django_user_model):
    viewer, operator, admin = (django_user_model.objects.get(username=make_staff(name, name).username)
                               for name in ("viewer", "operator", "admin"))
    assert viewer.has_perm("vaults.view_vault") and not viewer.has_perm("console.work_alert")
    assert not viewer.has_perm("vaults.act_for_wallet")
    assert operator.has_perm("console.work_alert") and operator.has_perm("console.propose_chainadminaction")
    assert operator.has_perm("vaults.act_for_wallet") and operator.has_perm("vaults.reconcile_vault")
    assert not operator.has_perm("console.approve_chainadminaction")
    assert admin.has_perm("console.approve_chainadminaction") and admin.has_perm("otp_totp.add_totpdevice")
