"""Domain errors. Each carries the HTTP status and the stable `code` the API answers with."""


class VaultServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message, *, code=None, status=None, extra=None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.extra = extra or {}


class InvalidRequest(VaultServiceError):
    status = 400
    code = "invalid_request"


class NotAuthenticated(VaultServiceError):
    status = 401
    code = "not_authenticated"


class Forbidden(VaultServiceError):
    status = 403
    code = "forbidden"


class VaultNotFound(VaultServiceError):
    status = 404
    code = "vault_not_found"


class VaultAlreadyExists(VaultServiceError):
    status = 409
    code = "vault_already_exists"


class InsufficientBalance(VaultServiceError):
    """Checked before building, so the user never signs a transaction that must fail."""

    status = 409
    code = "insufficient_available_balance"


class DuplicateTransaction(VaultServiceError):
    """A byte-identical transaction (same signature) was already processed: this request did not
    move anything. The existing signature is in the details."""

    status = 409
    code = "duplicate_transaction"


class IdempotencyKeyInUse(VaultServiceError):
    """Another request with the same Idempotency-Key is still being processed."""

    status = 409
    code = "idempotency_key_in_use"


class IdempotencyKeyReused(VaultServiceError):
    """The Idempotency-Key was first used with another request body."""

    status = 422
    code = "idempotency_key_reused"


class TransactionRejected(VaultServiceError):
    """The program (or the runtime) rejects the transaction: simulation or execution failed."""

    status = 422
    code = "transaction_rejected"


class RateLimited(VaultServiceError):
    status = 429
    code = "rate_limited"

    def __init__(self, message, *, retry_after, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class UpstreamUnavailable(VaultServiceError):
    status = 503
    code = "rpc_unavailable"
