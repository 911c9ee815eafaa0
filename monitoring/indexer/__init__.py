"""The event indexer: `python manage.py index` (monitoring/management/commands/index.py).

Guarantees, and where each one comes from:
- Nothing missed: the live `logsSubscribe` stream is only a fast path. A backfill round
  (`getSignaturesForAddress` until the stored cursor, then `getTransaction` oldest first) runs
  every INDEXER_POLL_SECONDS whatever the stream does, and each vault's event sequence number
  exposes any hole left, which a targeted backfill on that vault's address fills (gaps.py).
- Nothing doubled: rows are keyed on (signature, event index); the indexer's own record of the
  events it applied (IndexedEvent) and the cursor are written in the same database transaction
  as the ledger rows, so a crash at any point leaves either all of a transaction or none of it.
- Nothing unconfirmed kept: rows arrive `confirmed`; the finalization pass (finality.py) marks
  them `finalized`, or deletes them when the chain finalized past them without knowing them.
- Live messages (monitoring.streams) leave only after the database transaction commits.
"""
