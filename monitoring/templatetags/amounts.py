"""Amounts for people: base units shown as whole collateral units, exactly (integer arithmetic,
never floats)."""
from django import template
from django.conf import settings

register = template.Library()


@register.filter
def collateral(base_units) -> str:
    """1500000 -> "1.500000 USDT" (with COLLATERAL_DECIMALS = 6); signed amounts keep their sign."""
    if base_units is None or base_units == "":
        return "—"
    value = int(base_units)
    decimals = settings.COLLATERAL_DECIMALS
    whole, fraction = divmod(abs(value), 10**decimals)
    sign = "-" if value < 0 else ""
    return f"{sign}{whole:,}.{fraction:0{decimals}d} {settings.COLLATERAL_SYMBOL}"
