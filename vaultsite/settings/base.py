"""Settings shared by every environment. Everything that varies comes from the environment.

The seeds' variables keep their names: DATABASE_URL, RPC_URL, PROGRAM_ID, USDT_MINT, PORT.
"""
import json
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name, default=None):
    value = os.environ.get(name)
    return default if value in (None, "") else value


def env_bool(name, default=False):
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name, default):
    value = env(name)
    try:
        return default if value is None else int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def database_from_url(url, *, pool_min_size=2, pool_max_size=10, pool_timeout=10, prepared_statements=True):
    """postgresql://user:pass@host:port/name, or ?host=/socket/dir for a unix socket (pgserver).

    Connections come from a psycopg pool per process (web, consumers, indexer, workers), so no
    request or job pays for a new PostgreSQL session. Django returns a connection to the pool
    where it would otherwise close it (end of request, `close_old_connections`), which is how
    pooling fits ASGI: CONN_MAX_AGE would keep one connection per thread and context and leak.

    Django's own cursors bind parameters client-side and never prepare. `prepared_statements`
    lets the few hot queries that ask for it (the history page) be prepared once per pooled
    connection; turn it off behind a pooler that cannot keep them (PgBouncer in transaction mode
    before 1.21)."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(f"DATABASE_URL must be a PostgreSQL URL, got scheme {parts.scheme!r}")
    query = parse_qs(parts.query)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "postgres",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": query.get("host", [parts.hostname or ""])[0],
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": 0,  # with the pool, "close" means "give back"
        "OPTIONS": {
            **({"pool": {"min_size": pool_min_size, "max_size": pool_max_size, "timeout": pool_timeout}}
               if pool_max_size > 0 else {}),
            "prepare_threshold": 0 if prepared_statements else None,
        },
    }


def read_localnet_file(path):
    """The local validator host writes its URLs and dev keys here (see scripts/localnet/)."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None


SECRET_KEY = env("DJANGO_SECRET_KEY", "")
DEBUG = False
ALLOWED_HOSTS = [h.strip() for h in env("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "daphne",  # Channels 4 has no runserver of its own; daphne provides the ASGI one.
    "console.apps.ConsoleAdminConfig",  # django.contrib.admin with the 2FA site (console/admin_site.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files: it works offline
    "channels",
    "django_celery_beat",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "vaults",
    "monitoring",
    "console",
]

MIDDLEWARE = [
    "console.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "console.middleware.StaffSessionLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "vaults.api.middleware.AuditTrailMiddleware",
    "vaults.api.throttling.AdminLoginThrottleMiddleware",  # inside the audit: its 429s are audited
]

ROOT_URLCONF = "vaultsite.urls"
ASGI_APPLICATION = "vaultsite.asgi.application"
APPEND_SLASH = False  # the seeds' paths have no trailing slash

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.context_processors.console",
            ],
        },
    },
]

DATABASE_URL = env("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/collateral_vault")
# DATABASE_POOL_MAX_SIZE=0 turns pooling off (a connection per request, as Django does by default).
DATABASE_POOL_MAX_SIZE = env_int("DATABASE_POOL_MAX_SIZE", 10)
DATABASES = {"default": database_from_url(
    DATABASE_URL,
    pool_min_size=env_int("DATABASE_POOL_MIN_SIZE", 2),
    pool_max_size=DATABASE_POOL_MAX_SIZE,
    pool_timeout=env_int("DATABASE_POOL_TIMEOUT_SECONDS", 10),
    prepared_statements=env_bool("DATABASE_PREPARED_STATEMENTS", True),
)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "vaults.cache.SharedPoolRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cvms",
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
SERVE_STATIC = False

# ---- Solana ----
LOCALNET_FILE = Path(env("LOCALNET_FILE", str(BASE_DIR / ".data" / "localnet.json")))
SOLANA_RPC_URL = env("RPC_URL")
SOLANA_WS_URL = env("WS_URL")
PROGRAM_ID = env("PROGRAM_ID", "8vjbjPhoD2rav71J8mgbVxcYdbbqST78y2bzMPRqoGr9")
POSITION_MANAGER_PROGRAM_ID = env("POSITION_MANAGER_PROGRAM_ID", "GTYmhz8KtQhgKEgTvW644AfB9q3Jey3DeZpF6bum9vCT")
USDT_MINT = env("USDT_MINT", "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB")
SOLANA_COMMITMENT = env("SOLANA_COMMITMENT", "confirmed")
RPC_TIMEOUT_SECONDS = env_int("RPC_TIMEOUT_SECONDS", 10)
CONFIRM_TIMEOUT_SECONDS = env_int("CONFIRM_TIMEOUT_SECONDS", 60)
IDL_DIR = Path(env("IDL_DIR", str(BASE_DIR / "idl")))

# Transaction building: CU limit = simulated units * (1 + margin), or the fallback when the
# simulation reports none; priority fee fixed by config, else from getRecentPrioritizationFees.
TX_COMPUTE_UNIT_MARGIN_PERCENT = env_int("TX_COMPUTE_UNIT_MARGIN_PERCENT", 20)
TX_FALLBACK_COMPUTE_UNIT_LIMIT = env_int("TX_FALLBACK_COMPUTE_UNIT_LIMIT", 200_000)
TX_PRIORITY_FEE_MICRO_LAMPORTS = env("TX_PRIORITY_FEE_MICRO_LAMPORTS")
TX_PRIORITY_FEE_MAX_MICRO_LAMPORTS = env_int("TX_PRIORITY_FEE_MAX_MICRO_LAMPORTS", 1_000_000)

# Localnet only: the server may hold the dev wallets' keys and sign for them. Off unless a
# settings layer enables it; production forces it off.
DEV_SIGNER_ENABLED = False
DEV_SIGNER_SECRET_KEYS = []

# ---- API ----
PORT = env_int("PORT", 3000)
BALANCE_CACHE_SECONDS = env_int("BALANCE_CACHE_SECONDS", 5)
TVL_CACHE_SECONDS = env_int("TVL_CACHE_SECONDS", 60)
# Anonymous balance, TVL and history reads answered on the event loop, before Django (vaults/api/fast_reads.py).
API_FAST_READS = env_bool("API_FAST_READS", True)
API_FAST_READ_THREADS = env_int("API_FAST_READ_THREADS", 8)  # per web process: chain and database reads
if DATABASE_POOL_MAX_SIZE and not 0 < API_FAST_READ_THREADS <= DATABASE_POOL_MAX_SIZE - 2:
    raise ImproperlyConfigured("API_FAST_READ_THREADS must be from 1 to DATABASE_POOL_MAX_SIZE - 2: each may hold a "
                               "pooled connection, and Django's own thread needs one besides")
# Rate limits (vaults/services/rate_limits.py): each client its own moving window in Redis.
RATE_LIMIT_WINDOW_SECONDS = env_int("RATE_LIMIT_WINDOW_SECONDS", 60)
RATE_LIMIT_CLIENT_REQUESTS = env_int("RATE_LIMIT_CLIENT_REQUESTS", 600)  # per API key / wallet login / staff user
RATE_LIMIT_ANONYMOUS_REQUESTS = env_int("RATE_LIMIT_ANONYMOUS_REQUESTS", 300)  # per anonymous client IP
# All anonymous clients together (a safety valve; authenticated clients never count against it).
RATE_LIMIT_GLOBAL_REQUESTS = env_int("RATE_LIMIT_GLOBAL_REQUESTS", 6000)
RATE_LIMIT_USER_REQUESTS = env_int("RATE_LIMIT_USER_REQUESTS", 30)  # deposit/withdraw/submit per wallet or staff user
RATE_LIMIT_API_KEY_WRITE_REQUESTS = env_int("RATE_LIMIT_API_KEY_WRITE_REQUESTS", 600)  # the same, per API key
RATE_LIMIT_HEALTH_REQUESTS = env_int("RATE_LIMIT_HEALTH_REQUESTS", 120)  # /health per client IP
RATE_LIMIT_ADMIN_LOGIN_WINDOW_SECONDS = env_int("RATE_LIMIT_ADMIN_LOGIN_WINDOW_SECONDS", 900)
RATE_LIMIT_ADMIN_LOGIN_ACCOUNT_FAILURES = env_int("RATE_LIMIT_ADMIN_LOGIN_ACCOUNT_FAILURES", 5)
RATE_LIMIT_ADMIN_LOGIN_IP_FAILURES = env_int("RATE_LIMIT_ADMIN_LOGIN_IP_FAILURES", 20)
ADMIN_LOGIN_THROTTLE_PATHS = ["/admin/login/"]
if RATE_LIMIT_GLOBAL_REQUESTS < 2 * max(RATE_LIMIT_ANONYMOUS_REQUESTS, 1):
    raise ImproperlyConfigured("RATE_LIMIT_GLOBAL_REQUESTS must be at least twice RATE_LIMIT_ANONYMOUS_REQUESTS, "
                               "or one client could exhaust it for everyone")
# Addresses (or CIDR networks) of reverse proxies whose X-Forwarded-For is believed; empty: none.
TRUSTED_PROXIES = [p.strip() for p in env("TRUSTED_PROXIES", "").split(",") if p.strip()]
# Idempotency-Key answers are kept this long (vaults/services/idempotency.py).
IDEMPOTENCY_TTL_SECONDS = env_int("IDEMPOTENCY_TTL_SECONDS", 24 * 3600)
WALLET_LOGIN_NONCE_SECONDS = env_int("WALLET_LOGIN_NONCE_SECONDS", 300)
WALLET_SESSION_SECONDS = env_int("WALLET_SESSION_SECONDS", 24 * 3600)
# Request size limits, enforced by the HTTP server (vaultsite/serve.py) and the ASGI guard
# (vaultsite/http_guard.py): 413 and 431 in JSON.
MAX_REQUEST_BODY_BYTES = env_int("MAX_REQUEST_BODY_BYTES", 1024 * 1024)
MAX_REQUEST_HEADER_BYTES = env_int("MAX_REQUEST_HEADER_BYTES", 16 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES
TRANSACTIONS_DEFAULT_LIMIT = 100
TRANSACTIONS_MAX_LIMIT = 1000

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "vaults.api.authentication.WalletTokenAuthentication",
        "vaults.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_THROTTLE_CLASSES": ["vaults.api.throttling.ClientRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["vaults.api.parsers.JsonParser"],
    "EXCEPTION_HANDLER": "vaults.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "vaults.api.schema.VaultAutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Collateral Vault Management System",
    "DESCRIPTION": "Back office of the collateral vaults: build, relay and inspect vault transactions.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "vaults.api.schema.add_links"],
    "ENUM_NAME_OVERRIDES": {"SuccessTrueEnum": [(True, "true")], "SuccessFalseEnum": [(False, "false")]},
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# LOG_FORMAT=json: one JSON object per line (python-json-logger), for log shippers; plain otherwise.
LOG_FORMAT = env("LOG_FORMAT", "plain").lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}},
}

# indexer
# `python manage.py index`: live logsSubscribe with a backfill always behind it (monitoring/indexer/).
def env_float(name, default):
    value = env(name)
    try:
        return default if value is None else float(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from exc


INDEXER_POLL_SECONDS = env_float("INDEXER_POLL_SECONDS", 2.0)  # backfill round every N s: the bound on a dead stream's gap
INDEXER_STREAM_IDLE_SECONDS = env_float("INDEXER_STREAM_IDLE_SECONDS", 60.0)  # silence after which the watchdog resubscribes
INDEXER_BACKOFF_MAX_SECONDS = env_float("INDEXER_BACKOFF_MAX_SECONDS", 30.0)  # ceiling of the retry back-off
INDEXER_FINALITY_SECONDS = env_float("INDEXER_FINALITY_SECONDS", 30.0)  # finalization pass from the command loop
INDEXER_SIGNATURE_PAGE_LIMIT = env_int("INDEXER_SIGNATURE_PAGE_LIMIT", 1000)  # getSignaturesForAddress page size

# websocket streams (/ws: monitoring/consumers.py)
WS_HEARTBEAT_SECONDS = env_int("WS_HEARTBEAT_SECONDS", 20)  # a {"type": "heartbeat"} this often; 0: none
# Revoked logins, keys and staff accounts are found for all of a process's connections at once,
# this often (expiry is checked at every heartbeat, without a query).
WS_CREDENTIAL_RECHECK_SECONDS = env_float("WS_CREDENTIAL_RECHECK_SECONDS", 30.0)
WS_IDLE_TIMEOUT_SECONDS = env_int("WS_IDLE_TIMEOUT_SECONDS", 90)  # close a client silent this long; 0: never
WS_SUBSCRIBE_BURST = env_int("WS_SUBSCRIBE_BURST", 20)  # subscribe/unsubscribe/auth: a token bucket
WS_SUBSCRIBE_PER_MINUTE = env_int("WS_SUBSCRIBE_PER_MINUTE", 60)
WS_RATE_LIMIT_STRIKES = env_int("WS_RATE_LIMIT_STRIKES", 10)  # refused in a row: the connection is closed
WS_MAX_SUBSCRIPTIONS = env_int("WS_MAX_SUBSCRIPTIONS", 100)
WS_MAX_FRAME_BYTES = env_int("WS_MAX_FRAME_BYTES", 4096)
WS_REPLAY_MAX_EVENTS = env_int("WS_REPLAY_MAX_EVENTS", 10_000)  # more missed: resync from the REST API
# Browser origins allowed to open /ws (default: ALLOWED_HOSTS); clients without Origin pass.
WS_ALLOWED_ORIGINS = [o.strip() for o in env("WS_ALLOWED_ORIGINS", "").split(",") if o.strip()]
# Vault and user streams readable without credentials, like the REST reads (the public live
# pages use them); false restricts them to the owner's token, API keys and staff.
WS_PUBLIC_VAULT_STREAMS = env_bool("WS_PUBLIC_VAULT_STREAMS", True)
# Live messages wait in a connection's channel while it replays: room for bursts.
WS_CHANNEL_CAPACITY = env_int("WS_CHANNEL_CAPACITY", 1000)


def channel_layers(redis_url, capacity=WS_CHANNEL_CAPACITY):
    """channels-redis on `redis_url`. redis-py 8 reads with a 5 s socket timeout by default,
    which races channels-redis's 5 s blocking BZPOPMIN and kills every consumer that has been
    idle for 5 s: reads get a longer timeout."""
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": redis_url, "socket_timeout": 30}],
                "capacity": capacity,
                # Each web process's /ws hub (monitoring/fanout.py) takes every stream message for
                # all its clients through one channel: room for a burst while it catches up.
                "channel_capacity": {"stream-hub.*": 100 * capacity},
            },
        }
    }


CHANNEL_LAYERS = channel_layers(REDIS_URL)

# monitoring jobs
# The periodic jobs themselves (what runs, how often, each job's lock) are declared in
# monitoring/schedules.py and synced into django-celery-beat's tables; these are their knobs.
# Amounts are in the collateral's base units (USDT: 6 decimals).
MONITOR_RECONCILIATION_LAG_GRACE_SECONDS = env_int("MONITOR_RECONCILIATION_LAG_GRACE_SECONDS", 600)
# A full run streams the vaults in chunks (bounded memory), reads the chain with this many
# concurrent getMultipleAccounts calls, keeps a summary per run and full rows only for vaults
# that did not match (at most MAX_LOGS per run), and deletes rows older than the retention.
MONITOR_RECONCILIATION_CHUNK_VAULTS = env_int("MONITOR_RECONCILIATION_CHUNK_VAULTS", 2000)
MONITOR_RECONCILIATION_RPC_CONCURRENCY = env_int("MONITOR_RECONCILIATION_RPC_CONCURRENCY", 8)
MONITOR_RECONCILIATION_MAX_LOGS = env_int("MONITOR_RECONCILIATION_MAX_LOGS", 10_000)
MONITOR_RECONCILIATION_LOG_RETENTION_DAYS = env_int("MONITOR_RECONCILIATION_LOG_RETENTION_DAYS", 90)
MONITOR_RECONCILIATION_RUN_RETENTION_DAYS = env_int("MONITOR_RECONCILIATION_RUN_RETENTION_DAYS", 400)
MONITOR_LARGE_WITHDRAWAL_AMOUNT = env_int("MONITOR_LARGE_WITHDRAWAL_AMOUNT", 100_000 * 10**6)
MONITOR_OUTFLOW_WINDOW_SECONDS = env_int("MONITOR_OUTFLOW_WINDOW_SECONDS", 3600)
MONITOR_OUTFLOW_VAULT_AMOUNT = env_int("MONITOR_OUTFLOW_VAULT_AMOUNT", 250_000 * 10**6)
MONITOR_OUTFLOW_TOTAL_AMOUNT = env_int("MONITOR_OUTFLOW_TOTAL_AMOUNT", 2_000_000 * 10**6)
MONITOR_ANOMALY_LOOKBACK_SECONDS = env_int("MONITOR_ANOMALY_LOOKBACK_SECONDS", 24 * 3600)
MONITOR_SIGNATURE_PAGE_SIZE = env_int("MONITOR_SIGNATURE_PAGE_SIZE", 1000)
MONITOR_SIGNATURE_MAX_PAGES = env_int("MONITOR_SIGNATURE_MAX_PAGES", 10)
# Retries of every monitoring job: countdown = factor * 2**retries seconds, capped (no jitter:
# one worker pool, and a predictable schedule staff can read in the logs).
MONITOR_RETRY_BACKOFF_FACTOR = env_int("MONITOR_RETRY_BACKOFF_FACTOR", 2)
MONITOR_RETRY_BACKOFF_MAX_SECONDS = env_int("MONITOR_RETRY_BACKOFF_MAX_SECONDS", 300)
MONITOR_MAX_RETRIES = env_int("MONITOR_MAX_RETRIES", 6)


def celery_broker_url(redis_url):
    """kombu has no `unix://` transport (the embedded Redis of `make run` is a unix socket):
    the same socket and database as `redis+socket://`."""
    parts = urlsplit(redis_url)
    if parts.scheme != "unix":
        return redis_url
    database = parse_qs(parts.query).get("db", ["0"])[0]
    return f"redis+socket://{parts.path}?virtual_host={database}"


CELERY_BROKER_URL = celery_broker_url(REDIS_URL)

# How amounts are shown to people (the admin); stored and served as integers in base units.
COLLATERAL_DECIMALS = env_int("COLLATERAL_DECIMALS", 6)
COLLATERAL_SYMBOL = env("COLLATERAL_SYMBOL", "USDT")

# ---- staff console (console/): roles, 2FA, sessions, explorer links, on-chain administration ----
# Staff sign in with a password and a TOTP code (django-otp); the admin refuses unverified sessions.
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", "Collateral Vault")
# A staff session ends after STAFF_SESSION_IDLE_SECONDS without a request, and in any case
# STAFF_SESSION_MAX_SECONDS after sign-in; closing the browser ends it too.
STAFF_SESSION_IDLE_SECONDS = env_int("STAFF_SESSION_IDLE_SECONDS", 30 * 60)
STAFF_SESSION_MAX_SECONDS = env_int("STAFF_SESSION_MAX_SECONDS", 12 * 3600)
SESSION_COOKIE_AGE = STAFF_SESSION_IDLE_SECONDS
SESSION_SAVE_EVERY_REQUEST = True  # the idle limit slides with activity
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Links to a block explorer: {signature} / {address} and {cluster_query} are filled in.
EXPLORER_TX_URL = env("EXPLORER_TX_URL", "https://explorer.solana.com/tx/{signature}{cluster_query}")
EXPLORER_ADDRESS_URL = env("EXPLORER_ADDRESS_URL", "https://explorer.solana.com/address/{address}{cluster_query}")
EXPLORER_CLUSTER_QUERY = env("EXPLORER_CLUSTER_QUERY", "")
# On-chain administration: proposals need a second staff member's approval. On localnet the ops
# key signs (a JSON array of the 64 secret-key bytes, or a path to such a file); elsewhere the
# console exports the unsigned transaction for a multisig or hardware wallet.
CHAIN_ADMIN_OPS_KEY = env("CHAIN_ADMIN_OPS_KEY")
CHAIN_ADMIN_PROPOSAL_TTL_SECONDS = env_int("CHAIN_ADMIN_PROPOSAL_TTL_SECONDS", 24 * 3600)
# /metrics (Prometheus text format). Empty: open to anyone who reaches it (keep it on an
# internal network); otherwise a bearer token the scraper sends.
METRICS_BEARER_TOKEN = env("METRICS_BEARER_TOKEN", "")
# Public pages (/ and /vaults/<owner>): how many recent events and snapshots they render.
LIVE_FEED_EVENTS = env_int("LIVE_FEED_EVENTS", 30)
# Static files besides the apps': the chart library from npm (node_modules, `npm ci`), never a CDN.
STATICFILES_DIRS = [("vendor/uplot", BASE_DIR / "node_modules" / "uplot" / "dist")]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # the LOGGING above (plain or JSON) applies to the worker too
# One chain per ledger (vaults/services/chain_identity.py). `manage.py reset_ledger` empties a
# ledger only where this is on: development and tests, never production.
LEDGER_RESET_ALLOWED = False
CHAIN_CHECK_AT_STARTUP = True  # web and workers check the chain when they start
