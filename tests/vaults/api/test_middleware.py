"""The audit trail: every mutating request leaves a row (who, what, from where, result)."""
import pytest
from solders.keypair import Keypair

from tests.localnet import sign
from vaults.models import AuditTrail

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]


def test_successful_and_failed_mutations_are_audited(funded_wallet, wallet_client):
    user = funded_wallet()
    owner = str(user.pubkey())
    client = wallet_client(user)
    before = AuditTrail.objects.count()
    built = client.post("/vault/initialize", {"user": owner}, format="json", REMOTE_ADDR="10.1.2.3",
                        HTTP_USER_AGENT="wallet-app/1.0").json()
    submitted = client.post("/vault/submit", {"transaction": sign(built["transaction"], user)}, format="json").json()
    client.post("/vault/withdraw", {"user": owner, "amount": 10**12}, format="json")
    rows = list(AuditTrail.objects.order_by("id"))[before:]
    assert [(r.action, r.status_code, r.outcome) for r in rows] == [
        ("vault.initialize", 200, "success"),
        ("vault.submit", 200, "success"),
        ("vault.withdraw", 409, "failure"),
    ]
    assert all(r.actor_type == "wallet" and r.actor == owner and r.vault_owner == owner for r in rows)
    assert rows[0].ip_address == "10.1.2.3" and rows[0].user_agent == "wallet-app/1.0"
    assert rows[1].signature == submitted["signature"]
    assert rows[1].details["request"]["transaction"] == "[redacted]"
    assert rows[2].error_code == "insufficient_available_balance" and rows[2].details["amount"] == 10**12


def test_rejected_requests_are_audited_too(localnet, api_client):
    before = AuditTrail.objects.count()
    api_client.post("/vault/deposit", {"user": str(Keypair().pubkey()), "amount": 5}, format="json")
    api_client.generic("POST", "/vault/deposit", "{bad json", content_type="application/json")
    rows = list(AuditTrail.objects.order_by("id"))[before:]
    assert [(r.actor_type, r.status_code, r.error_code) for r in rows] == [
        ("anonymous", 401, "not_authenticated"),
        ("anonymous", 400, "malformed_json"),
    ]


def test_reads_are_not_audited(localnet, api_client):
    before = AuditTrail.objects.count()
    api_client.get("/vault/tvl")
    assert AuditTrail.objects.count() == before


# ---- the audit trail is complete and safe (issue 7) -------------------------------------------

import json  # noqa: E402

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from vaults.services.audit import MAX_DEPTH, MAX_DETAILS_BYTES  # noqa: E402


def _rows_since(before):
    return list(AuditTrail.objects.filter(pk__gt=before).order_by("pk"))


def _last_pk():
    last = AuditTrail.objects.order_by("-pk").first()
    return last.pk if last else 0


def _details_bytes(row) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT octet_length(details::text) FROM audit_trail WHERE id = %s", [row.pk])
        return cursor.fetchone()[0]


@pytest.fixture
def dev_signing_staff(settings, funded_wallet, staff_operator):
    """A staff session (allowed to act for wallets) and a fresh wallet the server signs for (the
    localnet dev signer)."""
    wallet = funded_wallet()
    settings.DEV_SIGNER_ENABLED = True
    settings.DEV_SIGNER_SECRET_KEYS = [list(bytes(wallet))]
    staff = staff_operator(f"ops{str(wallet.pubkey())[:8]}")
    client = Client(enforce_csrf_checks=False)
    client.force_login(staff)
    return client, str(wallet.pubkey())


def _post_json(client, path, text, **extra):
    return client.generic("POST", path, text.encode("utf-8", "surrogatepass"), content_type="application/json", **extra)


def test_a_nul_in_an_ignored_field_still_leaves_the_withdrawals_row(dev_signing_staff):
    client, owner = dev_signing_staff
    assert client.post("/vault/initialize", {"user": owner}, content_type="application/json").status_code == 200
    client.post("/vault/deposit", {"user": owner, "amount": 5_000}, content_type="application/json")
    before = _last_pk()
    body = json.dumps({"user": owner, "amount": 1_000, "memo": "a\u0000b", "junk": "\ud800"})
    response = _post_json(client, "/vault/withdraw", body)
    assert response.status_code == 200, response.content
    [row] = _rows_since(before)
    assert (row.action, row.status_code, row.signature) == ("vault.withdraw", 200, response.json()["signature"])
    assert row.details["request"]["memo"] == "a\ufffdb" and row.details["request"]["junk"] == "\ufffd"


def test_a_500_deep_body_leaves_one_bounded_row(dev_signing_staff):
    client, owner = dev_signing_staff
    deep = "1"
    for _ in range(500):
        deep = '{"x": ' + deep + "}"
    before = _last_pk()
    response = _post_json(client, "/vault/initialize", f'{{"user": "{owner}", "extra": {deep}}}')
    assert response.status_code == 200, response.content
    [row] = _rows_since(before)
    assert row.signature == response.json()["signature"] and row.details["_truncated"] is True
    depth, node = 0, row.details
    while isinstance(node, dict) and node:
        node = node.get("request", node.get("extra", node.get("x")))
        depth += 1
    assert depth <= MAX_DEPTH and "truncated" in str(node)


@pytest.mark.parametrize("authenticated", [True, False])
def test_a_3mb_body_is_refused_with_one_bounded_row(dev_signing_staff, authenticated):
    client, owner = dev_signing_staff
    if not authenticated:
        client = Client()
    body = json.dumps({"user": owner, "amount": 1, "pad": "p" * (3 * 1024 * 1024)})
    before = _last_pk()
    response = _post_json(client, "/vault/deposit", body)
    assert response.status_code == 413 and response.json()["error"]["code"] == "body_too_large"
    [row] = _rows_since(before)
    assert (row.status_code, row.error_code) == (413, "body_too_large")
    assert _details_bytes(row) <= MAX_DETAILS_BYTES


def test_an_anonymous_body_is_stored_only_as_much_as_traces_it(localnet, settings):
    keys = settings.MAX_REQUEST_BODY_BYTES * 9 // 10 // 16  # just under the body limit (1 MB)
    body = json.dumps({f"k{i}": "v" for i in range(keys)})
    before = _last_pk()
    for _ in range(10):
        _post_json(Client(), "/auth/nonce", body)
    rows = _rows_since(before)
    assert len(rows) == 10 and {r.actor_type for r in rows} == {"anonymous"}
    assert max(_details_bytes(r) for r in rows) < 1024
    assert rows[0].details["request"]["bytes"] == len(body)


def test_an_authenticated_body_just_under_the_read_limit_is_bounded(dev_signing_staff, settings):
    client, owner = dev_signing_staff
    keys = (min(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, 2 * 1024 * 1024) - 1024) // 24
    body = json.dumps({"user": owner, **{f"k{i:07d}": "v" * 8 for i in range(keys)}})
    assert len(body) <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    before = _last_pk()
    _post_json(client, "/vault/nonexistent", body)
    [row] = _rows_since(before)
    assert row.status_code == 404 and _details_bytes(row) <= MAX_DETAILS_BYTES and row.details["_truncated"] is True


def test_the_admin_add_user_form_leaves_no_password_anywhere_in_the_database(localnet, django_user_model):
    from tests.console.staff import verified_login

    admin = django_user_model.objects.create_superuser("root", password="root-pw-for-tests")
    client = Client()
    verified_login(client, admin)  # the admin admits only sessions with a verified second factor
    password = "Plain-Text-Secret-9f3k2"
    response = client.post("/admin/auth/user/add/", {"username": "newcomer", "password1": password,
                                                     "password2": password, "usable_password": "true",
                                                     "_save": "Save"})
    assert response.status_code == 302, response.content[:500]
    assert django_user_model.objects.get(username="newcomer").check_password(password)
    row = AuditTrail.objects.filter(path="/admin/auth/user/add/").latest("pk")
    assert row.details["request"]["password1"] == row.details["request"]["password2"] == "[redacted]"
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT count(*) FROM "{table}" t WHERE row_to_json(t)::text LIKE %s', [f"%{password}%"])
            assert cursor.fetchone()[0] == 0, f"the password is stored in {table}"


def test_a_500_rolls_the_views_changes_back_and_is_audited(db, settings):
    from vaults.models import ApiKey

    settings.ROOT_URLCONF = "tests.vaults.api.audit_urls"
    before = _last_pk()
    response = Client(raise_request_exception=False).post("/test/fail?name=half-written")
    assert response.status_code == 500 and response.json()["error"]["code"] == "internal_error"
    assert not ApiKey.objects.filter(name="half-written").exists()
    [row] = _rows_since(before)
    assert (row.status_code, row.outcome, row.error_code, row.path) == (500, "failure", "internal_error", "/test/fail")


def test_when_the_audit_row_cannot_be_written_the_request_fails_and_changes_nothing(db, settings, monkeypatch):
    from vaults.api import middleware
    from vaults.models import ApiKey

    settings.ROOT_URLCONF = "tests.vaults.api.audit_urls"

    def broken(**_):
        raise RuntimeError("the audit table is unavailable")

    monkeypatch.setattr(middleware, "record_audit_event", broken)
    response = Client().post("/test/write?name=unrecorded")
    assert response.status_code == 500 and response.json()["error"]["code"] == "audit_unavailable"
    assert not ApiKey.objects.filter(name="unrecorded").exists()
    monkeypatch.undo()
    assert Client().post("/test/write?name=recorded").status_code == 200
    assert ApiKey.objects.filter(name="recorded").exists()
    assert AuditTrail.objects.filter(path="/test/write", status_code=200).count() == 1


def _concrete_paths():
    """Every URL pattern of the project, with its converters filled in, and the view behind it."""
    from django.urls import URLPattern, URLResolver, get_resolver

    samples = {"int": "1", "str": "x", "slug": "x", "uuid": "00000000-0000-0000-0000-000000000000", "path": "x"}

    def walk(patterns, prefix):
        for pattern in patterns:
            route = str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + route)
            elif isinstance(pattern, URLPattern):
                yield prefix + route, pattern

    import re

    for route, pattern in walk(get_resolver().url_patterns, ""):
        if route.startswith("^") or "(?P" in route:
            path = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route).strip("^$").replace("\\", "")
        else:
            path = re.sub(r"<(?:(\w+):)?\w+>", lambda m: samples.get(m.group(1) or "str", "x"), route)
        yield "/" + path, pattern


def _accepts(pattern, method) -> bool:
    """Whether the view behind a pattern may accept the method: function views (the admin's)
    and views without an explicit method list accept anything."""
    view = pattern.callback
    cls = getattr(view, "view_class", None) or getattr(view, "cls", None)
    if cls is None:
        return True
    allowed = [m.upper() for m in getattr(cls, "http_method_names", []) if hasattr(cls, m)]
    return method in allowed


def test_every_url_that_accepts_a_mutating_method_writes_an_audit_row(localnet, django_user_model):
    """Staff (the widest access) and anonymous clients, every mutating method each view accepts."""
    staff = django_user_model.objects.create_superuser("walker", password="walker-pw-for-tests")
    signed_in = Client(raise_request_exception=False)
    signed_in.force_login(staff)
    clients = {"staff": signed_in, "anonymous": Client(raise_request_exception=False)}
    checked = 0
    for path, pattern in _concrete_paths():
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            if not _accepts(pattern, method):
                continue
            for who, client in clients.items():
                before = _last_pk()
                response = client.generic(method, path, b"{}", content_type="application/json")
                rows = _rows_since(before)
                assert len(rows) == 1, f"{who} {method} {path} -> {response.status_code}: {len(rows)} audit rows"
                assert (rows[0].method, rows[0].path, rows[0].status_code) == (method, path, response.status_code)
                checked += 1
    assert checked > 50  # the API's writes and the admin's forms are all in there
