"""Local development (`make run`): the local validator's file fills what the environment leaves
unset, and the server may sign for the generated dev wallets."""
import json
from urllib.parse import quote

from .base import *  # noqa: F401,F403
from .base import LOCALNET_FILE, SOLANA_RPC_URL, env, env_bool, read_localnet_file

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env("DJANGO_SECRET_KEY", "dev-only-insecure-key-never-use-in-production")
SERVE_STATIC = True

_localnet = None if SOLANA_RPC_URL else read_localnet_file(LOCALNET_FILE)
if _localnet:
    SOLANA_RPC_URL = _localnet["rpc_url"]
    SOLANA_WS_URL = _localnet["ws_url"]
    USDT_MINT = env("USDT_MINT", _localnet["usdt_mint"])
    DEV_SIGNER_ENABLED = env_bool("DEV_SIGNER_ENABLED", True)
    DEV_SIGNER_SECRET_KEYS = [w["secret_key"] for w in _localnet["wallets"]]
    # The local validator's admin key signs approved on-chain administration (four eyes still apply).
    CHAIN_ADMIN_OPS_KEY = env("CHAIN_ADMIN_OPS_KEY") or json.dumps(_localnet["admin"]["secret_key"])
    EXPLORER_CLUSTER_QUERY = env("EXPLORER_CLUSTER_QUERY",
                                 "?cluster=custom&customUrl=" + quote(_localnet["rpc_url"], safe=""))
SOLANA_RPC_URL = SOLANA_RPC_URL or "http://127.0.0.1:8899"

LEDGER_RESET_ALLOWED = True  # make run starts a fresh ledger when its chain cannot be restored
