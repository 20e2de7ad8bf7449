//! A module ready to run: checked against the AO process ABI, rewritten for snapshots,
//! compiled and linked once, shared by every process that runs it.

use std::sync::Arc;

use super::engine::WasmEngine;
use super::error::WasmError;
use super::host::{self, HostState};
use super::inspect::ModuleInfo;

/// A compiled, linked module.
pub struct LoadedModule {
    /// blake3 of the original bytes (the cache key).
    pub hash: blake3::Hash,
    /// What inspection found.
    pub info: ModuleInfo,
    /// Export names of the mutable globals a snapshot saves, in index order.
    pub globals: Vec<String>,
    pub(crate) engine: Arc<WasmEngine>,
    pub(crate) module: wasmtime::Module,
    pub(crate) pre: wasmtime::InstancePre<HostState>,
}

impl std::fmt::Debug for LoadedModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModule")
            .field("hash", &self.hash.to_hex().as_str())
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl LoadedModule {
    /// Link a compiled module (the rewritten bytes' compilation) against the host.
    pub(crate) fn link(
        engine: Arc<WasmEngine>,
        hash: blake3::Hash,
        info: ModuleInfo,
        globals: Vec<String>,
        module: wasmtime::Module,
    ) -> Result<LoadedModule, WasmError> {
        let mut linker = wasmtime::Linker::new(engine.engine());
        host::link(engine.engine(), &mut linker, &module)?;
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| WasmError::Instantiate(format!("{e:#}")))?;
        Ok(LoadedModule {
            hash,
            info,
            globals,
            engine,
            module,
            pre,
        })
    }

    /// The engine the module was compiled for.
    pub fn engine(&self) -> &Arc<WasmEngine> {
        &self.engine
    }

    /// The wasmtime module.
    pub fn wasmtime_module(&self) -> &wasmtime::Module {
        &self.module
    }
}
