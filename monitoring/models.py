"""Monitoring owns no tables yet: it reads the vault app's (reconciliation_logs, balance_snapshots)."""
