//! One source of truth for the wire format. Every account, event and argument struct is
//! declared once with [`layout!`], which yields both the zero-copy Rust type and its IDL
//! description; instructions describe their accounts with [`AccountSpec`]. The IDL generator
//! (`idl` module, host only) turns these descriptions into `idl/*.json`.

use pinocchio::Address;

/// An IDL type, as Anchor's current IDL format names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    U8,
    U64,
    I64,
    Bool,
    Pubkey,
    Array(&'static Ty, usize),
    Option(&'static Ty),
    Defined(&'static str),
}

#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    pub ty: Ty,
}

/// A type with a fixed IDL representation.
pub trait IdlType {
    const TY: Ty;
}

impl IdlType for u8 {
    const TY: Ty = Ty::U8;
}
impl IdlType for Address {
    const TY: Ty = Ty::Pubkey;
}
impl IdlType for crate::pod::PodU64 {
    const TY: Ty = Ty::U64;
}
impl IdlType for crate::pod::PodI64 {
    const TY: Ty = Ty::I64;
}
impl IdlType for crate::pod::PodBool {
    const TY: Ty = Ty::Bool;
}
impl<T: IdlType, const N: usize> IdlType for [T; N] {
    const TY: Ty = Ty::Array(&T::TY, N);
}

/// A `repr(C)` struct of alignment-1 fields: its bytes are its borsh encoding.
///
/// # Safety
/// Implemented only by [`layout!`], which guarantees alignment 1, no padding, and that every
/// bit pattern is a valid value.
pub unsafe trait Layout: Sized + Copy {
    const NAME: &'static str;
    const FIELDS: &'static [FieldSpec];
    const LEN: usize = core::mem::size_of::<Self>();

    /// Reinterprets exactly `LEN` bytes.
    #[inline(always)]
    fn from_bytes(bytes: &[u8]) -> Option<&Self> {
        if bytes.len() != Self::LEN {
            return None;
        }
        // SAFETY: length checked; alignment 1 and every bit pattern valid (trait contract).
        Some(unsafe { &*(bytes.as_ptr() as *const Self) })
    }

    #[inline(always)]
    fn from_bytes_mut(bytes: &mut [u8]) -> Option<&mut Self> {
        if bytes.len() != Self::LEN {
            return None;
        }
        // SAFETY: as in `from_bytes`.
        Some(unsafe { &mut *(bytes.as_mut_ptr() as *mut Self) })
    }

    #[inline(always)]
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: no padding (trait contract), so every byte is initialized.
        unsafe { core::slice::from_raw_parts(self as *const Self as *const u8, Self::LEN) }
    }
}

/// Declares a zero-copy struct together with its IDL description.
#[macro_export]
macro_rules! layout {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty ),*
        }

        // SAFETY: every field is an alignment-1 plain-bytes type (checked below), so the
        // struct has alignment 1, no padding, and no invalid bit patterns.
        unsafe impl $crate::schema::Layout for $name {
            const NAME: &'static str = stringify!($name);
            const FIELDS: &'static [$crate::schema::FieldSpec] = &[
                $( $crate::schema::FieldSpec {
                    name: stringify!($field),
                    ty: <$ty as $crate::schema::IdlType>::TY,
                } ),*
            ];
        }

        impl $crate::schema::IdlType for $name {
            const TY: $crate::schema::Ty = $crate::schema::Ty::Defined(stringify!($name));
        }

        const _: () = {
            assert!(core::mem::align_of::<$name>() == 1);
            assert!(core::mem::size_of::<$name>() == 0 $( + core::mem::size_of::<$ty>() )*);
        };
    };
}

/// One account of an instruction, in order.
#[derive(Clone, Copy, Debug)]
pub struct AccountSpec {
    pub name: &'static str,
    pub writable: bool,
    pub signer: bool,
    /// A fixed address (program ids, singleton PDAs).
    pub address: Option<Address>,
    /// PDA seeds, for clients that resolve accounts from the IDL.
    pub pda: Option<&'static [Seed]>,
    /// Derived from another program's id (`seeds::program`).
    pub pda_program: Option<Address>,
    /// Accounts whose field of this account's name must hold this account's address (Anchor's
    /// `has_one`, as the IDL lists it: clients read the address from the related account).
    pub relations: &'static [&'static str],
    pub docs: &'static str,
}

#[derive(Clone, Copy, Debug)]
pub enum Seed {
    Const(&'static [u8]),
    /// Another account's address (by its name in the instruction).
    Account(&'static str),
    /// A field of another account (`"<account>.<field>"`), with that account's type.
    AccountField(&'static str, &'static str),
    /// An instruction argument.
    Arg(&'static str),
}

impl AccountSpec {
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            writable: false,
            signer: false,
            address: None,
            pda: None,
            pda_program: None,
            relations: &[],
            docs: "",
        }
    }
    pub const fn writable(mut self) -> Self {
        self.writable = true;
        self
    }
    pub const fn signer(mut self) -> Self {
        self.signer = true;
        self
    }
    pub const fn address(mut self, address: Address) -> Self {
        self.address = Some(address);
        self
    }
    pub const fn pda(mut self, seeds: &'static [Seed]) -> Self {
        self.pda = Some(seeds);
        self
    }
    pub const fn pda_of(mut self, seeds: &'static [Seed], program: Address) -> Self {
        self.pda = Some(seeds);
        self.pda_program = Some(program);
        self
    }
    pub const fn relations(mut self, relations: &'static [&'static str]) -> Self {
        self.relations = relations;
        self
    }
    pub const fn docs(mut self, docs: &'static str) -> Self {
        self.docs = docs;
        self
    }
}

/// An instruction as the IDL lists it.
#[derive(Clone, Copy, Debug)]
pub struct InstructionSpec {
    pub name: &'static str,
    pub docs: &'static str,
    pub discriminator: [u8; 8],
    pub accounts: &'static [AccountSpec],
    pub args: &'static [FieldSpec],
}

/// A borsh enum with unit variants (one byte on the wire).
#[derive(Clone, Copy, Debug)]
pub struct EnumSpec {
    pub name: &'static str,
    pub variants: &'static [&'static str],
}

/// An error as the IDL lists it.
#[derive(Clone, Copy, Debug)]
pub struct ErrorSpec {
    pub code: u32,
    pub name: &'static str,
    pub msg: &'static str,
}

/// A named struct type for the IDL `types` section.
#[derive(Clone, Copy, Debug)]
pub struct TypeSpec {
    pub name: &'static str,
    pub fields: &'static [FieldSpec],
}

impl TypeSpec {
    pub const fn of<T: Layout>() -> Self {
        Self {
            name: T::NAME,
            fields: T::FIELDS,
        }
    }
}

/// Everything the IDL of one program says.
#[derive(Clone, Copy, Debug)]
pub struct ProgramSpec {
    pub name: &'static str,
    pub version: &'static str,
    pub description: &'static str,
    pub address: Address,
    pub instructions: &'static [InstructionSpec],
    /// Account types with their discriminators.
    pub accounts: &'static [(TypeSpec, [u8; 8])],
    /// Event types with their discriminators.
    pub events: &'static [(TypeSpec, [u8; 8])],
    /// Other struct types referenced by the above.
    pub types: &'static [TypeSpec],
    pub enums: &'static [EnumSpec],
    pub errors: &'static [ErrorSpec],
}
