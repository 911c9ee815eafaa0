"""Rate limits in the real Redis: `charge_all` keeps the moving windows of `charge` (and of the
`limits` library that reads them), and reads the request's cache entries in the same trip."""
import pytest
from django.core.cache import caches

from vaults import cache as shared_cache
from vaults.errors import RateLimited
from vaults.services import rate_limits
from vaults.services.rate_limits import Budget


@pytest.fixture(autouse=True)
def _isolated(clean_redis):
    yield


def _stored(budget: Budget, identity: str) -> int:
    storage = rate_limits.limiter().storage
    return storage.get_connection().llen(storage.prefixed_key(budget.item.key_for(identity)))


def test_each_bucket_is_charged_in_order_until_one_is_spent():
    per_ip, pool = Budget("t-ip", 2, 60), Budget("t-pool", 100, 60)
    charges = [(per_ip, "ip:1", "per client"), (pool, "all", "all anonymous clients")]
    rate_limits.charge_all(charges)
    rate_limits.charge_all(charges)
    with pytest.raises(RateLimited) as refused:
        rate_limits.charge_all(charges)
    assert "per client" in str(refused.value) and refused.value.retry_after >= 1
    # The refused request counted nowhere: the spent bucket keeps 2, the pool behind it too.
    assert (_stored(per_ip, "ip:1"), _stored(pool, "all")) == (2, 2)


def test_a_spent_later_bucket_refuses_after_the_earlier_ones_counted():
    first, second = Budget("t-first", 10, 60), Budget("t-second", 1, 60)
    rate_limits.charge_all([(first, "a", "first"), (second, "all", "second")])
    with pytest.raises(RateLimited) as refused:
        rate_limits.charge_all([(first, "a", "first"), (second, "all", "second")])
    assert "second" in str(refused.value)
    assert (_stored(first, "a"), _stored(second, "all")) == (2, 1)


def test_windows_are_the_libraries_own():
    """`charge` (the library's hit) and `charge_all` count into one window, and the library's
    test and statistics read what `charge_all` wrote."""
    budget = Budget("t-shared", 3, 60)
    rate_limits.charge(budget, "x")
    rate_limits.charge_all([(budget, "x", "shared")])
    rate_limits.ensure_available(budget, "x")
    rate_limits.charge_all([(budget, "x", "shared")])
    with pytest.raises(RateLimited):
        rate_limits.ensure_available(budget, "x")
    with pytest.raises(RateLimited):
        rate_limits.charge(budget, "x")


def test_cache_entries_are_read_in_the_same_trip():
    caches["default"].set("probe:present", {"total_balance": 7}, timeout=60)
    caches["default"].set("probe:number", 12, timeout=60)
    keys = shared_cache.read_ahead_keys(["probe:present", "probe:absent", "probe:number"])
    assert keys is not None and len(keys) == 3
    raw = rate_limits.charge_all([(Budget("t-read", 5, 60), "r", "reads")], read=keys)
    assert [shared_cache.decode(value) for value in raw] == [{"total_balance": 7}, None, 12]


def test_nothing_is_read_when_the_request_is_refused():
    caches["default"].set("probe:present", 1, timeout=60)
    keys = shared_cache.read_ahead_keys(["probe:present"])
    budget = Budget("t-refused", 1, 60)
    assert rate_limits.charge_all([(budget, "r", "reads")], read=keys) == [b"1"]
    with pytest.raises(RateLimited):
        rate_limits.charge_all([(budget, "r", "reads")], read=keys)


def test_a_cache_elsewhere_is_not_read_ahead(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert shared_cache.read_ahead_keys(["probe:present"]) is None
