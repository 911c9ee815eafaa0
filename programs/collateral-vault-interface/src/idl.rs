//! IDL generation in Anchor's current format (0.30 and later), from [`crate::schema`] specs.
//! Host only. `make idl` writes `idl/*.json`; the tests fail when the committed file differs.

use std::{format, string::String, vec::Vec};

use serde_json::{json, Map, Value};

use crate::schema::{AccountSpec, EnumSpec, FieldSpec, ProgramSpec, Seed, Ty, TypeSpec};

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

pub fn base58(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = Vec::new();
    for &byte in bytes {
        let mut carry = byte as u32;
        for digit in digits.iter_mut() {
            carry += (*digit as u32) << 8;
            *digit = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    let mut out = String::with_capacity(zeros + digits.len());
    out.extend(core::iter::repeat_n('1', zeros));
    out.extend(digits.iter().rev().map(|&d| BASE58[d as usize] as char));
    out
}

fn ty(ty: &Ty) -> Value {
    match ty {
        Ty::U8 => json!("u8"),
        Ty::U64 => json!("u64"),
        Ty::I64 => json!("i64"),
        Ty::Bool => json!("bool"),
        Ty::Pubkey => json!("pubkey"),
        Ty::Array(inner, len) => json!({ "array": [ty_of(inner), len] }),
        Ty::Option(inner) => json!({ "option": ty_of(inner) }),
        Ty::Defined(name) => json!({ "defined": { "name": name } }),
    }
}

fn ty_of(inner: &Ty) -> Value {
    ty(inner)
}

fn fields(fields: &[FieldSpec]) -> Value {
    fields.iter().map(|f| json!({ "name": f.name, "type": ty(&f.ty) })).collect()
}

fn account(spec: &AccountSpec) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(spec.name));
    if !spec.docs.is_empty() {
        out.insert("docs".into(), json!([spec.docs]));
    }
    if spec.writable {
        out.insert("writable".into(), json!(true));
    }
    if spec.signer {
        out.insert("signer".into(), json!(true));
    }
    if let Some(address) = &spec.address {
        out.insert("address".into(), json!(base58(address.as_ref())));
    }
    if !spec.relations.is_empty() {
        out.insert("relations".into(), json!(spec.relations));
    }
    if let Some(seeds) = spec.pda {
        let seeds: Vec<Value> = seeds
            .iter()
            .map(|seed| match seed {
                Seed::Const(bytes) => json!({ "kind": "const", "value": bytes }),
                Seed::Account(path) => json!({ "kind": "account", "path": path }),
                Seed::AccountField(path, account) => json!({ "kind": "account", "path": path, "account": account }),
                Seed::Arg(path) => json!({ "kind": "arg", "path": path }),
            })
            .collect();
        let mut pda = Map::new();
        pda.insert("seeds".into(), Value::Array(seeds));
        if let Some(program) = &spec.pda_program {
            pda.insert("program".into(), json!({ "kind": "const", "value": program.as_ref() }));
        }
        out.insert("pda".into(), Value::Object(pda));
    }
    Value::Object(out)
}

fn struct_type(spec: &TypeSpec) -> Value {
    json!({ "name": spec.name, "type": { "kind": "struct", "fields": fields(spec.fields) } })
}

fn enum_type(spec: &EnumSpec) -> Value {
    let variants: Vec<Value> = spec.variants.iter().map(|v| json!({ "name": v })).collect();
    json!({ "name": spec.name, "type": { "kind": "enum", "variants": variants } })
}

/// The IDL document for `spec`.
pub fn build(spec: &ProgramSpec) -> Value {
    let instructions: Vec<Value> = spec
        .instructions
        .iter()
        .map(|ix| {
            json!({
                "name": ix.name,
                "docs": [ix.docs],
                "discriminator": ix.discriminator,
                "accounts": ix.accounts.iter().map(account).collect::<Vec<_>>(),
                "args": fields(ix.args),
            })
        })
        .collect();
    let named = |items: &[(TypeSpec, [u8; 8])]| -> Vec<Value> {
        items.iter().map(|(t, d)| json!({ "name": t.name, "discriminator": d })).collect()
    };
    let mut types: Vec<Value> = Vec::new();
    types.extend(spec.accounts.iter().map(|(t, _)| struct_type(t)));
    types.extend(spec.events.iter().map(|(t, _)| struct_type(t)));
    types.extend(spec.types.iter().map(struct_type));
    types.extend(spec.enums.iter().map(enum_type));
    json!({
        "address": base58(spec.address.as_ref()),
        "metadata": {
            "name": spec.name,
            "version": spec.version,
            "spec": "0.1.0",
            "description": spec.description,
        },
        "instructions": instructions,
        "accounts": named(spec.accounts),
        "events": named(spec.events),
        "errors": spec.errors.iter().map(|e| json!({ "code": e.code, "name": e.name, "msg": e.msg })).collect::<Vec<_>>(),
        "types": types,
    })
}

/// Compares the generated IDL with the committed file, or rewrites it when `UPDATE_IDL` is set.
pub fn check_committed(spec: &ProgramSpec, path: &str) {
    let generated = format!("{}\n", serde_json::to_string_pretty(&build(spec)).unwrap());
    if std::env::var_os("UPDATE_IDL").is_some() {
        std::fs::write(path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "{path} is stale: the program's wire format changed. Run `make idl` and commit the result."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base58_matches_known_addresses() {
        assert_eq!(base58(crate::ID.as_ref()), "8vjbjPhoD2rav71J8mgbVxcYdbbqST78y2bzMPRqoGr9");
        assert_eq!(base58(&[0; 32]), "11111111111111111111111111111111");
    }

    #[test]
    fn types_render_in_anchor_notation() {
        assert_eq!(ty(&Ty::Array(&Ty::U8, 32)), json!({ "array": ["u8", 32] }));
        assert_eq!(ty(&Ty::Defined("PauseAction")), json!({ "defined": { "name": "PauseAction" } }));
        assert_eq!(ty(&Ty::Pubkey), json!("pubkey"));
    }
}
