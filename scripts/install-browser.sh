#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (tests/pages/), if it is missing. Idempotent.
# Without root or apt it says so and the browser tests skip themselves.
set -uo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> apt-get install chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium fonts-dejavu-core >/dev/null && exit 0
fi
echo "==> chromium is not installed and cannot be installed here: tests/pages will be skipped" >&2
