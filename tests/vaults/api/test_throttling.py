"""A charge made before Django (vaults.api.fast_reads) is settled by the throttle only for the
client and cache entries it was made for; any other request is charged as usual."""
import pytest
from django.test import RequestFactory

from vaults.api.throttling import PREPAID_SCOPE_KEY, PrepaidCharge, charge_client
from vaults.errors import RateLimited
from vaults.services import rate_limits

pytestmark = pytest.mark.django_db


def request_from(ip, prepaid):
    request = RequestFactory().get("/vault/tvl", REMOTE_ADDR=ip)
    request.scope = {PREPAID_SCOPE_KEY: prepaid}
    return request


def counted(identity):
    budget = rate_limits.anonymous_budget()
    return budget.limit - rate_limits.limiter().get_window_stats(budget.item, identity)[1]


def test_a_matching_charge_is_settled_without_charging_again():
    prepaid = PrepaidCharge("ip:10.0.0.1", ("vaults:tvl",), rate_limits.Charged(0, (None,)))
    request = request_from("10.0.0.1", prepaid)
    assert charge_client(request, None, read_ahead=["vaults:tvl"]) == {"vaults:tvl": None}
    assert counted("ip:10.0.0.1") == 0
    assert PREPAID_SCOPE_KEY not in request.scope  # settled once only
    charge_client(request, None, read_ahead=["vaults:tvl"])
    assert counted("ip:10.0.0.1") == 1


def test_a_refused_charge_is_the_429_of_the_bucket_that_refused(settings):
    settings.RATE_LIMIT_ANONYMOUS_REQUESTS = 1
    rate_limits.charge(rate_limits.anonymous_budget(), "ip:10.0.0.2")
    prepaid = PrepaidCharge("ip:10.0.0.2", (), rate_limits.Charged(1, ()))
    with pytest.raises(RateLimited) as refused:
        charge_client(request_from("10.0.0.2", prepaid), None)
    assert "per client" in refused.value.message and refused.value.retry_after >= 1


@pytest.mark.parametrize("identity, read_ahead", [("ip:10.0.0.9", ()), ("ip:10.0.0.3", ("vaults:tvl",))])
def test_a_charge_made_for_another_client_or_other_entries_is_not_settled(identity, read_ahead):
    prepaid = PrepaidCharge(identity, read_ahead, rate_limits.Charged(0, (None,) * len(read_ahead)))
    charge_client(request_from("10.0.0.3", prepaid), None)
    assert counted("ip:10.0.0.3") == 1
