"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.schemathesis.hooks): valid data for the formats the
OpenAPI schema declares but a regular expression cannot pin down."""
import json
import os

import schemathesis
from hypothesis import strategies as st
from solders.pubkey import Pubkey

# Any 32 bytes are a public key; their base58 form is what the API takes.
random_keys = st.binary(min_size=32, max_size=32).map(lambda raw: str(Pubkey.from_bytes(raw)))
# The local validator's funded dev wallets (the server signs for them), so that stateful runs reach
# initialize -> deposit -> withdraw -> balance for real, not only 404s.
_localnet = os.environ.get("LOCALNET_FILE")
dev_keys = [w["pubkey"] for w in json.loads(open(_localnet).read())["wallets"]] if _localnet else []
schemathesis.openapi.format("solana-pubkey", st.one_of(st.sampled_from(dev_keys), random_keys) if dev_keys
                            else random_keys)
