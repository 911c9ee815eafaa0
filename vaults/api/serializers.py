"""Request validation and response shapes (exactly the seeds' field names)."""
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from vaults.chain.client import PACKET_DATA_SIZE, parse_pubkey
from vaults.errors import InvalidRequest
from vaults.fields import U64_MAX

# Which error code a field's validation failure answers with.
FIELD_ERROR_CODES = {
    "user": "invalid_pubkey",
    "wallet": "invalid_pubkey",
    "amount": "invalid_amount",
    "transaction": "invalid_transaction",
    "nonce": "invalid_nonce",
    "signature": "invalid_signature",
}


BASE58_PUBKEY = {
    "type": "string", "format": "solana-pubkey",
    "pattern": "^[1-9A-HJ-NP-Za-km-z]{32,44}$", "minLength": 32, "maxLength": 44,
    "description": "base58-encoded 32-byte public key (the pattern is necessary, not sufficient: the "
                   "key must also decode to exactly 32 bytes)", "example": "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU",
}
BASE58_SIGNATURE = {
    "type": "string", "pattern": "^[1-9A-HJ-NP-Za-km-z]{64,88}$", "minLength": 64, "maxLength": 88,
    "description": "base58-encoded 64-byte transaction signature",
}
U64_AMOUNT = {
    "type": "integer", "minimum": 1, "maximum": U64_MAX,
    "description": "amount in base units (USDT: 6 decimals), a JSON integer", "example": 1000000,
}
U64 = {"type": "integer", "minimum": 0, "maximum": U64_MAX}
# base64 of at most PACKET_DATA_SIZE bytes
MAX_TRANSACTION_BASE64 = 4 * -(-PACKET_DATA_SIZE // 3)


@extend_schema_field(BASE58_PUBKEY)
class PubkeyField(serializers.Field):
    default_error_messages = {"invalid": "must be a base58-encoded 32-byte public key"}

    def to_internal_value(self, data):
        try:
            return str(parse_pubkey(data))
        except ValueError:
            self.fail("invalid")

    def to_representation(self, value):
        return str(value)


@extend_schema_field(U64_AMOUNT)
class U64AmountField(serializers.Field):
    """A positive JSON integer in base units, at most 2^64-1. Floats, strings and booleans are
    refused rather than coerced: an amount is never rounded."""

    default_error_messages = {
        "type": "amount must be a JSON integer in base units (no decimals, no strings)",
        "positive": "amount must be greater than 0",
        "overflow": f"amount must be at most {U64_MAX} (u64)",
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("type")
        if data <= 0:
            self.fail("positive")
        if data > U64_MAX:
            self.fail("overflow")
        return data

    def to_representation(self, value):
        return int(value)


@extend_schema_field(BASE58_SIGNATURE)
class SignatureField(serializers.CharField):
    pass


def parse_input(serializer_class, data):
    """Validates a request body; the first failing field decides the error code."""
    if not isinstance(data, dict):
        raise InvalidRequest("the request body must be a JSON object", code="invalid_request")
    serializer = serializer_class(data=data)
    if serializer.is_valid():
        return serializer.validated_data
    field, problems = next(iter(serializer.errors.items()))
    message = str(problems[0]) if isinstance(problems, list) else str(problems)
    if getattr(problems[0], "code", None) == "required":
        message = f"{field} is required"
    raise InvalidRequest(f"{field}: {message}", code=FIELD_ERROR_CODES.get(field, "invalid_request"))


# ---- requests ----

class InitializeRequest(serializers.Serializer):
    user = PubkeyField()


class AmountRequest(serializers.Serializer):
    user = PubkeyField()
    amount = U64AmountField()


class SubmitRequest(serializers.Serializer):
    transaction = serializers.CharField(
        max_length=MAX_TRANSACTION_BASE64, trim_whitespace=False,
        help_text=f"The signed versioned transaction, base64 (at most {PACKET_DATA_SIZE} bytes)",
    )


class NonceRequest(serializers.Serializer):
    wallet = PubkeyField()


class LoginRequest(serializers.Serializer):
    wallet = PubkeyField()
    nonce = serializers.CharField(min_length=1, max_length=64)
    signature = SignatureField(min_length=64, max_length=88, help_text="base58 ed25519 signature of the nonce message")


# ---- responses (for the OpenAPI schema; the views render the same fields) ----

@extend_schema_field(U64)
class U64Field(serializers.IntegerField):
    pass


@extend_schema_field({"type": "boolean", "enum": [True]})
class TrueField(serializers.BooleanField):
    pass


@extend_schema_field({"type": "boolean", "enum": [False]})
class FalseField(serializers.BooleanField):
    pass


class SignatureResponse(serializers.Serializer):
    """The transaction was sent and confirmed (relay; or localnet's dev signer)."""

    success = TrueField()
    signature = SignatureField()


class SuccessResponse(serializers.Serializer):
    success = TrueField()


class UnsignedTransactionResponse(serializers.Serializer):
    success = TrueField()
    transaction = serializers.CharField(help_text="Versioned transaction, base64, simulated, for the user to sign")
    vault = PubkeyField()
    signers = serializers.ListField(child=PubkeyField())
    blockhash = serializers.CharField()
    last_valid_block_height = serializers.IntegerField(min_value=0)
    compute_unit_limit = serializers.IntegerField(min_value=0)
    compute_unit_price_micro_lamports = serializers.IntegerField(min_value=0)
    simulated_units = serializers.IntegerField(allow_null=True, min_value=0)


class ProgramLockResponse(serializers.Serializer):
    program_id = PubkeyField()
    locked = U64Field()
    cap = U64Field(allow_null=True, help_text="Most the program may hold locked; null: no cap")
    approved = serializers.BooleanField(help_text="False once the owner revoked the approval")


class BalanceResponse(serializers.Serializer):
    owner = PubkeyField()
    vault = PubkeyField()
    token_account = PubkeyField()
    total_balance = U64Field()
    locked_balance = U64Field()
    available_balance = U64Field()
    total_deposited = U64Field()
    total_withdrawn = U64Field()
    created_at = serializers.IntegerField()
    program_locks = ProgramLockResponse(
        many=True, help_text="Extension: what each program holds locked in the vault (their sum is locked_balance)",
    )


def balance_body(vault) -> dict:
    """`BalanceResponse` for a vault (vaults.chain.client.VaultAccount)."""
    return {
        "owner": vault.owner,
        "vault": vault.address,
        "token_account": vault.token_account,
        "total_balance": vault.total_balance,
        "locked_balance": vault.locked_balance,
        "available_balance": vault.available_balance,
        "total_deposited": vault.total_deposited,
        "total_withdrawn": vault.total_withdrawn,
        "created_at": vault.created_at,
        # Extension (vault program v2): what each program holds locked, with the owner's cap.
        "program_locks": [dict(lock) for lock in vault.program_locks],
    }


class TransactionResponse(serializers.Serializer):
    id = serializers.UUIDField()
    vault = PubkeyField(source="vault.address")
    transaction_type = serializers.CharField()
    amount = U64Field()
    signature = SignatureField()
    timestamp = serializers.DateTimeField(format="%Y-%m-%dT%H:%M:%SZ")


def transaction_rows(rows) -> list[dict]:
    """`TransactionResponse` for a page of history rows (vaults.selectors.HistoryRow, formatted
    by the database), built directly: the same JSON as the serializer, without its per-field
    cost on up to 1,000 rows."""
    return [
        {
            "id": row.id,
            "vault": row.vault_address,
            "transaction_type": row.transaction_type,
            "amount": int(row.amount),
            "signature": row.signature,
            "timestamp": row.timestamp,
        }
        for row in rows
    ]


class TvlResponse(serializers.Serializer):
    total_value_locked = serializers.IntegerField(min_value=0)
    total_vaults = serializers.IntegerField(min_value=0)
    timestamp = serializers.IntegerField()


class NonceResponse(serializers.Serializer):
    wallet = PubkeyField()
    nonce = serializers.CharField()
    message = serializers.CharField()
    expires_at = serializers.DateTimeField()


class LoginResponse(serializers.Serializer):
    success = TrueField()
    token = serializers.CharField()
    wallet = PubkeyField()
    expires_at = serializers.DateTimeField()


class HealthResponse(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded"])
    database = serializers.BooleanField()
    redis = serializers.BooleanField()
    rpc = serializers.BooleanField()


class ErrorDetail(serializers.Serializer):
    code = serializers.CharField(help_text="stable machine-readable code, e.g. invalid_amount, rate_limited")
    message = serializers.CharField()
    request_id = serializers.CharField(required=False, help_text="also in the X-Request-ID header")
    details = serializers.DictField(required=False, help_text="extra facts (balances, program error, signature)")


class ErrorResponse(serializers.Serializer):
    success = FalseField()
    error = ErrorDetail()
