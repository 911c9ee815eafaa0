#!/usr/bin/env bash
# Builds both programs to SBPF v0 with Debian's Rust for bpfel-unknown-none and sbpf-linker,
# offline. Output: target/deploy/<name>.so. With --verify, also checks the fresh binaries
# against the committed ones in programs/deploy/ (byte for byte, by sha256).
set -euo pipefail
cd "$(dirname "$0")/.."

PROGRAMS=(collateral_vault position_manager)
export RUSTC=/usr/bin/rustc
# Paths must not leak into the binary, or the build would depend on where it ran.
export RUSTFLAGS="--remap-path-prefix=$PWD=/build --remap-path-prefix=$HOME/.cargo=/cargo -C target-cpu=generic"
export SOURCE_DATE_EPOCH=0

# One target directory per program: the position manager links the vault crate with
# `no-entrypoint`, and cargo names cdylibs without a hash, so the two variants of
# libcollateral_vault.so would overwrite each other in a shared directory.
mkdir -p target/deploy
for name in "${PROGRAMS[@]}"; do
  target_dir="$PWD/target/sbf/$name"
  CARGO_TARGET_DIR="$target_dir" /usr/bin/cargo build --locked --release --quiet \
    --target bpfel-unknown-none --config 'target.bpfel-unknown-none.linker="sbpf-linker"' \
    -p "${name//_/-}"
  cp "$target_dir/bpfel-unknown-none/release/lib$name.so" "target/deploy/$name.so"
done
(cd target/deploy && sha256sum "${PROGRAMS[@]/%/.so}")

if [ "${1:-}" = "--verify" ]; then
  for name in "${PROGRAMS[@]}"; do
    fresh=$(sha256sum "target/deploy/$name.so" | cut -d' ' -f1)
    committed=$(grep " $name.so\$" programs/deploy/SHA256SUMS | cut -d' ' -f1)
    blob=$(sha256sum "programs/deploy/$name.so" | cut -d' ' -f1)
    if [ "$fresh" != "$committed" ] || [ "$blob" != "$committed" ]; then
      echo "REPRODUCIBILITY FAILURE: $name.so rebuilt as $fresh, committed $committed (file $blob)" >&2
      echo "Run 'make program-release' and commit programs/deploy/ if the source change is intended." >&2
      exit 1
    fi
  done
  echo "==> reproducible: target/deploy/*.so match programs/deploy/SHA256SUMS"
fi
