"""Staff sign-in needs the password and the authenticator code; sessions end."""
import time

import pytest
from django.urls import reverse

from console.middleware import SIGNED_IN_AT
from tests.console.staff import make_staff, verified_login, wait_for_fresh_step

pytestmark = pytest.mark.django_db


def login(client, staff, code):
    return client.post(reverse("admin:login"), {"username": staff.username, "password": staff.password,
                                                "otp_token": code, "next": "/admin/"})


def test_password_alone_is_refused(client):
    staff = make_staff("ops", "admin")
    answer = login(client, staff, "")
    assert answer.status_code == 200 and client.get("/admin/").status_code == 302


def test_a_wrong_code_is_refused_and_the_right_one_admits(client):
    staff = make_staff("ops", "admin")
    wait_for_fresh_step(margin=5)
    wrong = f"{(int(staff.code()) + 1) % 1_000_000:06d}"
    assert login(client, staff, wrong).status_code == 200
    assert client.get("/admin/").status_code == 302
    # django-otp throttles the device after a failure (1 s, doubling): guessing is slow.
    assert login(client, staff, staff.code()).status_code == 200
    time.sleep(1.1)
    assert login(client, staff, staff.code()).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_code_cannot_be_replayed(client):
    staff = make_staff("ops", "admin")
    wait_for_fresh_step()
    code = staff.code()
    assert login(client, staff, code).status_code == 302
    client.logout()
    assert login(client, staff, code).status_code == 200  # used once already


def test_a_session_signed_in_without_a_device_is_not_staff(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "r@example.com", "pw")
    client.force_login(user)  # password only: no verified device in the session
    assert client.get("/admin/").status_code == 302


def test_sessions_end_after_the_maximum_age(client, django_user_model, settings):
    user = django_user_model.objects.create_superuser("root", "r@example.com", "pw")
    verified_login(client, user)
    session = client.session
    session[SIGNED_IN_AT] = int(time.time()) - settings.STAFF_SESSION_MAX_SECONDS - 1
    session.save()
    assert client.get("/admin/").status_code == 302


def test_the_session_cookie_is_short_lived_and_browser_bound(settings):
    assert settings.SESSION_COOKIE_AGE == settings.STAFF_SESSION_IDLE_SECONDS <= 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE and settings.SESSION_SAVE_EVERY_REQUEST
