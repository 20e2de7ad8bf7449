//! AO modules: a WASM binary carried as the data of a data item with AO's module tags.
//!
//! Two ways in, both ending in a checked module item (which `Store::put_module_item` keeps):
//! - raw WASM plus tag overrides: the node signs a module item with its own wallet, with the
//!   defaults below for every tag the caller does not set (`aocu module add`, and
//!   `POST /~module@1.0` with a WASM body);
//! - a data item already signed by the publisher, as AO's tooling publishes modules (the WASM as
//!   data, the module tags on the item): verified and kept as it is.
//!
//! Either way the item must carry what aoconnect checks before it spawns (`Data-Protocol: ao`,
//! `Type: Module`, `Module-Format`, `Input-Encoding`, `Output-Encoding`) and data that starts
//! with the WASM magic.

use super::{DataItem, ItemError, Tag, Tags, Wallet};

/// WASM magic and version 1.
const WASM_HEADER: [u8; 8] = *b"\0asm\x01\0\0\0";

/// A module could not be built or stored.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// The bytes or tags are not an AO module.
    #[error("{0}")]
    Invalid(String),
    /// The signed item is malformed or badly signed.
    #[error(transparent)]
    Item(#[from] ItemError),
}

/// The module tags for `wasm` with `overrides` applied: each override replaces the default of
/// the same name (or is appended). Defaults: `Data-Protocol: ao`, `Variant: ao.TN.1`,
/// `Type: Module`, `Module-Format` (the 64-bit emscripten format when the module's memory is
/// 64-bit, else the 32-bit one), `Input-Encoding`/`Output-Encoding: JSON-1`,
/// `Memory-Limit: 1-gb`, `Compute-Limit: 9000000000000`, `Content-Type: application/wasm`.
pub fn module_tags(wasm: &[u8], overrides: &[Tag]) -> Tags {
    let format = if uses_memory64(wasm) {
        "wasm64-unknown-emscripten-draft_2024_02_15"
    } else {
        "wasm32-unknown-emscripten4"
    };
    let mut tags: Tags = [
        ("Data-Protocol", "ao"),
        ("Variant", "ao.TN.1"),
        ("Type", "Module"),
        ("Module-Format", format),
        ("Input-Encoding", "JSON-1"),
        ("Output-Encoding", "JSON-1"),
        ("Memory-Limit", "1-gb"),
        ("Compute-Limit", "9000000000000"),
        ("Content-Type", "application/wasm"),
    ]
    .iter()
    .map(|(n, v)| Tag::new(*n, *v))
    .collect();
    for o in overrides {
        tags.set(&o.name, &o.value);
    }
    tags
}

/// Whether the module's first memory (defined or imported) is 64-bit; `false` when unreadable.
fn uses_memory64(wasm: &[u8]) -> bool {
    use wasmparser::{Parser, Payload, TypeRef};
    for payload in Parser::new(0).parse_all(wasm) {
        match payload {
            Ok(Payload::MemorySection(reader)) => {
                return reader
                    .into_iter()
                    .flatten()
                    .next()
                    .is_some_and(|m| m.memory64);
            }
            Ok(Payload::ImportSection(reader)) => {
                for import in reader.into_imports().flatten() {
                    if let TypeRef::Memory(m) = import.ty {
                        return m.memory64;
                    }
                }
            }
            Ok(Payload::CodeSectionStart { .. }) | Err(_) => return false,
            Ok(_) => {}
        }
    }
    false
}

/// Sign a module item for `wasm` with the node wallet.
pub fn build(wallet: &Wallet, wasm: Vec<u8>, overrides: &[Tag]) -> Result<DataItem, ModuleError> {
    check_wasm(&wasm)?;
    let tags = module_tags(&wasm, overrides);
    let item = DataItem::signed(wallet, None, None, tags, wasm)?;
    check_tags(&item)?;
    Ok(item)
}

/// Check a publisher-signed module item: signature, tags, WASM data.
pub fn check_signed(item: &DataItem) -> Result<(), ModuleError> {
    item.verify()?;
    check_wasm(&item.data)?;
    check_tags(item)
}

/// Check a module that came as tags and bytes (from a gateway): the same tags and WASM header a
/// module item must have.
pub fn check_parts(tags: &Tags, data: &[u8]) -> Result<(), ModuleError> {
    check_module_tags(tags)?;
    check_wasm(data)
}

fn check_wasm(bytes: &[u8]) -> Result<(), ModuleError> {
    if bytes.len() < WASM_HEADER.len() || bytes[..8] != WASM_HEADER {
        return Err(ModuleError::Invalid(
            "module data is not a WebAssembly binary (no `\\0asm` version 1 header)".into(),
        ));
    }
    Ok(())
}

fn check_tags(item: &DataItem) -> Result<(), ModuleError> {
    check_module_tags(&item.tags)
}

fn check_module_tags(tags: &Tags) -> Result<(), ModuleError> {
    let need = |name: &str, value: Option<&str>| -> Result<(), ModuleError> {
        match (tags.get(name), value) {
            (None, _) => Err(ModuleError::Invalid(format!(
                "module tag `{name}` is missing"
            ))),
            (Some(v), Some(want)) if v != want => Err(ModuleError::Invalid(format!(
                "module tag `{name}` is `{v}`, expected `{want}`"
            ))),
            _ => Ok(()),
        }
    };
    need("Data-Protocol", Some("ao"))?;
    need("Type", Some("Module"))?;
    need("Module-Format", None)?;
    need("Input-Encoding", None)?;
    need("Output-Encoding", None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wasm(memory64: bool) -> Vec<u8> {
        let text = if memory64 {
            "(module (memory i64 1))"
        } else {
            "(module (memory 1))"
        };
        wat::parse_str(text).unwrap()
    }

    #[test]
    fn defaults_overrides_and_formats() {
        let tags = module_tags(
            &wasm(true),
            &[Tag::new("Memory-Limit", "4-gb"), Tag::new("Name", "x")],
        );
        assert_eq!(
            tags.get("Module-Format"),
            Some("wasm64-unknown-emscripten-draft_2024_02_15")
        );
        assert_eq!(tags.get("Memory-Limit"), Some("4-gb"));
        assert_eq!(tags.get("Name"), Some("x"));
        assert_eq!(tags.get_all("Memory-Limit").count(), 1);
        let tags = module_tags(&wasm(false), &[]);
        assert!(tags.iter().any(|t| t.value == "wasm32-unknown-emscripten4"));
    }

    #[test]
    fn checks() {
        assert!(check_wasm(b"not wasm at all").is_err());
        assert!(check_wasm(&wasm(false)).is_ok());
    }
}
