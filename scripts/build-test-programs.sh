#!/usr/bin/env bash
# Builds the test-only programs (tests/programs/forger: the event forger) with the same offline
# toolchain as the real ones (scripts/build-programs.sh). Output: target/test-programs/<name>.so.
# They are never deployed outside tests and are not part of programs/deploy.
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTC=/usr/bin/rustc
export LD_LIBRARY_PATH=/usr/lib/llvm-22/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export RUSTFLAGS="--remap-path-prefix=$PWD=/build --remap-path-prefix=$HOME/.cargo=/cargo -C target-cpu=generic"
SYSCALLS=(sol_log_ sol_log_64_ sol_log_data sol_log_pubkey sol_invoke_signed_c sol_invoke_signed_rust
  sol_memcpy_ sol_memmove_ sol_memset_ sol_memcmp_ sol_panic_ sol_get_stack_height)
export RUSTFLAGS="$RUSTFLAGS -C link-arg=--export=$(IFS=,; echo "${SYSCALLS[*]}")"

mkdir -p target/test-programs
manifest=tests/programs/forger/Cargo.toml
CARGO_TARGET_DIR="$PWD/target/sbf/event_forger" /usr/bin/cargo build --release --quiet \
  --manifest-path "$manifest" --target bpfel-unknown-none \
  --config 'target.bpfel-unknown-none.linker="sbpf-linker"'
cp target/sbf/event_forger/bpfel-unknown-none/release/libevent_forger.so target/test-programs/event_forger.so
echo "target/test-programs/event_forger.so"
