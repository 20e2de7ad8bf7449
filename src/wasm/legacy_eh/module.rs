//! Module-level work: find the sections, collect the types the translator needs, rebuild the
//! type and code sections, copy everything else byte for byte.

use std::borrow::Cow;
use std::collections::HashMap;

use wasm_encoder::Encode;
use wasmparser::{
    BinaryReader, CodeSectionReader, CompositeInnerType, FunctionSectionReader,
    ImportSectionReader, Operator, TagSectionReader, TypeRef, TypeSectionReader, ValType,
    Validator, WasmFeatures,
};

use super::{LegacyEhError, Result, emit};

const TYPE_SECTION: u8 = 1;
const IMPORT_SECTION: u8 = 2;
const FUNCTION_SECTION: u8 = 3;
const TAG_SECTION: u8 = 13;
const CODE_SECTION: u8 = 10;

/// One section of the input: its id, where it starts (header included) and its contents.
struct Section<'a> {
    id: u8,
    /// Byte range of the whole section (id, size and contents) in the input.
    whole: std::ops::Range<usize>,
    contents: &'a [u8],
    /// Offset of `contents` in the input, for error messages.
    contents_offset: usize,
}

impl<'a> Section<'a> {
    fn reader(&self) -> BinaryReader<'a> {
        BinaryReader::new(self.contents, self.contents_offset)
    }
}

/// Splits a core module into its sections without interpreting them.
fn sections(wasm: &[u8]) -> Result<Vec<Section<'_>>> {
    const HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    if wasm.len() < HEADER.len() || wasm[..HEADER.len()] != HEADER {
        return Err(LegacyEhError::Invalid {
            offset: 0,
            message: "not a core WebAssembly module (bad magic number or version)".into(),
        });
    }
    let mut reader = BinaryReader::new(&wasm[HEADER.len()..], HEADER.len());
    let mut out = Vec::new();
    while !reader.eof() {
        let start = reader.original_position();
        let id = reader.read_u8()?;
        let size = reader.read_var_u32()? as usize;
        let contents_offset = reader.original_position();
        let contents = reader.read_bytes(size)?;
        out.push(Section {
            id,
            whole: start..contents_offset + size,
            contents,
            contents_offset,
        });
    }
    Ok(out)
}

/// A function signature, also used as the type of a multi-value block.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Sig {
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
}

/// What the function translator needs to know about the module.
pub(super) struct ModuleInfo {
    /// Signature of every type index that is a function type (`None` for GC types).
    pub types: Vec<Option<Sig>>,
    /// Type index of every function, imported ones first.
    pub func_types: Vec<u32>,
    /// Type index of every tag, imported ones first.
    pub tag_types: Vec<u32>,
    /// Number of imported functions (the first defined function has this index).
    pub imported_funcs: u32,
}

impl ModuleInfo {
    fn collect(sections: &[Section<'_>]) -> Result<Self> {
        let mut info = ModuleInfo {
            types: Vec::new(),
            func_types: Vec::new(),
            tag_types: Vec::new(),
            imported_funcs: 0,
        };
        for s in sections {
            match s.id {
                TYPE_SECTION => {
                    for group in TypeSectionReader::new(s.reader())? {
                        for sub in group?.into_types() {
                            info.types.push(match sub.composite_type.inner {
                                CompositeInnerType::Func(f) => Some(Sig {
                                    params: f.params().to_vec(),
                                    results: f.results().to_vec(),
                                }),
                                _ => None,
                            });
                        }
                    }
                }
                IMPORT_SECTION => {
                    for import in ImportSectionReader::new(s.reader())?.into_imports() {
                        match import?.ty {
                            TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                                info.func_types.push(t);
                                info.imported_funcs += 1;
                            }
                            TypeRef::Tag(t) => info.tag_types.push(t.func_type_idx),
                            _ => {}
                        }
                    }
                }
                FUNCTION_SECTION => {
                    for t in FunctionSectionReader::new(s.reader())? {
                        info.func_types.push(t?);
                    }
                }
                TAG_SECTION => {
                    for t in TagSectionReader::new(s.reader())? {
                        info.tag_types.push(t?.func_type_idx);
                    }
                }
                _ => {}
            }
        }
        Ok(info)
    }

    /// The signature of a function type index.
    pub fn sig(&self, type_index: u32) -> Option<&Sig> {
        self.types.get(type_index as usize).and_then(Option::as_ref)
    }
}

/// Function types the translation needs as block types, appended after the module's own.
pub(super) struct NewTypes {
    base: u32,
    sigs: Vec<Sig>,
    index: HashMap<Sig, u32>,
}

impl NewTypes {
    fn new(base: u32) -> Self {
        NewTypes {
            base,
            sigs: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// The type index of `sig`, adding it if it is not there yet.
    pub fn intern(&mut self, sig: Sig) -> u32 {
        if let Some(&i) = self.index.get(&sig) {
            return i;
        }
        let i = self.base + self.sigs.len() as u32;
        self.sigs.push(sig.clone());
        self.index.insert(sig, i);
        i
    }
}

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
/// parsed gives [`LegacyEhError::Invalid`].
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
pub fn translate(wasm: &[u8]) -> Result<Cow<'_, [u8]>> {
    if !uses_legacy_eh(wasm)? {
        return Ok(Cow::Borrowed(wasm));
    }
    Validator::new_with_features(input_features()).validate_all(wasm)?;
    let sections = sections(wasm)?;
    let info = ModuleInfo::collect(&sections)?;
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
            TYPE_SECTION if !new_types.sigs.is_empty() => {
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
    info: &ModuleInfo,
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
    let mut contents = Vec::with_capacity(existing.len() + 16 * new_types.sigs.len());
    (count + new_types.sigs.len() as u32).encode(&mut contents);
    contents.extend_from_slice(existing);
    for sig in &new_types.sigs {
        contents.push(0x60);
        emit::encode_val_types(&sig.params, &mut contents)?;
        emit::encode_val_types(&sig.results, &mut contents)?;
    }
    out.push(TYPE_SECTION);
    contents.len().encode(out);
    out.extend_from_slice(&contents);
    Ok(())
}
