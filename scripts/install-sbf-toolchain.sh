#!/usr/bin/env bash
# Installs the offline SBF toolchain: Debian's second Rust (with precompiled core/alloc for
# bpfel-unknown-none), LLVM 22, and sbpf-linker 0.1.9 built against that LLVM.
# Idempotent: every step is skipped when its result is already there.
set -euo pipefail

SBPF_LINKER_VERSION=0.1.9
need_apt=()
[ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/bpfel-unknown-none ] || need_apt+=(rustc-web cargo-web libstd-rust-web-dev-bpf)
[ -e /usr/lib/llvm-22/lib/libLLVM.so.1 ] || need_apt+=(llvm-22)
[ -e /usr/lib/llvm-22/include/llvm-c/Core.h ] || need_apt+=(llvm-22-dev libpolly-22-dev libzstd-dev zlib1g-dev)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

export LD_LIBRARY_PATH=/usr/lib/llvm-22/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
linker_version=$(sbpf-linker --version 2>&1 || true)
if [[ "$linker_version" != *"sbpf-linker $SBPF_LINKER_VERSION"* ]]; then
  echo "==> cargo install sbpf-linker $SBPF_LINKER_VERSION"
  LLVM_SYS_221_PREFIX=/usr/lib/llvm-22 PATH=/usr/lib/llvm-22/bin:$PATH \
    cargo install sbpf-linker --version "$SBPF_LINKER_VERSION" --locked --quiet
fi
echo "==> SBF toolchain ready: $(/usr/bin/rustc --version), sbpf-linker $SBPF_LINKER_VERSION"
