//! Shared helpers of the wasm integration tests: one engine and module cache per test binary,
//! and AOS message builders. A test that includes it also includes `tests/prereq` (`mod
//! prereq;`), which finds the shared test data.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use aocu::wasm::{
    Limits, LoadedModule, MessageInput, ModuleCache, NodeLimits, Process, WasmEngine,
};
use serde_json::{Value, json};

/// The bytes of a test module under `testdata/wasm/` (the test has checked that it is there,
/// with `prereq::testdata`).
pub fn module_bytes(name: &str) -> Vec<u8> {
    let path = crate::prereq::shared_dir().join("testdata/wasm").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One module cache for the whole test binary.
pub fn cache() -> &'static ModuleCache {
    static CACHE: OnceLock<ModuleCache> = OnceLock::new();
    CACHE.get_or_init(|| ModuleCache::new(WasmEngine::new().expect("engine")))
}

/// A module from the shared test data, compiled once.
pub fn module(name: &str) -> Arc<LoadedModule> {
    cache().load(&module_bytes(name)).expect("module loads")
}

/// Compile a kernel from `kernels/NAME.wat`.
pub fn kernel(name: &str) -> Arc<LoadedModule> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("kernels")
        .join(format!("{name}.wat"));
    let wasm = wat::parse_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    cache().load(&wasm).expect("kernel loads")
}

pub const PROCESS: &str = "PROCESS-ID-00000000000000000000000000000000";
pub const OWNER: &str = "OWNER-ADDRESS-00000000000000000000000000000";
pub const MODULE: &str = "MODULE-ID-000000000000000000000000000000000";

/// The environment of a test process.
pub fn env(extra_tags: &[(&str, &str)]) -> Value {
    let mut tags = vec![
        json!({"name": "Name", "value": "test"}),
        json!({"name": "Type", "value": "Process"}),
    ];
    tags.extend(
        extra_tags
            .iter()
            .map(|(n, v)| json!({"name": n, "value": v})),
    );
    json!({
        "Process": {"Id": PROCESS, "Owner": OWNER, "Tags": tags},
        "Module": {"Id": MODULE, "Tags": [{"name": "Module-Format", "value": "wasm64-unknown-emscripten-draft_2024_02_15"}]},
    })
}

/// Message number `n` from the owner with `tags` and `data`.
pub fn message(n: u64, tags: &[(&str, &str)], data: &str) -> Value {
    json!({
        "Id": format!("MSG-{n:040}"),
        "Target": PROCESS,
        "Owner": OWNER,
        "From": OWNER,
        "Block-Height": (1_500_000 + n).to_string(),
        "Timestamp": (1_732_000_000_000u64 + n * 1000).to_string(),
        "Module": MODULE,
        "Tags": tags.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
        "Data": data,
    })
}

/// An `Eval` of `code` from the owner.
pub fn eval(n: u64, code: &str) -> MessageInput {
    MessageInput::new(&message(n, &[("Action", "Eval")], code), &env(&[]))
}

/// A process of `module` under limits from these tags.
pub fn spawn(
    module: Arc<LoadedModule>,
    memory: Option<&str>,
    compute: Option<&str>,
    timeout_ms: u64,
) -> Process {
    let node = NodeLimits {
        message_timeout: std::time::Duration::from_millis(timeout_ms),
        ..NodeLimits::default()
    };
    let limits = Limits::from_tags(memory, compute, &node).expect("limits");
    Process::spawn(module, limits).expect("spawn")
}

/// `Output.data` of an AOS result as a string.
pub fn data(result: &aocu::wasm::EvalResult) -> String {
    match result.output.as_ref().and_then(|o| o.get("data")) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}
