//! A module's bytes checked against the AO process ABI before anything is compiled: its
//! imports, its memory, its exports, and which string-passing ABI it speaks.

use wasmparser::{Parser, Payload, TypeRef, ValType, Validator, WasmFeatures};

use super::error::WasmError;
use super::host;

/// How message and environment strings are placed in the module's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abi {
    /// On the emscripten stack (`_emscripten_stack_alloc`), restored after the call: what the
    /// reference loader's `ccall` does for emscripten builds. Nothing is left on the heap.
    Stack,
    /// Through the exported `malloc` (and `free` afterwards when exported), as AO-Core's
    /// JSON interface does.
    Malloc {
        /// Whether `free` is exported.
        free: bool,
    },
}

/// What was found in a module's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    /// Imports as `module.name`.
    pub imports: Vec<String>,
    /// Whether `__wasm_call_ctors` must run after instantiation.
    pub has_ctors: bool,
    /// The string-passing ABI.
    pub abi: Abi,
    /// Whether the module uses the legacy exception-handling opcodes.
    pub legacy_eh: bool,
}

/// Check `bytes` against the AO process ABI without compiling: a wasm64 module that exports
/// `memory` and `handle(i64, i64) -> i64`, imports only what this CU provides, and exports either
/// the emscripten stack functions or `malloc`.
pub fn inspect(bytes: &[u8]) -> Result<ModuleInfo, WasmError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(WasmError::NotWasm(
            "missing the `\\0asm` magic number".into(),
        ));
    }
    if bytes[4..8] != [1, 0, 0, 0] {
        return Err(WasmError::NotWasm(format!(
            "unsupported binary version {:?} (components are not AO modules)",
            &bytes[4..8]
        )));
    }
    let features = WasmFeatures::default()
        | WasmFeatures::MEMORY64
        | WasmFeatures::EXCEPTIONS
        | WasmFeatures::LEGACY_EXCEPTIONS;
    Validator::new_with_features(features)
        .validate_all(bytes)
        .map_err(|e| WasmError::Invalid(e.to_string()))?;
    let mut legacy_eh = false;
    let mut types: Vec<(Vec<ValType>, Vec<ValType>)> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new();
    let mut imports = Vec::new();
    let mut memories: Vec<bool> = Vec::new();
    let mut exports: Vec<(String, wasmparser::ExternalKind, u32)> = Vec::new();
    let bad = |e: wasmparser::BinaryReaderError| WasmError::Invalid(e.to_string());
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(bad)? {
            Payload::TypeSection(r) => {
                for ty in r.into_iter_err_on_gc_types() {
                    let ty = ty.map_err(bad)?;
                    types.push((ty.params().to_vec(), ty.results().to_vec()));
                }
            }
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    let import = import.map_err(bad)?;
                    match import.ty {
                        TypeRef::Func(t) => func_types.push(t),
                        TypeRef::Memory(m) => memories.push(m.memory64),
                        _ => {}
                    }
                    imports.push((import.module.to_string(), import.name.to_string()));
                }
            }
            Payload::FunctionSection(r) => {
                for t in r {
                    func_types.push(t.map_err(bad)?);
                }
            }
            Payload::MemorySection(r) => {
                for m in r {
                    memories.push(m.map_err(bad)?.memory64);
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e.map_err(bad)?;
                    exports.push((e.name.to_string(), e.kind, e.index));
                }
            }
            Payload::CodeSectionEntry(body) if !legacy_eh => {
                legacy_eh = uses_legacy_eh(&body)?;
            }
            _ => {}
        }
    }
    for (module, name) in &imports {
        if !host::provides(module, name) {
            return Err(WasmError::UnknownImport {
                module: module.clone(),
                name: name.clone(),
            });
        }
    }
    match memories.first() {
        None => return Err(WasmError::Memory("the module has no linear memory".into())),
        Some(false) => {
            return Err(WasmError::Memory(
                "32-bit memory (wasm32); AO's wasm64 formats need a 64-bit memory (memory64)"
                    .into(),
            ));
        }
        Some(true) => {}
    }
    let func_sig = |name: &str| {
        exports
            .iter()
            .find(|(n, k, _)| n == name && *k == wasmparser::ExternalKind::Func)
            .and_then(|(_, _, index)| func_types.get(*index as usize))
            .and_then(|t| types.get(*t as usize))
    };
    let has = |name: &str, params: &[ValType], results: &[ValType]| {
        func_sig(name).is_some_and(|(p, r)| p == params && r == results)
    };
    use ValType::{I32, I64};
    if !exports
        .iter()
        .any(|(n, k, _)| n == "memory" && *k == wasmparser::ExternalKind::Memory)
    {
        return Err(WasmError::MissingExport {
            name: "memory".into(),
            expected: "the linear memory".into(),
        });
    }
    if !has("handle", &[I64, I64], &[I64]) {
        return Err(WasmError::MissingExport {
            name: "handle".into(),
            expected: match func_sig("handle") {
                Some(_) => "a function (i64, i64) -> i64; it has another type".into(),
                None => "a function (i64, i64) -> i64".into(),
            },
        });
    }
    let stack = has("_emscripten_stack_alloc", &[I64], &[I64])
        && has("_emscripten_stack_restore", &[I64], &[])
        && has("emscripten_stack_get_current", &[], &[I64])
        && has("emscripten_stack_get_end", &[], &[I64]);
    let abi = if stack {
        Abi::Stack
    } else if has("malloc", &[I64], &[I64]) {
        Abi::Malloc {
            free: has("free", &[I64], &[]),
        }
    } else {
        return Err(WasmError::MissingExport {
            name: "malloc".into(),
            expected: "a function (i64) -> i64 to place the message in memory".into(),
        });
    };
    if imports
        .iter()
        .any(|(m, n)| m == "env" && n.starts_with("invoke_"))
        && !has("setThrew", &[I64, I32], &[])
    {
        return Err(WasmError::MissingExport {
            name: "setThrew".into(),
            expected: "a function (i64, i32), needed by its invoke_* imports".into(),
        });
    }
    Ok(ModuleInfo {
        imports: imports.iter().map(|(m, n)| format!("{m}.{n}")).collect(),
        has_ctors: has("__wasm_call_ctors", &[], &[]),
        abi,
        legacy_eh,
    })
}

/// Does a function body use `try`, `catch`, `catch_all`, `rethrow` or `delegate`?
fn uses_legacy_eh(body: &wasmparser::FunctionBody<'_>) -> Result<bool, WasmError> {
    let mut reader = body
        .get_operators_reader()
        .map_err(|e| WasmError::Invalid(e.to_string()))?;
    while !reader.eof() {
        use wasmparser::Operator as O;
        match reader
            .read()
            .map_err(|e| WasmError::Invalid(e.to_string()))?
        {
            O::Try { .. }
            | O::Catch { .. }
            | O::CatchAll
            | O::Rethrow { .. }
            | O::Delegate { .. } => {
                return Ok(true);
            }
            _ => {}
        }
    }
    Ok(false)
}
