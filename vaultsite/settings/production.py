"""Production: every secret from the environment, and the server never signs for anybody."""
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import SECRET_KEY, SOLANA_RPC_URL, env_bool

if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production")
if not SOLANA_RPC_URL:
    raise ImproperlyConfigured("RPC_URL must be set in production")

# Non-custodial by design: whatever the environment says, no server-side signing here.
DEV_SIGNER_ENABLED = False
DEV_SIGNER_SECRET_KEYS = []
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
# Staff sessions: cookies only over HTTPS, and the ops key is never read in production: approved
# administration is exported for a multisig or hardware wallet to sign.
CHAIN_ADMIN_OPS_KEY = None
LEDGER_RESET_ALLOWED = False  # whatever a settings layer above says: a production ledger is never emptied
