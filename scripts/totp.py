#!/usr/bin/env python
"""`make totp`: the current authenticator codes of the staff accounts `make run` created (read
from DATA_DIR/staff*.json), for when no authenticator app is at hand. Local runs only."""
import json
import os
import sys
import time
from pathlib import Path

from django_otp.oath import totp

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    data_dir = Path(os.environ.get("DATA_DIR") or ROOT / ".data")
    files = sorted(data_dir.glob("staff*.json"))
    if not files:
        print(f"no staff logins under {data_dir}: start `make run` first", file=sys.stderr)
        return 1
    left = 30 - int(time.time()) % 30
    for path in files:
        login = json.loads(path.read_text())
        if login.get("totp_key"):
            code = totp(bytes.fromhex(login["totp_key"]))
            print(f"{login['username']:<10} {code:06d}   (valid {left} s more)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
