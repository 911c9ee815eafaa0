"""GET /vault/transactions/<user>: the seeds' JSON array, pages by cursor (X-Next-Cursor, Link)."""
from datetime import datetime, timedelta, timezone

import pytest

from vaults.api.serializers import TransactionResponse
from vaults.models import Transaction, Vault

pytestmark = pytest.mark.django_db

OWNER = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"
NOW = datetime(2024, 1, 15, 10, 30, tzinfo=timezone.utc)


@pytest.fixture
def history(clean_redis):
    me = Vault.objects.create(owner=OWNER, address="V" * 44, token_account="t" * 44, onchain_created_at=0)
    other = Vault.objects.create(owner="9" * 44, address="W" * 44, token_account="u" * 44, onchain_created_at=0)
    for i in range(25):
        Transaction.objects.create(vault=me if i % 4 else other, counterparty_vault=None if i % 4 else me,
                                   transaction_type="deposit" if i % 4 else "transfer", amount=10**18 + i,
                                   signature=f"s{i}", event_index=0, slot=i // 3,
                                   timestamp=NOW + timedelta(seconds=i // 5, microseconds=7))
    return me


def test_pages_follow_the_cursor_and_keep_the_seeds_shape(client, history):
    expected = TransactionResponse(
        sorted(Transaction.objects.select_related("vault").filter(pk__in=[t.pk for t in Transaction.objects.all()]),
               key=lambda t: (t.timestamp, t.slot, t.event_index, t.id), reverse=True), many=True).data
    pages, url = [], f"/vault/transactions/{OWNER}?limit=10"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        body = response.json()
        assert isinstance(body, list)  # the seeds' shape: a bare array
        pages.append(body)
        cursor = response.headers.get("X-Next-Cursor")
        if cursor:
            assert response.headers["Link"] == f'</vault/transactions/{OWNER}?limit=10&cursor={cursor}>; rel="next"'
            url = f"/vault/transactions/{OWNER}?limit=10&cursor={cursor}"
        else:
            assert "Link" not in response.headers
            url = None
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [row for page in pages for row in page] == [dict(row) for row in expected]  # same JSON as the serializer
    assert pages[0][0]["amount"] == 10**18 + 24  # integers, exact (a transfer in)


def test_a_full_last_page_has_no_next_cursor(client, history):
    response = client.get(f"/vault/transactions/{OWNER}?limit=25")
    assert len(response.json()) == 25 and "X-Next-Cursor" not in response.headers


@pytest.mark.parametrize("cursor", ["nope", "%00", "MTIz", "a" * 300])
def test_a_bad_cursor_is_a_clear_400(client, history, cursor):
    response = client.get(f"/vault/transactions/{OWNER}?cursor={cursor}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_cursor"
