//! Load-time rewrite that exports every mutable global a module defines, under
//! `__aocu_global_<index>`, so that a process snapshot can save and restore them (emscripten's
//! stack pointer and Asyncify's state are internal globals). Nothing else changes: every other
//! section is copied byte for byte.

use std::borrow::Cow;
use std::collections::HashMap;

use wasm_encoder::{ExportKind, ExportSection, RawSection};
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};

use super::error::WasmError;

/// Prefix of the names under which mutable globals are exported.
pub const GLOBAL_EXPORT_PREFIX: &str = "__aocu_global_";

const EXPORT_SECTION: u8 = 7;

/// The export name of every mutable global defined by the module, in index order, and the module
/// bytes with those exports added (borrowed when nothing had to be added).
pub fn export_mutable_globals(bytes: &[u8]) -> Result<(Cow<'_, [u8]>, Vec<String>), WasmError> {
    let invalid = |e: wasmparser::BinaryReaderError| WasmError::Invalid(e.to_string());
    let mut sections: Vec<(u8, std::ops::Range<usize>)> = Vec::new();
    let mut imported_globals = 0u32;
    let mut mutable: Vec<u32> = Vec::new();
    let mut exports: Vec<(String, ExternalKind, u32)> = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(invalid)?;
        match &payload {
            Payload::ImportSection(reader) => {
                for import in reader.clone().into_imports() {
                    if matches!(import.map_err(invalid)?.ty, TypeRef::Global(_)) {
                        imported_globals += 1;
                    }
                }
            }
            Payload::GlobalSection(reader) => {
                for (i, global) in reader.clone().into_iter().enumerate() {
                    if global.map_err(invalid)?.ty.mutable {
                        mutable.push(imported_globals + i as u32);
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader.clone() {
                    let export = export.map_err(invalid)?;
                    exports.push((export.name.to_string(), export.kind, export.index));
                }
            }
            _ => {}
        }
        if let Some(section) = payload.as_section() {
            sections.push(section);
        }
    }
    let already: HashMap<u32, &str> = exports
        .iter()
        .filter(|(_, kind, _)| *kind == ExternalKind::Global)
        .map(|(name, _, index)| (*index, name.as_str()))
        .collect();
    let names: Vec<String> = mutable
        .iter()
        .map(|i| {
            already
                .get(i)
                .map_or_else(|| format!("{GLOBAL_EXPORT_PREFIX}{i}"), |n| n.to_string())
        })
        .collect();
    let missing: Vec<u32> = mutable
        .iter()
        .copied()
        .filter(|i| !already.contains_key(i))
        .collect();
    if missing.is_empty() {
        return Ok((Cow::Borrowed(bytes), names));
    }
    let mut section = ExportSection::new();
    for (name, kind, index) in &exports {
        section.export(name, export_kind(*kind)?, *index);
    }
    for i in &missing {
        section.export(
            &format!("{GLOBAL_EXPORT_PREFIX}{i}"),
            ExportKind::Global,
            *i,
        );
    }
    let mut module = wasm_encoder::Module::new();
    let mut placed = false;
    for (id, range) in &sections {
        // The export section sits after the global section and before start, element,
        // data-count, code and data sections (ids 8-12).
        if !placed && (*id == EXPORT_SECTION || (8..=12).contains(id)) {
            module.section(&section);
            placed = true;
        }
        if *id != EXPORT_SECTION {
            module.section(&RawSection {
                id: *id,
                data: &bytes[range.clone()],
            });
        }
    }
    if !placed {
        module.section(&section);
    }
    Ok((Cow::Owned(module.finish()), names))
}

fn export_kind(kind: ExternalKind) -> Result<ExportKind, WasmError> {
    Ok(match kind {
        ExternalKind::Func => ExportKind::Func,
        ExternalKind::Table => ExportKind::Table,
        ExternalKind::Memory => ExportKind::Memory,
        ExternalKind::Global => ExportKind::Global,
        ExternalKind::Tag => ExportKind::Tag,
        other => {
            return Err(WasmError::Unsupported(format!("export kind {other:?}")));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutable_globals_get_exported_and_the_module_stays_valid() {
        let wasm = wat::parse_str(
            r#"(module
                (global $sp (mut i64) (i64.const 1024))
                (global $k i32 (i32.const 7))
                (global $named (mut i32) (i32.const 3))
                (export "named" (global $named))
                (func (export "f") (result i64) global.get $sp)
                (data "x"))"#,
        )
        .unwrap();
        let (out, names) = export_mutable_globals(&wasm).unwrap();
        assert_eq!(
            names,
            vec!["__aocu_global_0".to_string(), "named".to_string()]
        );
        wasmparser::validate(&out).unwrap();
        let exported: Vec<String> = Parser::new(0)
            .parse_all(&out)
            .filter_map(|p| match p.unwrap() {
                Payload::ExportSection(r) => Some(
                    r.into_iter()
                        .map(|e| e.unwrap().name.to_string())
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(exported, ["named", "f", "__aocu_global_0"]);
    }

    #[test]
    fn nothing_to_add_borrows() {
        let wasm = wat::parse_str("(module (func (export \"f\")))").unwrap();
        let (out, names) = export_mutable_globals(&wasm).unwrap();
        assert!(matches!(out, Cow::Borrowed(_)) && names.is_empty());
    }
}
