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
pub mod inspect;
pub mod instance;
pub mod legacy_eh;
pub mod limits;
pub mod loaded;
pub mod rewrite;
pub mod snapshot;
pub mod timefmt;
pub mod weavedrive;

pub use cache::ModuleCache;
pub use engine::{WasmEngine, quiet_error_backtraces};
pub use error::WasmError;
pub use inspect::{Abi, ModuleInfo};
pub use instance::{
    CallError, CheckpointPolicy, EvalResult, Evaluation, Failure, MessageInput, Metering, Process,
    ProcessStats, ResultError,
};
pub use limits::{Limits, NodeLimits};
pub use loaded::LoadedModule;
pub use snapshot::Snapshot;
