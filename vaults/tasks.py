"""Celery tasks of the vault app (the periodic jobs arrive with the indexer)."""
from celery import shared_task

from vaults.services.ledger import record_transaction


@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=300, max_retries=8)
def record_transaction_task(signature: str) -> int:
    """Records a confirmed transaction's events; idempotent, so retries are safe."""
    return len(record_transaction(signature))
