//! The shared wasmtime engine: memory64 and exceptions on, fuel metering on (deterministic
//! compute limits), epoch interruption on (the wall-clock guard), with one ticker thread that
//! advances the epoch for every store of the engine.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Config, Engine, OptLevel};

use super::error::WasmError;

/// How often the epoch advances; the resolution of message timeouts.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The node's wasmtime engine (cheap to share: clone the `Arc`).
pub struct WasmEngine {
    engine: Engine,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for WasmEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmEngine").finish_non_exhaustive()
    }
}

impl WasmEngine {
    /// Build the engine and start its epoch ticker thread.
    pub fn new() -> Result<Arc<WasmEngine>, WasmError> {
        let mut config = Config::new();
        config
            .wasm_memory64(true)
            .wasm_exceptions(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .cranelift_opt_level(OptLevel::Speed)
            // No wasm backtrace on traps and host errors. emscripten's longjmp (Lua's `error`,
            // which AOS raises and catches with `pcall` on ordinary messages) unwinds through
            // a host error, and capturing the wasm frames of every unwind cost about 7% of an
            // AOS `return 1+1` (measured with `cargo bench --bench exec`). Trap messages keep
            // their reason; only the frame list goes.
            .wasm_backtrace_max_frames(None);
        let engine = Engine::new(&config).map_err(|e| WasmError::Compile(format!("{e:#}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let (ticker_engine, ticker_stop) = (engine.clone(), stop.clone());
        std::thread::Builder::new()
            .name("aocu-epoch".into())
            .spawn(move || {
                while !ticker_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    ticker_engine.increment_epoch();
                }
            })
            .map_err(|e| WasmError::Host(format!("cannot start the epoch ticker: {e}")))?;
        Ok(Arc::new(WasmEngine { engine, stop }))
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Epoch ticks that cover `timeout` (at least one full tick).
    pub fn ticks_for(timeout: Duration) -> u64 {
        let tick = EPOCH_TICK.as_nanos().max(1);
        (timeout.as_nanos().div_ceil(tick) as u64).saturating_add(1)
    }
}

/// Stops library errors from capturing Rust backtraces (`RUST_LIB_BACKTRACE=0`) unless the
/// operator set `RUST_LIB_BACKTRACE` explicitly. With `RUST_BACKTRACE=1` (common on developer
/// machines and CI), every `wasmtime::Error` captures one, and emscripten's longjmp creates such
/// an error on every Lua `error`: that alone cost about 7% of an AOS `return 1+1`. Panics still
/// print their backtraces as `RUST_BACKTRACE` says; aocu never prints library backtraces.
///
/// # Safety
/// It changes the process environment, which is only sound while no other thread can read it:
/// call it first thing in `main`, before any thread is started.
#[allow(unsafe_code)] // Setting an environment variable is `unsafe` in edition 2024.
pub unsafe fn quiet_error_backtraces() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: the caller guarantees that no other thread runs yet.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
}

impl Drop for WasmEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
