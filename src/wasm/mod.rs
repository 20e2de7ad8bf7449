//! Running AO processes with wasmtime: the engine, the module cache, the AO process ABI
//! (`handle(msg, env)` with JSON strings), deterministic host imports, memory/compute/time
//! limits, fuel metering, and process snapshots.
//!
//! Typical use:
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use aocu::wasm::{Limits, MessageInput, ModuleCache, NodeLimits, Process, WasmEngine};
//! let cache = ModuleCache::new(WasmEngine::new()?);
//! let module = cache.load(&std::fs::read("aos.wasm")?)?;
//! let mut process = Process::spawn(module, Limits::from_node(&NodeLimits::default()))?;
//! let msg = serde_json::json!({"Id": "M1", "Owner": "O", "From": "O", "Timestamp": "1",
//!     "Tags": [{"name": "Action", "value": "Eval"}], "Data": "return 1+1"});
//! let env = serde_json::json!({"Process": {"Id": "P", "Owner": "O", "Tags": []}});
//! let out = process.evaluate(MessageInput::new(&msg, &env));
//! println!("{}", out.result.to_json());
//! # Ok(()) }
//! ```

pub mod cache;
pub mod engine;
pub mod error;
pub mod host;
pub mod legacy_eh;
pub mod limits;
pub mod module;
pub mod process;
pub mod rewrite;
pub mod snapshot;
pub mod timefmt;

pub use cache::ModuleCache;
pub use engine::{WasmEngine, quiet_error_backtraces};
pub use error::WasmError;
pub use limits::{Limits, NodeLimits};
pub use module::{Abi, LoadedModule, ModuleInfo};
pub use process::{
    CheckpointPolicy, EvalResult, Evaluation, Failure, MessageInput, Metering, Process,
    ProcessStats,
};
pub use snapshot::Snapshot;
