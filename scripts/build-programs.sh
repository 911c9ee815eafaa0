#!/usr/bin/env bash
# Builds both programs to SBPF v0 with Debian's Rust for bpfel-unknown-none and sbpf-linker,
# offline. Output: target/deploy/<name>.so. With --verify, also checks the fresh binaries
# against the committed ones in programs/deploy/ (byte for byte, by sha256).
set -euo pipefail
cd "$(dirname "$0")/.."

# caller_proxy is a test fixture (the audit's malicious CPI proxy); it is never deployed.
PROGRAMS=(collateral_vault position_manager caller_proxy)
export RUSTC=/usr/bin/rustc
# Paths must not leak into the binary, or the build would depend on where it ran.
export RUSTFLAGS="--remap-path-prefix=$PWD=/build --remap-path-prefix=$HOME/.cargo=/cargo -C target-cpu=generic"
export SOURCE_DATE_EPOCH=0

# bpf-linker internalizes every symbol not exported, external declarations included; LLVM then
# strips the arguments of the now-'internal' syscall declarations. Exporting the syscall names
# (all of solana-define-syscall's) keeps them external with their real signatures.
SYSCALLS=(
  sol_alt_bn128_compression sol_alt_bn128_group_op sol_big_mod_exp sol_blake3
  sol_create_program_address sol_curve_decompress sol_curve_group_op sol_curve_multiscalar_mul
  sol_curve_pairing_map sol_curve_validate_point sol_get_clock_sysvar sol_get_epoch_rewards_sysvar
  sol_get_epoch_schedule_sysvar sol_get_epoch_stake sol_get_fees_sysvar sol_get_last_restart_slot
  sol_get_leader sol_get_processed_sibling_instruction sol_get_rent_sysvar sol_get_return_data
  sol_get_stack_height sol_get_sysvar sol_invoke_signed_c sol_invoke_signed_rust sol_keccak256
  sol_keccak_p1600 sol_log_ sol_log_64_ sol_log_compute_units_ sol_log_data sol_log_pubkey
  sol_memcmp_ sol_memcpy_ sol_memmove_ sol_memset_ sol_panic_ sol_poseidon
  sol_remaining_compute_units sol_secp256k1_recover sol_set_return_data sol_sha256 sol_sha512
  sol_try_find_program_address
)
export RUSTFLAGS="$RUSTFLAGS -C link-arg=--export=$(IFS=,; echo "${SYSCALLS[*]}")"

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
