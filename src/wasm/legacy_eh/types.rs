//! The types the translation works with: the module's function and tag types, the function
//! types it adds as block types, and their encoding.

use std::collections::HashMap;

use wasm_encoder::Encode;
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasmparser::{
    CompositeInnerType, FunctionSectionReader, ImportSectionReader, TagSectionReader, TypeRef,
    TypeSectionReader, ValType,
};

use super::error::{LegacyEhError, Result};
use super::sections::{FUNCTION_SECTION, IMPORT_SECTION, Section, TAG_SECTION, TYPE_SECTION};

/// A function signature, also used as the type of a multi-value block.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Sig {
    /// Parameter types.
    pub params: Vec<ValType>,
    /// Result types.
    pub results: Vec<ValType>,
}

/// What the function translator needs to know about the module.
pub(super) struct ModuleTypes {
    /// Signature of every type index that is a function type (`None` for GC types).
    pub types: Vec<Option<Sig>>,
    /// Type index of every function, imported ones first.
    pub func_types: Vec<u32>,
    /// Type index of every tag, imported ones first.
    pub tag_types: Vec<u32>,
    /// Number of imported functions (the first defined function has this index).
    pub imported_funcs: u32,
}

impl ModuleTypes {
    /// Collects the types from the type, import, function and tag sections.
    pub(super) fn collect(sections: &[Section<'_>]) -> Result<Self> {
        let mut info = ModuleTypes {
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
    /// No types yet; the first added one gets index `base`.
    pub(super) fn new(base: u32) -> Self {
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

    /// The added signatures, in type index order.
    pub fn sigs(&self) -> &[Sig] {
        &self.sigs
    }
}

/// Converts a value type to wasm-encoder's.
pub(super) fn val_type(ty: ValType) -> Result<wasm_encoder::ValType> {
    RoundtripReencoder
        .val_type(ty)
        .map_err(|e| LegacyEhError::Invalid {
            offset: 0,
            message: format!("value type {ty:?}: {e}"),
        })
}

/// Encodes a vector of value types (length first), as in a function type.
pub(super) fn encode_val_types(tys: &[ValType], sink: &mut Vec<u8>) -> Result<()> {
    let converted = tys
        .iter()
        .map(|&t| val_type(t))
        .collect::<Result<Vec<_>>>()?;
    converted.as_slice().encode(sink);
    Ok(())
}
