//! The translation of a whole module: find the sections, collect the types the translator
//! needs, rebuild the type and code sections, copy everything else byte for byte.

use std::borrow::Cow;

use wasm_encoder::Encode;
use wasmparser::{CodeSectionReader, Operator, Validator, WasmFeatures};

use super::emit;
use super::error::Result;
use super::sections::{CODE_SECTION, Section, TYPE_SECTION, sections};
use super::types::{ModuleTypes, NewTypes, encode_val_types};

/// The features used to validate and parse the input: everything wasmparser knows, including
/// the legacy exception-handling opcodes (the translation must not reject what wasmtime could
/// otherwise load; wasmtime applies its own feature set to the output).
fn input_features() -> WasmFeatures {
    WasmFeatures::all()
}

fn is_legacy(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::Try { .. }
            | Operator::Catch { .. }
            | Operator::CatchAll
            | Operator::Delegate { .. }
            | Operator::Rethrow { .. }
    )
}

/// Whether a function body contains any legacy exception-handling opcode.
fn body_uses_legacy_eh(body: &wasmparser::FunctionBody<'_>) -> Result<bool> {
    let mut ops = body.get_operators_reader()?;
    while !ops.eof() {
        if is_legacy(&ops.read()?) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `wasm` contains any legacy exception-handling opcode (`try`, `catch`, `catch_all`,
/// `delegate`, `rethrow`).
///
/// This only parses the code section; it does not validate the module. An input that cannot be
/// parsed gives [`LegacyEhError::Invalid`](super::LegacyEhError::Invalid).
pub fn uses_legacy_eh(wasm: &[u8]) -> Result<bool> {
    for s in sections(wasm)? {
        if s.id == CODE_SECTION {
            for body in CodeSectionReader::new(s.reader())? {
                if body_uses_legacy_eh(&body?)? {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

/// Translates the legacy exception-handling opcodes of a core module into the standardized form
/// (`try_table`, `throw_ref`, `exnref` locals).
///
/// The input is validated first (with the legacy opcodes enabled): an invalid module gives
/// [`LegacyEhError::Invalid`]. When the module uses no legacy opcode, the input is returned as
/// [`Cow::Borrowed`]. Otherwise the result is a new module in which only the functions using
/// legacy opcodes are rewritten (they may gain `exnref` locals), the type section may gain
/// function types (used as block types, appended after the existing ones), and every other
/// section, every index (function, type, tag, local) and every other function body is kept as
/// is. A construct that cannot be translated gives [`LegacyEhError::Untranslatable`] naming the
/// function and byte offset; nothing is ever emitted with a different meaning.
///
/// [`LegacyEhError::Invalid`]: super::LegacyEhError::Invalid
/// [`LegacyEhError::Untranslatable`]: super::LegacyEhError::Untranslatable
pub fn translate(wasm: &[u8]) -> Result<Cow<'_, [u8]>> {
    if !uses_legacy_eh(wasm)? {
        return Ok(Cow::Borrowed(wasm));
    }
    Validator::new_with_features(input_features()).validate_all(wasm)?;
    let sections = sections(wasm)?;
    let info = ModuleTypes::collect(&sections)?;
    let mut new_types = NewTypes::new(info.types.len() as u32);

    let mut code = None;
    for s in &sections {
        if s.id == CODE_SECTION {
            code = Some(translate_code(s, &info, &mut new_types)?);
        }
    }
    let Some(code) = code else {
        return Ok(Cow::Borrowed(wasm));
    };

    let mut out = Vec::with_capacity(wasm.len() + wasm.len() / 8);
    out.extend_from_slice(&wasm[..8]);
    for s in &sections {
        match s.id {
            TYPE_SECTION if !new_types.sigs().is_empty() => {
                append_types(s, &new_types, &mut out)?;
            }
            CODE_SECTION => {
                out.push(CODE_SECTION);
                code.encode(&mut out);
            }
            _ => out.extend_from_slice(&wasm[s.whole.clone()]),
        }
    }
    Ok(Cow::Owned(out))
}

/// Rebuilds the code section, translating the bodies that use legacy opcodes.
fn translate_code(
    s: &Section<'_>,
    info: &ModuleTypes,
    new_types: &mut NewTypes,
) -> Result<wasm_encoder::CodeSection> {
    let mut code = wasm_encoder::CodeSection::new();
    for (i, body) in CodeSectionReader::new(s.reader())?.into_iter().enumerate() {
        let body = body?;
        let func_index = info.imported_funcs + i as u32;
        if body_uses_legacy_eh(&body)? {
            let f = emit::translate_function(func_index, &body, info, new_types)?;
            code.function(&f);
        } else {
            code.raw(body.as_bytes());
        }
    }
    Ok(code)
}

/// Writes the type section with the new function types appended after the existing entries.
fn append_types(s: &Section<'_>, new_types: &NewTypes, out: &mut Vec<u8>) -> Result<()> {
    let mut reader = s.reader();
    let count = reader.read_var_u32()?;
    let existing = reader.read_bytes(reader.bytes_remaining())?;
    let mut contents = Vec::with_capacity(existing.len() + 16 * new_types.sigs().len());
    (count + new_types.sigs().len() as u32).encode(&mut contents);
    contents.extend_from_slice(existing);
    for sig in new_types.sigs() {
        contents.push(0x60);
        encode_val_types(&sig.params, &mut contents)?;
        encode_val_types(&sig.results, &mut contents)?;
    }
    out.push(TYPE_SECTION);
    contents.len().encode(out);
    out.extend_from_slice(&contents);
    Ok(())
}
