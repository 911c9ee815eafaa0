//! Alignment-1 integer wrappers. Account data and instruction data carry no alignment
//! guarantee, so every multi-byte field is stored as little-endian bytes: a `repr(C)` struct of
//! these types has no padding, which makes its memory layout identical to its borsh encoding.

macro_rules! pod_int {
    ($(#[$meta:meta])* $name:ident, $int:ty) => {
        $(#[$meta])*
        #[repr(transparent)]
        #[derive(Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name(pub [u8; core::mem::size_of::<$int>()]);

        impl $name {
            #[inline(always)]
            pub const fn new(value: $int) -> Self {
                Self(value.to_le_bytes())
            }

            #[inline(always)]
            pub const fn get(&self) -> $int {
                <$int>::from_le_bytes(self.0)
            }

            #[inline(always)]
            pub fn set(&mut self, value: $int) {
                self.0 = value.to_le_bytes();
            }
        }

        impl From<$int> for $name {
            #[inline(always)]
            fn from(value: $int) -> Self {
                Self::new(value)
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                self.get().fmt(f)
            }
        }
    };
}

pod_int!(
    /// A `u64` stored as 8 little-endian bytes.
    PodU64,
    u64
);
pod_int!(
    /// An `i64` stored as 8 little-endian bytes.
    PodI64,
    i64
);

/// A borsh `bool`: one byte, 0 or 1. Any other byte is rejected on read.
#[repr(transparent)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct PodBool(pub u8);

impl PodBool {
    #[inline(always)]
    pub const fn new(value: bool) -> Self {
        Self(value as u8)
    }

    #[inline(always)]
    pub const fn get(&self) -> bool {
        self.0 != 0
    }

    /// `Some` only for the two encodings borsh allows.
    #[inline(always)]
    pub const fn try_get(&self) -> Option<bool> {
        match self.0 {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_u64_round_trips_extremes() {
        for v in [0u64, 1, u64::MAX, 1 << 63] {
            assert_eq!(PodU64::new(v).get(), v);
            assert_eq!(PodU64::new(v).0, v.to_le_bytes());
        }
    }

    #[test]
    fn pod_i64_keeps_sign() {
        assert_eq!(PodI64::new(-1).get(), -1);
        assert_eq!(PodI64::new(i64::MIN).get(), i64::MIN);
    }

    #[test]
    fn pod_bool_rejects_non_canonical_bytes() {
        assert_eq!(PodBool(0).try_get(), Some(false));
        assert_eq!(PodBool(1).try_get(), Some(true));
        assert_eq!(PodBool(2).try_get(), None);
    }

    #[test]
    fn pod_types_have_alignment_one() {
        assert_eq!(core::mem::align_of::<PodU64>(), 1);
        assert_eq!(core::mem::align_of::<PodI64>(), 1);
        assert_eq!(core::mem::align_of::<PodBool>(), 1);
    }
}
