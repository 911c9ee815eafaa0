"""scripts/run.py (`make run`): the staff accounts it creates for a local run."""
import os
import sys
from pathlib import Path

import pytest

from tests.live_server import database_url

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import run  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_generated_password_that_begins_with_a_dash_is_still_the_password(django_user_model):
    """token_urlsafe draws "-" first one time in 64; argparse would take it for an option."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "vaultsite.settings.test", "DATABASE_URL": database_url()}
    login = {"username": "dash", "password": "-Rlwh0U3SPmSho3y", "totp_key": "48ee47dcd2d5e5bb52ac76461074bb0f59e099f7"}
    secret = run.ensure_staff(sys.executable, env, login, "operator")
    assert secret.strip()
    assert django_user_model.objects.get(username="dash").check_password("-Rlwh0U3SPmSho3y")
