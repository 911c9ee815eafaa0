"""Explorer links and short keys for console and live pages."""
from django import template
from django.conf import settings
from django.utils.html import format_html

register = template.Library()


def explorer_tx_url(signature: str) -> str:
    return settings.EXPLORER_TX_URL.format(signature=signature, cluster_query=settings.EXPLORER_CLUSTER_QUERY)


def explorer_address_url(address: str) -> str:
    return settings.EXPLORER_ADDRESS_URL.format(address=address, cluster_query=settings.EXPLORER_CLUSTER_QUERY)


@register.filter
def short_key(value) -> str:
    text = str(value or "")
    return text if len(text) <= 12 else f"{text[:4]}…{text[-4:]}"


@register.simple_tag
def tx_link(signature):
    if not signature:
        return "—"
    return format_html('<a class="explorer" href="{}" target="_blank" rel="noopener noreferrer" title="{}">{}</a>',
                       explorer_tx_url(signature), signature, short_key(signature))


@register.simple_tag
def address_link(address):
    if not address:
        return "—"
    return format_html('<a class="explorer" href="{}" target="_blank" rel="noopener noreferrer" title="{}">{}</a>',
                       explorer_address_url(address), address, address)


@register.filter
def unix_time(value):
    """A chain timestamp (Unix seconds, the cluster's clock) as an aware datetime for |date."""
    from datetime import datetime, timezone

    try:
        return datetime.fromtimestamp(int(value), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return value
