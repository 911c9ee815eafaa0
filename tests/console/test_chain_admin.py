"""The four-eyes rules and the external-signing path of console/services/chain_admin.py, against
the local validator."""
import base64
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from solders.keypair import Keypair
from solders.transaction import VersionedTransaction

from console.models import ChainAdminAction
from console.services import chain_admin
from tests.console.staff import make_staff
from vaults.errors import Forbidden, InvalidRequest
from vaults.models import AuditTrail

pytestmark = [pytest.mark.django_db, pytest.mark.localnet]
DEAD_PROGRAM = "Stake11111111111111111111111111111111111111"


@pytest.fixture
def chain(localnet):
    from vaults.chain.client import get_chain_client

    return get_chain_client()


@pytest.fixture
def admin_key(localnet):
    return Keypair.from_bytes(bytes(localnet.description["admin"]["secret_key"]))


def request_as(role):
    staff = make_staff(role, role)
    request = RequestFactory().post("/admin/console/chainadminaction/", REMOTE_ADDR="127.0.0.1")
    request.user = get_user_model().objects.get(username=staff.username)
    return request


def test_the_proposer_cannot_approve_even_as_admin(chain, settings):
    settings.CHAIN_ADMIN_OPS_KEY = None
    admin = request_as("admin")
    action = chain_admin.propose(admin, "add_authorized_program", {"program_id": DEAD_PROGRAM})
    with pytest.raises(Forbidden) as refused:
        chain_admin.approve(admin, action.pk)
    assert refused.value.code == "four_eyes"
    action.refresh_from_db()
    assert action.status == "proposed"
    assert AuditTrail.objects.filter(action="chain_admin.approval_refused", outcome="failure").count() == 1


def test_an_operator_cannot_approve_and_a_viewer_cannot_propose(chain):
    operator, viewer = request_as("operator"), request_as("viewer")
    with pytest.raises(PermissionDenied):
        chain_admin.propose(viewer, "set_paused", {"action": "lock", "paused": True})
    action = chain_admin.propose(operator, "set_paused", {"action": "lock", "paused": True})
    second_operator = request_as("admin")
    second_operator.user.groups.clear()
    from django.contrib.auth.models import Group

    second_operator.user.groups.add(Group.objects.get(name="operator"))
    second_operator.user = get_user_model().objects.get(pk=second_operator.user.pk)  # fresh permission cache
    with pytest.raises(PermissionDenied):
        chain_admin.approve(second_operator, action.pk)


def test_bad_and_pointless_proposals_are_refused(chain):
    operator = request_as("operator")
    with pytest.raises(InvalidRequest):
        chain_admin.propose(operator, "set_paused", {"action": "everything", "paused": True})
    with pytest.raises(InvalidRequest):
        chain_admin.propose(operator, "add_authorized_program", {"program_id": "not-a-key"})
    with pytest.raises(chain_admin.Conflict):  # deposits are already running
        chain_admin.propose(operator, "set_paused", {"action": "deposit", "paused": False})
    chain_admin.propose(operator, "add_authorized_program", {"program_id": DEAD_PROGRAM})
    with pytest.raises(chain_admin.Conflict):
        chain_admin.propose(operator, "add_authorized_program", {"program_id": DEAD_PROGRAM})
    assert ChainAdminAction.objects.count() == 1


def test_without_an_ops_key_the_transaction_is_exported_signed_elsewhere_and_relayed(chain, admin_key, settings):
    settings.CHAIN_ADMIN_OPS_KEY = None
    operator, approver = request_as("operator"), request_as("admin")
    action = chain_admin.propose(operator, "add_authorized_program", {"program_id": DEAD_PROGRAM})
    action = chain_admin.approve(approver, action.pk)
    assert action.status == "awaiting_signature" and action.signer == str(admin_key.pubkey())
    unsigned = VersionedTransaction.from_bytes(base64.b64decode(action.unsigned_transaction))
    assert DEAD_PROGRAM not in {p.program_id for p in chain.get_authority().authorized_programs}

    # A different instruction signed by the right key is refused.
    other = chain.set_paused_instruction(admin_key.pubkey(), "lock", True)
    from vaults.services.transaction_builder import TransactionBuilder

    wrong = TransactionBuilder(chain).build([other], admin_key.pubkey(), [admin_key]).transaction
    with pytest.raises(InvalidRequest) as mismatch:
        chain_admin.relay_signed(approver, action.pk, base64.b64encode(bytes(wrong)).decode())
    assert mismatch.value.code == "transaction_mismatch"
    assert not chain.get_authority().lock_paused

    signed = VersionedTransaction(unsigned.message, [admin_key])  # what the hardware wallet does
    try:
        action = chain_admin.relay_signed(approver, action.pk, base64.b64encode(bytes(signed)).decode())
        assert action.status == "executed", action.error
        assert DEAD_PROGRAM in action.chain_state["authorized_programs"]
        assert DEAD_PROGRAM in {p.program_id for p in chain.get_authority().authorized_programs}
    finally:
        settings.CHAIN_ADMIN_OPS_KEY = json.dumps(list(bytes(admin_key)))
        revoke = chain_admin.propose(operator, "remove_authorized_program", {"program_id": DEAD_PROGRAM})
        assert chain_admin.approve(approver, revoke.pk).status == "executed"
    assert DEAD_PROGRAM not in {p.program_id for p in chain.get_authority().authorized_programs}
    steps = list(AuditTrail.objects.filter(details__action_id=action.pk, action__startswith="chain_admin.")
                 .order_by("pk").values_list("action", flat=True))
    assert steps == ["chain_admin.proposed", "chain_admin.approved", "chain_admin.exported", "chain_admin.executed"]


def test_the_stranded_lock_grace_period_is_set_with_four_eyes_and_checked_on_chain(chain, admin_key, settings):
    """Vault program v2: how long a revoked program's locks stay before their owners may release
    them. Proposed by an operator, approved (and signed by the ops key) by an admin, confirmed from
    the chain; out-of-range values never reach it."""
    settings.CHAIN_ADMIN_OPS_KEY = json.dumps(list(bytes(admin_key)))
    operator, approver = request_as("operator"), request_as("admin")
    before = chain.get_authority().stranded_lock_grace_seconds
    for bad in (-1, 30 * 24 * 3600 + 1, "1e3", "٣", True, None):
        with pytest.raises(InvalidRequest):
            chain_admin.propose(operator, "set_stranded_lock_grace", {"seconds": bad})
    with pytest.raises(chain_admin.Conflict):  # the chain already says so
        chain_admin.propose(operator, "set_stranded_lock_grace", {"seconds": before})
    wanted = before + 3600
    action = chain_admin.propose(operator, "set_stranded_lock_grace", {"seconds": str(wanted)})
    assert chain.get_authority().stranded_lock_grace_seconds == before  # nothing before the approval
    try:
        action = chain_admin.approve(approver, action.pk)
        assert action.status == "executed", action.error
        assert action.chain_state["stranded_lock_grace_seconds"] == wanted
        assert chain.get_authority().stranded_lock_grace_seconds == wanted
    finally:
        restore = chain_admin.propose(operator, "set_stranded_lock_grace", {"seconds": before})
        assert chain_admin.approve(approver, restore.pk).status == "executed"
    assert chain.get_authority().stranded_lock_grace_seconds == before
    assert AuditTrail.objects.filter(details__action_id=action.pk, action="chain_admin.executed").count() == 1
