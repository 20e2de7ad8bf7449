//! The module cache: each module is inspected, rewritten and compiled once per node, keyed by the
//! blake3 of its bytes, and shared (`Arc`) by all processes. Compiled artefacts can be kept in a
//! directory so that a restart does not compile again.
//!
//! An artefact file is `AOCUMOD1` ‖ blake3(module bytes) ‖ blake3(payload) ‖ payload, where the
//! payload is wasmtime's serialization. A file whose header, key or payload hash does not match,
//! or that wasmtime rejects (other version, other engine settings), is reported and replaced by
//! a fresh compilation; it is never loaded.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::engine::WasmEngine;
use super::error::WasmError;
use super::inspect;
use super::loaded::LoadedModule;
use super::rewrite;
use crate::hash::{Algorithm, shared};

const MAGIC: &[u8; 8] = b"AOCUMOD1";
const HEADER: usize = 8 + 32 + 32;

/// Compiled modules by blake3 of their bytes.
pub struct ModuleCache {
    engine: Arc<WasmEngine>,
    dir: Option<PathBuf>,
    modules: Mutex<HashMap<[u8; 32], Arc<LoadedModule>>>,
}

impl std::fmt::Debug for ModuleCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl ModuleCache {
    /// A cache in memory only.
    pub fn new(engine: Arc<WasmEngine>) -> ModuleCache {
        ModuleCache {
            engine,
            dir: None,
            modules: Mutex::new(HashMap::new()),
        }
    }

    /// A cache that also keeps compiled artefacts under `dir` (created if missing).
    pub fn with_dir(engine: Arc<WasmEngine>, dir: &Path) -> Result<ModuleCache, WasmError> {
        std::fs::create_dir_all(dir).map_err(|source| WasmError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(ModuleCache {
            engine,
            dir: Some(dir.to_path_buf()),
            modules: Mutex::new(HashMap::new()),
        })
    }

    /// The engine modules are compiled for.
    pub fn engine(&self) -> &Arc<WasmEngine> {
        &self.engine
    }

    /// The module with these bytes: from memory, else from the artefact directory, else compiled.
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<LoadedModule>, WasmError> {
        let hash = blake3::Hash::from(shared().digest(Algorithm::Blake3, bytes));
        if let Some(found) = self.lock().get(hash.as_bytes()) {
            return Ok(found.clone());
        }
        let loaded = Arc::new(self.build(hash, bytes)?);
        // Two threads may compile the same module at once; the first one stored wins.
        Ok(self
            .lock()
            .entry(*hash.as_bytes())
            .or_insert(loaded)
            .clone())
    }

    /// Number of modules held in memory.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no module is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Arc<LoadedModule>>> {
        // A panic while holding the lock cannot leave the map half-updated (single insert).
        self.modules.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn build(&self, hash: blake3::Hash, bytes: &[u8]) -> Result<LoadedModule, WasmError> {
        let info = inspect::inspect(bytes)?;
        let translated = if info.legacy_eh {
            translate_legacy_eh(bytes)?
        } else {
            Cow::Borrowed(bytes)
        };
        let (rewritten, globals) = rewrite::export_mutable_globals(&translated)?;
        let compiled = match &self.dir {
            Some(dir) => self.compile_with_artefact(dir, hash, &rewritten)?,
            None => self.compile(&rewritten)?,
        };
        LoadedModule::link(self.engine.clone(), hash, info, globals, compiled)
    }

    fn compile(&self, bytes: &[u8]) -> Result<wasmtime::Module, WasmError> {
        wasmtime::Module::new(self.engine.engine(), bytes)
            .map_err(|e| WasmError::Compile(format!("{e:#}")))
    }

    fn compile_with_artefact(
        &self,
        dir: &Path,
        hash: blake3::Hash,
        bytes: &[u8],
    ) -> Result<wasmtime::Module, WasmError> {
        let path = artefact_path(dir, &hash);
        if path.exists() {
            match self.read_artefact(&path, &hash) {
                Ok(module) => return Ok(module),
                Err(e) => tracing::warn!("{e}; compiling again"),
            }
        }
        let module = self.compile(bytes)?;
        let payload = module
            .serialize()
            .map_err(|e| WasmError::Compile(format!("serializing: {e:#}")))?;
        write_artefact(&path, &hash, &payload)?;
        Ok(module)
    }

    /// Read and check an artefact file.
    #[allow(unsafe_code)] // Deserializing compiled code: argued at the call below.
    pub fn read_artefact(
        &self,
        path: &Path,
        hash: &blake3::Hash,
    ) -> Result<wasmtime::Module, WasmError> {
        let fail = |reason: String| WasmError::CacheFile {
            path: path.to_path_buf(),
            reason,
        };
        let data = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        if data.len() < HEADER || &data[..8] != MAGIC {
            return Err(fail("not an aocu module artefact (bad header)".into()));
        }
        if &data[8..40] != hash.as_bytes() {
            return Err(fail("artefact belongs to another module".into()));
        }
        let payload = &data[HEADER..];
        if shared().digest(Algorithm::Blake3, payload)[..] != data[40..72] {
            return Err(fail("artefact is corrupt (payload hash mismatch)".into()));
        }
        // SAFETY: `Module::deserialize` trusts its input to be wasmtime's own serialization.
        // The payload is accepted only when its blake3 matches the header written next to it by
        // `write_artefact` in this node's own state directory (which has the same trust as the
        // binary), so it is exactly bytes produced by `Module::serialize`; wasmtime itself then
        // rejects artefacts of another version or of incompatible engine settings.
        unsafe { wasmtime::Module::deserialize(self.engine.engine(), payload) }
            .map_err(|e| fail(format!("wasmtime rejected it: {e:#}")))
    }
}

/// Where the artefact of a module lives.
pub fn artefact_path(dir: &Path, hash: &blake3::Hash) -> PathBuf {
    dir.join(format!("{}.cwasm", hash.to_hex()))
}

fn write_artefact(path: &Path, hash: &blake3::Hash, payload: &[u8]) -> Result<(), WasmError> {
    let io = |source| WasmError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut data = Vec::with_capacity(HEADER + payload.len());
    data.extend_from_slice(MAGIC);
    data.extend_from_slice(hash.as_bytes());
    data.extend_from_slice(&shared().digest(Algorithm::Blake3, payload));
    data.extend_from_slice(payload);
    let tmp = path.with_extension("cwasm.tmp");
    std::fs::write(&tmp, &data).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Translate legacy exception handling to the standard form (`try_table`/`throw_ref`) before
/// compiling; the compiled (and cached) module is the translated one.
fn translate_legacy_eh(bytes: &[u8]) -> Result<Cow<'_, [u8]>, WasmError> {
    super::legacy_eh::translate(bytes)
        .map_err(|e| WasmError::Unsupported(format!("legacy exception handling: {e}")))
}
