"""pytest: the machine's PostgreSQL and Redis (a Redis database of its own); the local validator
is started by a session fixture, which points these settings at it."""
from .base import *  # noqa: F401,F403
from .base import channel_layers, env, env_bool

SECRET_KEY = "test-only-key"
REDIS_URL = env("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CACHES = {"default": {"BACKEND": "vaults.cache.SharedPoolRedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "cvms-test"}}
CHANNEL_LAYERS = channel_layers(REDIS_URL)
CELERY_BROKER_URL = REDIS_URL
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SOLANA_RPC_URL = "http://127.0.0.1:8899"
DEV_SIGNER_ENABLED = False
SERVE_STATIC = env_bool("SERVE_STATIC", False)  # a daphne test server serving the live pages' scripts

LEDGER_RESET_ALLOWED = True
CHAIN_CHECK_AT_STARTUP = False  # tests call the check themselves (the ASGI app is imported in many)
