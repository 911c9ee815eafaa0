//! PDA seeds. All are derived under the id the program runs as.

/// `[b"config"]`: admin, keeper and the caller-PDA bump.
pub const CONFIG: &[u8] = b"config";
/// `[b"margin", owner]`: what this manager has locked for one user.
pub const MARGIN: &[u8] = b"margin";
/// `[b"vault_caller"]`: the signer the vault program checks against its allow-list.
pub const CALLER_AUTHORITY: &[u8] = collateral_vault_interface::seeds::CALLER_AUTHORITY;
