"""Solana access for the back office: see `client.py`."""
