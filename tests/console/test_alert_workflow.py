"""open -> acknowledged -> resolved, with an assignee, a note and an audit row per step; the
header counts open alerts; a viewer sees no buttons and is refused."""
import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from console.models import AlertCase
from monitoring.services.alerts import raise_alert
from tests.console.staff import make_staff, verified_login
from vaults.models import AuditTrail

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert():
    return raise_alert(kind="reconciliation_mismatch", message="vault X differs by +5", source="test",
                       severity="critical", details={"dedupe_key": "x"})


def client_as(client, role):
    staff = make_staff(role, role)
    verified_login(client, get_user_model().objects.get(username=staff.username))
    return client


def test_operator_walks_an_alert_through_the_workflow(client, alert):
    client_as(client, "operator")
    url = reverse("admin:monitoring_alert_change", args=[alert.pk])
    page = client.get(url).content.decode()
    assert 'value="acknowledge"' in page and "1</span> open alert" in page

    assert client.post(url, {"step": "acknowledge", "note": "looking"}).status_code == 302
    case = AlertCase.objects.get(alert=alert)
    assert case.status == "acknowledged" and case.assignee.username == "operator"
    assert "0</span> open alerts" in client.get(url).content.decode()

    other = make_staff("second", "operator")
    other_id = get_user_model().objects.get(username=other.username).pk
    client.post(url, {"step": "update", "assignee": other_id, "note": "handing over"})
    case.refresh_from_db()
    assert case.assignee.username == "second" and case.note == "handing over"

    assert client.post(url, {"step": "resolve", "note": ""}).status_code == 302  # a note is required
    case.refresh_from_db()
    assert case.status == "acknowledged"
    client.post(url, {"step": "resolve", "note": "indexer caught up; matched since"})
    case.refresh_from_db()
    assert case.status == "resolved" and case.resolved_by.username == "operator"

    steps = list(AuditTrail.objects.filter(action__startswith="alert_case.").order_by("pk")
                 .values_list("action", "actor", "details__alert_id"))
    assert steps == [("alert_case.acknowledge", "operator", alert.pk), ("alert_case.updated", "operator", alert.pk),
                     ("alert_case.resolve", "operator", alert.pk)]
    listing = client.get(reverse("admin:monitoring_alert_changelist") + "?workflow=resolved").content.decode()
    assert "vault X differs" in listing
    assert "vault X differs" not in client.get(reverse("admin:monitoring_alert_changelist") + "?workflow=open").content.decode()


def test_viewer_sees_no_buttons_and_is_refused(client, alert):
    client_as(client, "viewer")
    url = reverse("admin:monitoring_alert_change", args=[alert.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'name="step"' not in page.content.decode()
    assert client.post(url, {"step": "acknowledge"}).status_code == 403
    assert not AlertCase.objects.exists()
    assert not AuditTrail.objects.filter(action__startswith="alert_case.").exists()


def test_an_invalid_transition_changes_nothing(client, alert):
    client_as(client, "operator")
    url = reverse("admin:monitoring_alert_change", args=[alert.pk])
    client.post(url, {"step": "reopen"})
    assert not AlertCase.objects.filter(alert=alert).exclude(status="open").exists()
    assert not AuditTrail.objects.filter(action__startswith="alert_case.").exists()
