//! Errors of the `wasm` module: loading a module, and failures of the host around an evaluation.
//!
//! A failure *inside* an evaluation (a trap, out of fuel, memory or time limit) is not an error
//! of this kind: it becomes the `Error` of that message's result (see `instance::Failure`).

use std::path::PathBuf;

/// Why a module could not be loaded, or a process could not be created or restored.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    /// The bytes do not start with the WebAssembly magic number and version.
    #[error("not a WebAssembly module: {0}")]
    NotWasm(String),
    /// The module is malformed or fails validation (e.g. truncated).
    #[error("invalid WebAssembly module: {0}")]
    Invalid(String),
    /// A required export is absent or has the wrong type.
    #[error("module lacks the export `{name}` ({expected})")]
    MissingExport {
        /// The export's name.
        name: String,
        /// What it should be.
        expected: String,
    },
    /// The module imports something this CU does not provide.
    #[error("module imports `{module}.{name}`, which this CU does not provide")]
    UnknownImport {
        /// Import module name.
        module: String,
        /// Import field name.
        name: String,
    },
    /// The module imports a known function with a signature other than the ABI's.
    #[error("module imports `{module}.{name}` with type {found}, expected {expected}")]
    ImportType {
        /// Import module name.
        module: String,
        /// Import field name.
        name: String,
        /// The module's type.
        found: String,
        /// The type this CU provides.
        expected: String,
    },
    /// The module's memory has the wrong index type or is missing.
    #[error("module memory: {0}")]
    Memory(String),
    /// The module uses a construct this CU cannot run (e.g. untranslatable exception handling).
    #[error("unsupported module: {0}")]
    Unsupported(String),
    /// wasmtime refused to compile the module.
    #[error("compiling the module failed: {0}")]
    Compile(String),
    /// Instantiation failed (e.g. the initial memory exceeds the memory limit).
    #[error("instantiating the module failed: {0}")]
    Instantiate(String),
    /// Running the module's start-up code (constructors) failed.
    #[error("initialising the module failed: {0}")]
    Init(String),
    /// A compiled-module cache file is unusable.
    #[error("module cache file {path}: {reason}")]
    CacheFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// I/O on the module cache directory failed.
    #[error("module cache {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A snapshot cannot be decoded or does not fit the module.
    #[error("snapshot: {0}")]
    Snapshot(String),
    /// A host-side operation on the instance failed (exports, memory access).
    #[error("host: {0}")]
    Host(String),
}
