"""Amounts shown to people are exact: integer arithmetic from base units, any size."""
from monitoring.templatetags.amounts import collateral


def test_base_units_become_whole_units_exactly():
    assert collateral(1_500_000) == "1.500000 USDT"
    assert collateral(1) == "0.000001 USDT"
    assert collateral(0) == "0.000000 USDT"
    assert collateral(-123) == "-0.000123 USDT"
    assert collateral(2**64 - 1) == "18,446,744,073,709.551615 USDT"  # u64::MAX, no float rounding
    assert collateral(None) == "—"
