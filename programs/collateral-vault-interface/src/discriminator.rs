//! Anchor discriminators, computed at compile time: the first 8 bytes of
//! `sha256("<namespace>:<name>")`.

use sha2_const_stable::Sha256;

/// Prefix of every `emit_cpi!` self-invocation: Anchor's `EVENT_IX_TAG` in little-endian.
pub const EVENT_IX_TAG_LE: [u8; 8] = [0xe4, 0x45, 0xa5, 0x2e, 0x51, 0xcb, 0x9a, 0x1d];

pub const fn discriminator(namespace: &str, name: &str) -> [u8; 8] {
    let hash = Sha256::new()
        .update(namespace.as_bytes())
        .update(b":")
        .update(name.as_bytes())
        .finalize();
    [
        hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7],
    ]
}

/// `sha256("global:<snake_name>")[..8]`
pub const fn instruction(name: &str) -> [u8; 8] {
    discriminator("global", name)
}

/// `sha256("account:<Name>")[..8]`
pub const fn account(name: &str) -> [u8; 8] {
    discriminator("account", name)
}

/// `sha256("event:<Name>")[..8]`
pub const fn event(name: &str) -> [u8; 8] {
    discriminator("event", name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_anchor_known_values() {
        assert_eq!(instruction("initialize"), [175, 175, 109, 31, 13, 152, 155, 237]);
        // Anchor's EVENT_IX_TAG is sha256("anchor:event")[..8] read as a big-endian u64, so its
        // little-endian bytes are the hash prefix reversed.
        let mut tag = discriminator("anchor", "event");
        tag.reverse();
        assert_eq!(tag, EVENT_IX_TAG_LE);
    }

    #[test]
    fn namespaces_differ() {
        assert_ne!(account("Deposit"), event("Deposit"));
        assert_ne!(instruction("deposit"), instruction("withdraw"));
    }
}
