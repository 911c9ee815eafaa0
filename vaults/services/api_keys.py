"""API keys for service clients: `<prefix>.<secret>`, stored as a SHA-256, shown once."""
import hashlib
import secrets
from datetime import datetime, timezone

from vaults.models import ApiKey


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_key(name: str, created_by=None) -> tuple[str, ApiKey]:
    prefix = secrets.token_hex(4)
    raw = f"{prefix}.{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(name=name, prefix=prefix, key_hash=_hash(raw), created_by=created_by)
    return raw, api_key


def api_key_for(raw: str) -> ApiKey | None:
    api_key = ApiKey.objects.filter(key_hash=_hash(raw), is_active=True).first()
    if api_key is not None:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=datetime.now(tz=timezone.utc))
    return api_key
