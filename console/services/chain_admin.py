"""On-chain administration from the console, with four eyes.

1. An operator (permission `console.propose_chainadminaction`) proposes one instruction:
   pause or resume deposits / withdrawals / locks, add or remove an authorized program, propose
   an admin, accept the admin role.
2. A *different* staff member with `console.approve_chainadminaction` approves it (or rejects it).
3. Signing. When the ops key in the settings (CHAIN_ADMIN_OPS_KEY: localnet only, never read in
   production) is the key the program requires, the server signs, sends and confirms. Otherwise
   the console exports the unsigned transaction (base64, with a human summary) for a multisig or
   hardware wallet, and relays the signed one it is given back, after checking that it carries
   exactly the approved instruction and valid signatures.
4. The result is confirmed from the chain: the authority account is read back and must show the
   intended state, or the action is marked failed.

Every step writes an audit row (`chain_admin.<step>`) in the same database transaction as the
state change. Chain I/O never happens under a database lock.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from solders.keypair import Keypair
from solders.transaction import VersionedTransaction

from console.models import ChainAdminAction
from console.services.staff_audit import record_staff_action
from vaults.chain.client import COMPUTE_BUDGET_PROGRAM_ID, AuthorityAccount, ChainError, get_chain_client, parse_pubkey
from vaults.errors import Forbidden, InvalidRequest, TransactionRejected, UpstreamUnavailable, VaultServiceError
from vaults.services.transaction_builder import TransactionBuilder
from vaults.services.vault_manager import RELAY_VALIDITY_BLOCKS, chain_errors

logger = logging.getLogger(__name__)

K = ChainAdminAction.Kind
S = ChainAdminAction.Status
PROPOSE = "console.propose_chainadminaction"
APPROVE = "console.approve_chainadminaction"
PAUSE_LABELS = {"deposit": "deposits", "withdraw": "withdrawals", "lock": "collateral locks"}
# The vault program refuses a stranded-lock grace period outside 0..30 days (InvalidGracePeriod).
MAX_STRANDED_LOCK_GRACE_SECONDS = 30 * 24 * 3600


class Conflict(VaultServiceError):
    status = 409
    code = "conflict"


# ---- what each kind means ----------------------------------------------------------------------

def clean_params(kind: str, raw: dict) -> dict:
    """Validated, canonical arguments; raises InvalidRequest."""
    def pubkey(name):
        try:
            return str(parse_pubkey((raw.get(name) or "").strip()))
        except ValueError:
            raise InvalidRequest(f"{name} must be a base58 public key", code="invalid_pubkey") from None

    if kind == K.SET_PAUSED:
        action = raw.get("action")
        if action not in PAUSE_LABELS:
            raise InvalidRequest("action must be deposit, withdraw or lock", code="invalid_action")
        paused = raw.get("paused")
        if isinstance(paused, str):
            paused = {"true": True, "1": True, "on": True, "false": False, "0": False, "off": False}.get(paused.lower())
        if not isinstance(paused, bool):
            raise InvalidRequest("paused must be true or false", code="invalid_request")
        return {"action": action, "paused": paused}
    if kind in (K.ADD_AUTHORIZED_PROGRAM, K.REMOVE_AUTHORIZED_PROGRAM):
        return {"program_id": pubkey("program_id")}
    if kind == K.PROPOSE_ADMIN:
        return {"new_admin": pubkey("new_admin")}
    if kind == K.SET_STRANDED_LOCK_GRACE:
        seconds = raw.get("seconds")
        text = seconds.strip() if isinstance(seconds, str) else None
        if isinstance(seconds, bool) or not (isinstance(seconds, int) or (text and text.isascii() and text.isdigit())):
            raise InvalidRequest("seconds must be a whole number of seconds", code="invalid_request")
        seconds = int(seconds)
        if not 0 <= seconds <= MAX_STRANDED_LOCK_GRACE_SECONDS:
            raise InvalidRequest("the grace period must be between 0 and 30 days (2592000 s)", code="invalid_grace_period")
        return {"seconds": seconds}
    if kind == K.ACCEPT_ADMIN:
        return {}
    raise InvalidRequest(f"unknown action kind {kind!r}", code="invalid_kind")


def summarize(kind: str, params: dict) -> str:
    if kind == K.SET_PAUSED:
        return f"{'Pause' if params['paused'] else 'Resume'} {PAUSE_LABELS[params['action']]}"
    if kind == K.ADD_AUTHORIZED_PROGRAM:
        return f"Authorize program {params['program_id']} to lock, unlock and settle collateral"
    if kind == K.REMOVE_AUTHORIZED_PROGRAM:
        return (f"Revoke program {params['program_id']}; what it holds locked becomes releasable by the vault "
                "owners after the stranded-lock grace period")
    if kind == K.SET_STRANDED_LOCK_GRACE:
        return f"Set the stranded-lock grace period to {params['seconds']} s ({params['seconds'] / 86400:g} days)"
    if kind == K.PROPOSE_ADMIN:
        return f"Propose {params['new_admin']} as the vault program's admin"
    return "Accept the admin role (signed by the pending admin)"


def already_in_effect(kind: str, params: dict, authority: AuthorityAccount) -> str | None:
    """Why the instruction would change nothing (or fail), if it would."""
    allowed = {p.program_id for p in authority.authorized_programs}
    if kind == K.SET_PAUSED and getattr(authority, f"{params['action']}_paused") == params["paused"]:
        return f"{PAUSE_LABELS[params['action']]} are already {'paused' if params['paused'] else 'running'}"
    if kind == K.ADD_AUTHORIZED_PROGRAM and params["program_id"] in allowed:
        return "the program is already authorized"
    if kind == K.REMOVE_AUTHORIZED_PROGRAM and params["program_id"] not in allowed:
        return "the program is not authorized"
    if kind == K.SET_STRANDED_LOCK_GRACE and authority.stranded_lock_grace_seconds == params["seconds"]:
        return f"the grace period is already {params['seconds']} s"
    if kind == K.ACCEPT_ADMIN and authority.pending_admin is None:
        return "no admin hand-over is pending"
    return None


def in_effect(action: ChainAdminAction, authority: AuthorityAccount) -> bool:
    """The chain shows what the action intended."""
    params = action.params
    allowed = {p.program_id for p in authority.authorized_programs}
    if action.kind == K.SET_PAUSED:
        return getattr(authority, f"{params['action']}_paused") == params["paused"]
    if action.kind == K.ADD_AUTHORIZED_PROGRAM:
        return params["program_id"] in allowed
    if action.kind == K.REMOVE_AUTHORIZED_PROGRAM:
        return params["program_id"] not in allowed
    if action.kind == K.PROPOSE_ADMIN:
        return authority.pending_admin == params["new_admin"]
    if action.kind == K.SET_STRANDED_LOCK_GRACE:
        return authority.stranded_lock_grace_seconds == params["seconds"]
    return authority.admin == action.signer and authority.pending_admin is None


def required_signer(action: ChainAdminAction, authority: AuthorityAccount) -> str:
    if action.kind == K.ACCEPT_ADMIN:
        if authority.pending_admin is None:
            raise Conflict("no admin hand-over is pending", code="no_pending_admin")
        return authority.pending_admin
    return authority.admin


def instruction_for(action: ChainAdminAction, signer: str):
    chain, p = get_chain_client(), action.params
    return {
        K.SET_PAUSED: lambda: chain.set_paused_instruction(signer, p["action"], p["paused"]),
        K.ADD_AUTHORIZED_PROGRAM: lambda: chain.add_authorized_program_instruction(signer, p["program_id"]),
        K.REMOVE_AUTHORIZED_PROGRAM: lambda: chain.remove_authorized_program_instruction(signer, p["program_id"]),
        K.SET_STRANDED_LOCK_GRACE: lambda: chain.set_stranded_lock_grace_instruction(signer, p["seconds"]),
        K.PROPOSE_ADMIN: lambda: chain.propose_admin_instruction(signer, p["new_admin"]),
        K.ACCEPT_ADMIN: lambda: chain.accept_admin_instruction(signer),
    }[action.kind]()


def read_authority() -> AuthorityAccount:
    with chain_errors():
        authority = get_chain_client().get_authority()
    if authority is None:
        raise UpstreamUnavailable("the VaultAuthority account does not exist on this chain", code="authority_missing")
    return authority


def ops_keypair() -> Keypair | None:
    """CHAIN_ADMIN_OPS_KEY: a JSON array of the 64 secret-key bytes, or a path to a file holding one."""
    raw = getattr(settings, "CHAIN_ADMIN_OPS_KEY", None)
    if not raw:
        return None
    text = raw.strip()
    if not text.startswith("["):
        text = Path(text).read_text()
    return Keypair.from_bytes(bytes(json.loads(text)))


# ---- the steps ---------------------------------------------------------------------------------

def _require(request, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied(f"needs the {permission} permission")


def _audit(request, action: ChainAdminAction, step: str, *, status_code=200, error_code="", **details):
    record_staff_action(request, f"chain_admin.{step}", status_code=status_code, error_code=error_code,
                        signature=action.signature,
                        details={"action_id": action.pk, "kind": action.kind, "params": action.params,
                                 "summary": action.summary, "status": action.status, **details})


def propose(request, kind: str, raw_params: dict, reason: str = "") -> ChainAdminAction:
    _require(request, PROPOSE)
    params = clean_params(kind, raw_params)
    why_not = already_in_effect(kind, params, read_authority())
    if why_not:
        raise Conflict(why_not, code="already_in_effect")
    with transaction.atomic():
        _expire_stale()
        if ChainAdminAction.objects.filter(kind=kind, params=params, status__in=ChainAdminAction.OPEN_STATUSES).exists():
            raise Conflict("the same action is already waiting for approval", code="duplicate_proposal")
        action = ChainAdminAction.objects.create(
            kind=kind, params=params, summary=summarize(kind, params), reason=(reason or "")[:2000],
            proposed_by=request.user,
            expires_at=timezone.now() + timedelta(seconds=settings.CHAIN_ADMIN_PROPOSAL_TTL_SECONDS))
        _audit(request, action, "proposed", reason=action.reason)
    return action


def approve(request, action_id: int) -> ChainAdminAction:
    """The second pair of eyes. Signs with the ops key when it is the required signer;
    otherwise exports the unsigned transaction."""
    _require(request, APPROVE)
    action = ChainAdminAction.objects.get(pk=action_id)
    if action.proposed_by_id == request.user.pk:
        with transaction.atomic():  # the refusal is on the record; nothing else changes
            _audit(request, action, "approval_refused", status_code=403, error_code="four_eyes")
        raise Forbidden("four eyes: a proposal must be approved by somebody other than its proposer",
                        code="four_eyes")
    authority = read_authority()
    with transaction.atomic():
        action = ChainAdminAction.objects.select_for_update().get(pk=action_id)
        _check_open(action, S.PROPOSED)
        action.signer = required_signer(action, authority)
        action.decided_by, action.decided_at = request.user, timezone.now()
        action.status = S.AWAITING_SIGNATURE
        action.save()
        _audit(request, action, "approved", signer=action.signer)
    key = ops_keypair()
    if key is not None and str(key.pubkey()) == action.signer:
        return sign_with_ops_key(request, action.pk)
    return export_unsigned(request, action.pk)


def export_unsigned(request, action_id: int) -> ChainAdminAction:
    """A fresh unsigned transaction (a blockhash lives about a minute: export again when the
    signer was slower than that)."""
    _require(request, APPROVE)
    action = ChainAdminAction.objects.get(pk=action_id)
    _check_open(action, S.AWAITING_SIGNATURE)
    with chain_errors():
        built = TransactionBuilder().build([instruction_for(action, action.signer)], parse_pubkey(action.signer))
    with transaction.atomic():
        action = ChainAdminAction.objects.select_for_update().get(pk=action_id)
        action.unsigned_transaction = built.to_base64()
        action.save(update_fields=["unsigned_transaction", "updated_at"])
        _audit(request, action, "exported", blockhash=built.blockhash,
               last_valid_block_height=built.last_valid_block_height)
    return action


def sign_with_ops_key(request, action_id: int) -> ChainAdminAction:
    _require(request, APPROVE)
    action = ChainAdminAction.objects.get(pk=action_id)
    _check_open(action, S.AWAITING_SIGNATURE)
    key = ops_keypair()
    if key is None or str(key.pubkey()) != action.signer:
        raise Conflict(f"the ops key is not the required signer {action.signer}: export the transaction instead",
                       code="ops_key_not_signer")
    try:
        with chain_errors():
            built = TransactionBuilder().build([instruction_for(action, action.signer)], key.pubkey(), [key])
            chain = get_chain_client()
            signature = chain.send(built.transaction)
            chain.confirm(signature, built.last_valid_block_height)
    except VaultServiceError as exc:
        return _failed(request, action_id, exc)
    return _confirm_from_chain(request, action_id, signature, relayed=False)


def relay_signed(request, action_id: int, signed_base64: str) -> ChainAdminAction:
    """The transaction a multisig or hardware wallet signed: it must hold exactly the approved
    instruction (compute-budget instructions aside) and valid signatures, the required signer's
    among them."""
    _require(request, APPROVE)
    action = ChainAdminAction.objects.get(pk=action_id)
    _check_open(action, S.AWAITING_SIGNATURE)
    try:
        signed = VersionedTransaction.from_bytes(base64.b64decode((signed_base64 or "").strip(), validate=True))
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest("paste the signed transaction as base64", code="invalid_transaction") from exc
    _check_matches(action, signed)
    try:
        with chain_errors():
            chain = get_chain_client()
            simulation = chain.simulate(signed, verify_signatures=True)
            if simulation.error is not None:
                raise simulation.error
            last_valid = chain.get_block_height() + RELAY_VALIDITY_BLOCKS
            signature = chain.send(signed)
            chain.confirm(signature, last_valid)
    except VaultServiceError as exc:
        return _failed(request, action_id, exc)
    return _confirm_from_chain(request, action_id, signature, relayed=True)


def reject(request, action_id: int, reason: str = "") -> ChainAdminAction:
    _require(request, APPROVE)
    return _close(request, action_id, S.REJECTED, "rejected", reason)


def cancel(request, action_id: int, reason: str = "") -> ChainAdminAction:
    action = ChainAdminAction.objects.get(pk=action_id)
    if action.proposed_by_id != request.user.pk and not request.user.has_perm(APPROVE):
        raise PermissionDenied("only the proposer or an approver may cancel")
    return _close(request, action_id, S.CANCELLED, "cancelled", reason)


# ---- helpers -----------------------------------------------------------------------------------

def _check_open(action: ChainAdminAction, expected: str) -> None:
    if action.status == S.PROPOSED and action.expires_at <= timezone.now():
        _expire_stale()
        raise Conflict("the proposal expired; propose it again", code="proposal_expired")
    if action.status != expected:
        raise Conflict(f"the action is {action.status}, not {expected}", code="invalid_transition")


def _expire_stale() -> None:
    ChainAdminAction.objects.filter(status=S.PROPOSED, expires_at__lte=timezone.now()).update(status=S.EXPIRED)


def _check_matches(action: ChainAdminAction, signed: VersionedTransaction) -> None:
    expected = instruction_for(action, action.signer)
    message = signed.message
    keys = list(message.account_keys)
    found = []
    for ix in message.instructions:
        program = keys[ix.program_id_index]
        if program == COMPUTE_BUDGET_PROGRAM_ID:
            continue
        metas = [(keys[i], message.is_signer(i), message.is_maybe_writable(i)) for i in ix.accounts]
        found.append((program, bytes(ix.data), metas))
    wanted = (expected.program_id, bytes(expected.data),
              [(m.pubkey, m.is_signer, m.is_writable) for m in expected.accounts])
    if len(found) != 1 or found[0][0] != wanted[0] or found[0][1] != wanted[1] or \
            [(k, s) for k, s, _ in found[0][2]] != [(k, s) for k, s, _ in wanted[2]]:
        raise InvalidRequest("the signed transaction is not the approved instruction", code="transaction_mismatch")
    if not all(signed.verify_with_results()):
        raise InvalidRequest("a signature is missing or invalid", code="invalid_signature")
    signers = {str(k) for k in keys[: message.header.num_required_signatures]}
    if action.signer not in signers:
        raise InvalidRequest(f"the transaction is not signed by {action.signer}", code="invalid_signature")


def _confirm_from_chain(request, action_id: int, signature: str, *, relayed: bool) -> ChainAdminAction:
    authority = read_authority()
    state = {"admin": authority.admin, "pending_admin": authority.pending_admin,
             "deposit_paused": authority.deposit_paused, "withdraw_paused": authority.withdraw_paused,
             "lock_paused": authority.lock_paused,
             "authorized_programs": [p.program_id for p in authority.authorized_programs],
             "stranded_lock_grace_seconds": authority.stranded_lock_grace_seconds,
             "removed_programs": [{"program_id": p.program_id, "releasable_at": p.releasable_at}
                                  for p in authority.removed_programs]}
    with transaction.atomic():
        action = ChainAdminAction.objects.select_for_update().get(pk=action_id)
        action.signature, action.chain_state = signature, state
        if in_effect(action, authority):
            action.status = S.EXECUTED
            action.save()
            _audit(request, action, "executed", relayed=relayed, chain_state=state)
        else:
            action.status, action.error = S.FAILED, "confirmed, but the chain does not show the intended state"
            action.save()
            _audit(request, action, "failed", status_code=409, error_code="not_in_effect", chain_state=state)
    return action


def _failed(request, action_id: int, exc: VaultServiceError) -> ChainAdminAction:
    with transaction.atomic():
        action = ChainAdminAction.objects.select_for_update().get(pk=action_id)
        action.error = f"{exc.code}: {exc.message}"
        # A chain outage or an expired blockhash may pass: the approval stands, try again.
        if not isinstance(exc, UpstreamUnavailable) and exc.code != "blockhash_expired":
            action.status = S.FAILED
        action.save()
        _audit(request, action, "failed", status_code=exc.status, error_code=exc.code, error=exc.message)
    return action


def _close(request, action_id: int, status: str, step: str, reason: str) -> ChainAdminAction:
    with transaction.atomic():
        action = ChainAdminAction.objects.select_for_update().get(pk=action_id)
        if not action.is_open:
            raise Conflict(f"the action is already {action.status}", code="invalid_transition")
        action.status, action.decided_by, action.decided_at = status, request.user, timezone.now()
        action.error = (reason or "")[:2000]
        action.save()
        _audit(request, action, step, reason=action.error)
    return action


__all__ = ["approve", "cancel", "export_unsigned", "propose", "reject", "relay_signed", "sign_with_ops_key",
           "ChainError", "TransactionRejected"]
