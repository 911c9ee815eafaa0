"""Django settings for the benchmark server: the production settings, plus one bare
JsonResponse view (`/bench/bare`) served by the same process, the baseline of every ratio."""
from vaultsite.settings.production import *  # noqa: F401,F403

ROOT_URLCONF = "bench.urls"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
