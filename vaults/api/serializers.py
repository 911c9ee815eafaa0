"""Request validation and response shapes (exactly the seeds' field names)."""
from rest_framework import serializers

from vaults.chain.client import parse_pubkey
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


class PubkeyField(serializers.Field):
    default_error_messages = {"invalid": "must be a base58-encoded 32-byte public key"}

    def to_internal_value(self, data):
        try:
            return str(parse_pubkey(data))
        except ValueError:
            self.fail("invalid")

    def to_representation(self, value):
        return str(value)


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
    transaction = serializers.CharField(help_text="The signed transaction, base64")


class NonceRequest(serializers.Serializer):
    wallet = PubkeyField()


class LoginRequest(serializers.Serializer):
    wallet = PubkeyField()
    nonce = serializers.CharField(max_length=64)
    signature = serializers.CharField(max_length=100, help_text="base58 ed25519 signature of the nonce message")


# ---- responses (for the OpenAPI schema; the views render the same fields) ----

class SignatureResponse(serializers.Serializer):
    success = serializers.BooleanField()
    signature = serializers.CharField()


class UnsignedTransactionResponse(serializers.Serializer):
    success = serializers.BooleanField()
    transaction = serializers.CharField(help_text="Versioned transaction, base64, simulated, for the user to sign")
    vault = serializers.CharField()
    signers = serializers.ListField(child=serializers.CharField())
    blockhash = serializers.CharField()
    last_valid_block_height = serializers.IntegerField()
    compute_unit_limit = serializers.IntegerField()
    compute_unit_price_micro_lamports = serializers.IntegerField()
    simulated_units = serializers.IntegerField(allow_null=True)


class ProgramLockResponse(serializers.Serializer):
    program_id = serializers.CharField()
    locked = serializers.IntegerField()
    cap = serializers.IntegerField(allow_null=True, help_text="Most the program may hold locked; null: no cap")
    approved = serializers.BooleanField(help_text="False once the owner revoked the approval")


class BalanceResponse(serializers.Serializer):
    owner = serializers.CharField()
    vault = serializers.CharField()
    token_account = serializers.CharField()
    total_balance = serializers.IntegerField()
    locked_balance = serializers.IntegerField()
    available_balance = serializers.IntegerField()
    total_deposited = serializers.IntegerField()
    total_withdrawn = serializers.IntegerField()
    created_at = serializers.IntegerField()
    program_locks = ProgramLockResponse(
        many=True, help_text="Extension: what each program holds locked in the vault (their sum is locked_balance)",
    )


class TransactionResponse(serializers.Serializer):
    id = serializers.UUIDField()
    vault = serializers.CharField(source="vault.address")
    transaction_type = serializers.CharField()
    amount = serializers.IntegerField()
    signature = serializers.CharField()
    timestamp = serializers.DateTimeField(format="%Y-%m-%dT%H:%M:%SZ")


class TvlResponse(serializers.Serializer):
    total_value_locked = serializers.IntegerField()
    total_vaults = serializers.IntegerField()
    timestamp = serializers.IntegerField()


class NonceResponse(serializers.Serializer):
    wallet = serializers.CharField()
    nonce = serializers.CharField()
    message = serializers.CharField()
    expires_at = serializers.DateTimeField()


class LoginResponse(serializers.Serializer):
    success = serializers.BooleanField()
    token = serializers.CharField()
    wallet = serializers.CharField()
    expires_at = serializers.DateTimeField()


class ErrorDetail(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ErrorResponse(serializers.Serializer):
    success = serializers.BooleanField(default=False)
    error = ErrorDetail()
