"""Cache keys shared by the writers that invalidate and the readers that fill them."""

TVL_KEY = "vaults:tvl"


def balance_key(owner: str) -> str:
    return f"vaults:balance:{owner}"
