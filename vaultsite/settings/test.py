"""pytest: the machine's PostgreSQL and Redis (a Redis database of its own); the local validator
is started by a session fixture, which points these settings at it."""
from .base import *  # noqa: F401,F403
from .base import LOCALNET_FILE, USDT_MINT, channel_layers, env, env_bool, read_localnet_file

SECRET_KEY = "test-only-key"
REDIS_URL = env("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CACHES = {"default": {"BACKEND": "vaults.cache.SharedPoolRedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "cvms-test"}}
CHANNEL_LAYERS = channel_layers(REDIS_URL)
CELERY_BROKER_URL = REDIS_URL
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SOLANA_RPC_URL = "http://127.0.0.1:8899"
DEV_SIGNER_ENABLED = False
SERVE_STATIC = env_bool("SERVE_STATIC", False)  # a daphne test server serving the live pages' scripts
# A server process started by a test (tests/live_server.py) is pointed at the session's local
# validator through the environment; pytest itself never sets these.
if env("TEST_SERVER_LOCALNET"):
    _localnet = read_localnet_file(LOCALNET_FILE)
    SOLANA_RPC_URL = _localnet["rpc_url"]
    SOLANA_WS_URL = _localnet["ws_url"]
    USDT_MINT = _localnet["usdt_mint"]
    DEV_SIGNER_ENABLED = env_bool("DEV_SIGNER_ENABLED", False)
    DEV_SIGNER_SECRET_KEYS = [w["secret_key"] for w in _localnet["wallets"]] if DEV_SIGNER_ENABLED else []

LEDGER_RESET_ALLOWED = True
CHAIN_CHECK_AT_STARTUP = False  # tests call the check themselves (the ASGI app is imported in many)
