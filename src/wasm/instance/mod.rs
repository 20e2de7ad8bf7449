//! A running AO process: its instance (store, memory, globals), its limits, and the protection of
//! its state.
//!
//! Evaluating message N+1 starts from the state after message N. When an evaluation fails — a
//! trap, out of fuel, over the memory limit, over the time limit, or a result with an `Error`
//! (AO's CU discards the memory of such a result and keeps the previous one) — the process goes
//! back to exactly the state before that message.
//!
//! Memory is not copied on every message. The process keeps a *checkpoint* (the fresh instance,
//! or a snapshot of memory and globals) and a log of the messages evaluated since. A failure
//! restores the checkpoint and replays the log; evaluation is deterministic (fuel, not time,
//! bounds replayed messages; clocks come from the messages), so the replay rebuilds the same
//! state. A new checkpoint is taken when replaying the log would cost clearly more than copying
//! the memory once (see [`CheckpointPolicy`]), and after every failure, so repeated failures stay
//! cheap.

use std::ffi::CStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use wasmtime::{Global, Memory, Store, Trap, TypedFunc, Val};

use super::engine::WasmEngine;
use super::error::WasmError;
use super::host::{HostExit, HostState, Longjmp, Runtime};
use super::limits::Limits;
use super::module::{Abi, LoadedModule};
use super::snapshot::{GlobalValue, Snapshot};

/// One message to evaluate: the message JSON, the environment JSON, and the clock value the
/// host's time functions return while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInput {
    /// The message JSON (`Id`, `Owner`, `From`, `Tags`, `Data`, `Timestamp`, ...).
    pub message: String,
    /// The environment JSON (`{Process: {Id, Owner, Tags}, Module: {Id, Tags}}`).
    pub env: String,
    /// Milliseconds since the epoch: the message's `Timestamp`.
    pub timestamp_ms: u64,
}

impl MessageInput {
    /// Serialize a message and environment; the clock is the message's `Timestamp` (a number or
    /// a decimal string; 0 when absent).
    pub fn new(message: &Value, env: &Value) -> MessageInput {
        let timestamp_ms = match message.get("Timestamp") {
            Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
            Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
            _ => 0,
        };
        MessageInput {
            message: message.to_string(),
            env: env.to_string(),
            timestamp_ms,
        }
    }
}

/// What the process answered. As AO's CU records a result, absent `Messages`, `Spawns` and
/// `Assignments` become empty lists; an absent `Output` or `Error` stays absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalResult {
    /// `Output` (AOS: `{data, prompt, ...}`).
    pub output: Option<Value>,
    /// Outbox messages.
    pub messages: Option<Value>,
    /// Outbox spawns.
    pub spawns: Option<Value>,
    /// Outbox assignments.
    pub assignments: Option<Value>,
    /// `Error`, when the evaluation failed.
    pub error: Option<Value>,
    /// `GasUsed`, when the module reports one.
    pub gas_used: Option<Value>,
}

impl EvalResult {
    /// A result that carries only an error (the outbox is empty, as AO's CU reports it).
    pub fn from_error(error: Value) -> EvalResult {
        EvalResult {
            messages: Some(Value::Array(vec![])),
            spawns: Some(Value::Array(vec![])),
            assignments: Some(Value::Array(vec![])),
            error: Some(error),
            ..EvalResult::default()
        }
    }

    /// `{Output, Messages, Spawns, Assignments, Error, GasUsed}` with absent fields left out.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        let fields = [
            ("Output", &self.output),
            ("Messages", &self.messages),
            ("Spawns", &self.spawns),
            ("Assignments", &self.assignments),
            ("Error", &self.error),
            ("GasUsed", &self.gas_used),
        ];
        for (name, value) in fields {
            if let Some(v) = value {
                map.insert(name.into(), v.clone());
            }
        }
        Value::Object(map)
    }

    /// Whether `Error` is set to a value JavaScript would treat as true (how AO's CU decides).
    pub fn has_error(&self) -> bool {
        self.error.as_ref().is_some_and(truthy)
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// Resources one evaluation used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metering {
    /// Fuel consumed (wasm instructions, wasmtime's measure).
    pub fuel: u64,
    /// Wall-clock time of the evaluation, including any rollback, in nanoseconds.
    pub wall_ns: u64,
    /// Largest memory size during the evaluation, in bytes.
    pub memory_bytes: u64,
}

/// Why an evaluation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The process returned a result with an `Error` (e.g. a Lua `error()`).
    ProcessError,
    /// The message used all the fuel of its compute limit.
    OutOfFuel {
        /// The limit.
        limit: u64,
    },
    /// The message ran past the wall-clock timeout.
    Timeout {
        /// The timeout.
        limit: Duration,
    },
    /// The memory limit refused a growth and the message failed.
    MemoryLimit {
        /// The limit in bytes.
        limit: u64,
    },
    /// A WebAssembly trap.
    Trap(String),
    /// The module ended through the host (`exit`, `abort`, an unavailable feature).
    Exit(String),
    /// The module's answer is not an AO result.
    BadResult(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::ProcessError => write!(f, "the process returned an error"),
            Failure::OutOfFuel { limit } => {
                write!(
                    f,
                    "out of compute: the message used its whole Compute-Limit of {limit}"
                )
            }
            Failure::Timeout { limit } => {
                write!(
                    f,
                    "timeout: the message ran longer than {} ms",
                    limit.as_millis()
                )
            }
            Failure::MemoryLimit { limit } => {
                write!(
                    f,
                    "out of memory: the process reached its Memory-Limit of {limit} bytes"
                )
            }
            Failure::Trap(t) => write!(f, "trap: {t}"),
            Failure::Exit(e) => write!(f, "{e}"),
            Failure::BadResult(e) => write!(f, "invalid result from the process: {e}"),
        }
    }
}

/// The outcome of one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// What the process answered (or the error that replaced its answer).
    pub result: EvalResult,
    /// Resources used.
    pub metering: Metering,
    /// Why it failed, if it did.
    pub failure: Option<Failure>,
    /// Whether the process state was put back to before the message.
    pub reverted: bool,
}

/// When to take a new checkpoint (a memory copy) instead of growing the replay log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// At most this many messages in the log.
    pub max_messages: usize,
    /// At most this many bytes of logged message and environment JSON.
    pub max_log_bytes: usize,
    /// Checkpoint when replaying the log would take this many times as long as the last copy.
    pub replay_factor: u64,
    /// ... but never for a log that replays faster than this.
    pub min_replay: Duration,
}

impl Default for CheckpointPolicy {
    fn default() -> CheckpointPolicy {
        CheckpointPolicy {
            max_messages: 10_000,
            max_log_bytes: 64 << 20,
            replay_factor: 50,
            min_replay: Duration::from_millis(100),
        }
    }
}

/// Counters of a process' state protection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessStats {
    /// Messages evaluated.
    pub messages: u64,
    /// Checkpoints taken.
    pub checkpoints: u64,
    /// Rollbacks after a failure.
    pub rollbacks: u64,
    /// Messages replayed during rollbacks.
    pub replayed: u64,
}

// One per process, read on every message: kept inline rather than boxed.
#[allow(clippy::large_enum_variant)]
enum Strings {
    Stack {
        alloc: TypedFunc<u64, u64>,
        restore: TypedFunc<u64, ()>,
        current: TypedFunc<(), u64>,
        end: TypedFunc<(), u64>,
        malloc: Option<TypedFunc<u64, u64>>,
        free: Option<TypedFunc<u64, ()>>,
    },
    Malloc {
        malloc: TypedFunc<u64, u64>,
        free: Option<TypedFunc<u64, ()>>,
    },
}

struct Bound {
    memory: Memory,
    handle: TypedFunc<(u64, u64), u64>,
    strings: Strings,
    globals: Vec<Global>,
}

enum Checkpoint {
    /// The freshly instantiated (and initialised) module.
    Fresh,
    Snapshot(Snapshot),
}

impl Checkpoint {
    fn is_fresh(&self) -> bool {
        matches!(self, Checkpoint::Fresh)
    }
}

/// A process: one instance of a module with its state. `Send`: an executor thread owns it.
pub struct Process {
    module: Arc<LoadedModule>,
    limits: Limits,
    store: Store<HostState>,
    bound: Bound,
    checkpoint: Checkpoint,
    log: Vec<MessageInput>,
    log_bytes: usize,
    log_wall_ns: u64,
    copy_cost_ns: u64,
    policy: CheckpointPolicy,
    stats: ProcessStats,
    lost: Option<String>,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("module", &self.module)
            .field("limits", &self.limits)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Why a call into the module failed.
enum CallError {
    Wasm(wasmtime::Error),
    Result(String),
}

impl Process {
    /// Instantiate `module` as a new process (running its constructors) under `limits`.
    pub fn spawn(module: Arc<LoadedModule>, limits: Limits) -> Result<Process, WasmError> {
        let (store, bound) = instantiate(&module, &limits, true)?;
        Ok(Process::assemble(
            module,
            limits,
            store,
            bound,
            Checkpoint::Fresh,
        ))
    }

    /// A process at the state of `snapshot` (taken from a process of the same module).
    pub fn restore(
        module: Arc<LoadedModule>,
        limits: Limits,
        snapshot: &Snapshot,
    ) -> Result<Process, WasmError> {
        if snapshot.module_hash != *module.hash.as_bytes() {
            return Err(WasmError::Snapshot(
                "snapshot was taken from another module".into(),
            ));
        }
        let (mut store, mut bound) = instantiate(&module, &limits, false)?;
        apply_snapshot(&module, &limits, &mut store, &mut bound, snapshot)?;
        let checkpoint = Checkpoint::Snapshot(snapshot.clone());
        Ok(Process::assemble(module, limits, store, bound, checkpoint))
    }

    fn assemble(
        module: Arc<LoadedModule>,
        limits: Limits,
        store: Store<HostState>,
        bound: Bound,
        checkpoint: Checkpoint,
    ) -> Process {
        let size = bound.memory.data_size(&store) as u64;
        Process {
            module,
            limits,
            store,
            bound,
            checkpoint,
            log: Vec::new(),
            log_bytes: 0,
            log_wall_ns: 0,
            // Until measured: about 4 GB/s.
            copy_cost_ns: size / 4,
            policy: CheckpointPolicy::default(),
            stats: ProcessStats::default(),
            lost: None,
        }
    }

    /// The module this process runs.
    pub fn module(&self) -> &Arc<LoadedModule> {
        &self.module
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Change the checkpoint policy.
    pub fn set_checkpoint_policy(&mut self, policy: CheckpointPolicy) {
        self.policy = policy;
    }

    /// Counters of checkpoints and rollbacks.
    pub fn stats(&self) -> ProcessStats {
        self.stats
    }

    /// Current memory size in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.bound.memory.data_size(&self.store) as u64
    }

    /// A copy of the current state (memory and mutable globals), for the store to persist.
    pub fn snapshot(&mut self) -> Snapshot {
        let mut s = Snapshot {
            module_hash: *self.module.hash.as_bytes(),
            globals: Vec::new(),
            memory: Vec::new(),
        };
        capture(&mut self.store, &self.bound, &mut s);
        s
    }

    /// Evaluate one message. Never panics on the module's behaviour: every failure becomes the
    /// `Error` of the result, and the state goes back to before the message.
    pub fn evaluate(&mut self, input: MessageInput) -> Evaluation {
        self.run(input, true)
    }

    /// Only the call itself, for calibrating benchmarks against: the strings placed, `handle`
    /// called under the same fuel and epoch limits, the answer's length read back (not
    /// parsed). Nothing protects the state (no log, no rollback) and nothing is metered, so
    /// this is not a way to run a process.
    #[doc(hidden)]
    pub fn call_handle_only(&mut self, input: &MessageInput) -> Result<usize, String> {
        let ticks = WasmEngine::ticks_for(self.limits.timeout);
        let at = call_handle_raw(
            &mut self.store,
            &self.bound,
            input,
            &self.limits,
            Some(ticks),
        )
        .map_err(|e| match e {
            CallError::Wasm(e) => format!("{e:#}"),
            CallError::Result(text) => text,
        })?;
        let mem = self.bound.memory.data(&self.store);
        let tail = usize::try_from(at).ok().and_then(|s| mem.get(s..));
        tail.and_then(|t| CStr::from_bytes_until_nul(t).ok())
            .map(|text| text.to_bytes().len())
            .ok_or_else(|| format!("no NUL-terminated answer at {at:#x}"))
    }

    /// Evaluate one message and forget it (a dry-run): whatever happens, the state goes back
    /// to before the message, through the checkpoint and replay log that protect every
    /// message, not through a copy of the whole memory taken beforehand.
    pub fn evaluate_discarded(&mut self, input: MessageInput) -> Evaluation {
        // Rolling back replays the log since the last checkpoint, which may hold up to the
        // replay budget (seconds for a large memory): checkpoint first, so that the discard
        // costs two copies of the memory (into the reused checkpoint buffer, and back), and
        // leaves a fresh checkpoint behind for the next rollback.
        if self.lost.is_none() && (!self.log.is_empty() || self.checkpoint.is_fresh()) {
            self.take_checkpoint();
        }
        self.run(input, false)
    }

    fn run(&mut self, input: MessageInput, keep: bool) -> Evaluation {
        let started = Instant::now();
        if let Some(lost) = &self.lost {
            return Evaluation {
                result: EvalResult::from_error(Value::String(lost.clone())),
                metering: Metering::default(),
                failure: Some(Failure::Exit(lost.clone())),
                reverted: true,
            };
        }
        self.stats.messages += 1;
        self.store.data_mut().limiter.exceeded = false;
        let ticks = WasmEngine::ticks_for(self.limits.timeout);
        let call = call_handle(
            &mut self.store,
            &self.bound,
            &input,
            &self.limits,
            Some(ticks),
        );
        let fuel = self
            .limits
            .compute
            .saturating_sub(self.store.get_fuel().unwrap_or(0));
        let memory_bytes = self.memory_bytes();
        let exceeded = self.store.data().limiter.exceeded;
        let (result, failure) = match call {
            Ok(result) if result.has_error() => {
                let failure = if exceeded {
                    Failure::MemoryLimit {
                        limit: self.limits.memory_bytes,
                    }
                } else {
                    Failure::ProcessError
                };
                (result, Some(failure))
            }
            Ok(result) if buffer_allocation_error(&result) => (result, None),
            Ok(result) if !keep => (result, None),
            Ok(result) => {
                let wall = started.elapsed().as_nanos() as u64;
                self.record(input, wall);
                return Evaluation {
                    result,
                    metering: Metering {
                        fuel,
                        wall_ns: wall,
                        memory_bytes,
                    },
                    failure: None,
                    reverted: false,
                };
            }
            Err(e) => {
                let failure = classify(e, exceeded, &self.limits);
                let result = EvalResult::from_error(Value::String(failure.to_string()));
                (result, Some(failure))
            }
        };
        self.rollback();
        Evaluation {
            result,
            metering: Metering {
                fuel,
                wall_ns: started.elapsed().as_nanos() as u64,
                memory_bytes,
            },
            failure,
            reverted: true,
        }
    }

    /// Log a successful message; take a checkpoint when replaying the log got too costly.
    fn record(&mut self, input: MessageInput, wall_ns: u64) {
        self.log_bytes += input.message.len() + input.env.len();
        self.log_wall_ns += wall_ns;
        self.log.push(input);
        let p = &self.policy;
        let replay_budget =
            (p.min_replay.as_nanos() as u64).max(self.copy_cost_ns * p.replay_factor);
        if self.log.len() >= p.max_messages
            || self.log_bytes >= p.max_log_bytes
            || self.log_wall_ns >= replay_budget
        {
            self.take_checkpoint();
        }
    }

    fn take_checkpoint(&mut self) {
        let started = Instant::now();
        let mut snapshot = match std::mem::replace(&mut self.checkpoint, Checkpoint::Fresh) {
            Checkpoint::Snapshot(s) => s,
            Checkpoint::Fresh => Snapshot {
                module_hash: *self.module.hash.as_bytes(),
                globals: Vec::new(),
                memory: Vec::new(),
            },
        };
        capture(&mut self.store, &self.bound, &mut snapshot);
        self.checkpoint = Checkpoint::Snapshot(snapshot);
        self.log.clear();
        self.log_bytes = 0;
        self.log_wall_ns = 0;
        self.copy_cost_ns = started.elapsed().as_nanos() as u64;
        self.stats.checkpoints += 1;
    }

    /// Back to the checkpoint, then replay the log: the state before the failed message.
    fn rollback(&mut self) {
        self.stats.rollbacks += 1;
        if let Err(e) = self.try_rollback() {
            self.lost = Some(format!("process state lost after a failed rollback: {e}"));
            tracing::error!(module = %self.module.hash.to_hex(), "{e}");
        }
    }

    fn try_rollback(&mut self) -> Result<(), WasmError> {
        match &self.checkpoint {
            Checkpoint::Fresh => {
                let (store, bound) = instantiate(&self.module, &self.limits, true)?;
                self.store = store;
                self.bound = bound;
            }
            Checkpoint::Snapshot(s) => {
                apply_snapshot(
                    &self.module,
                    &self.limits,
                    &mut self.store,
                    &mut self.bound,
                    s,
                )?;
            }
        }
        if self.log.is_empty() {
            return Ok(());
        }
        let log = std::mem::take(&mut self.log);
        for input in &log {
            self.stats.replayed += 1;
            let replay = call_handle(&mut self.store, &self.bound, input, &self.limits, None);
            match replay {
                Ok(r) if !r.has_error() => {}
                Ok(_) => return Err(WasmError::Host("a replayed message failed".into())),
                Err(CallError::Wasm(e)) => {
                    return Err(WasmError::Host(format!(
                        "a replayed message trapped: {e:#}"
                    )));
                }
                Err(CallError::Result(e)) => return Err(WasmError::Host(e)),
            }
        }
        // Failures in a row must not replay the same log again and again.
        self.take_checkpoint();
        Ok(())
    }
}

fn buffer_allocation_error(result: &EvalResult) -> bool {
    const NEEDLE: &str = "not enough memory for buffer allocation";
    match &result.output {
        Some(Value::String(s)) => s.ends_with(NEEDLE),
        Some(Value::Object(o)) => o
            .get("data")
            .and_then(|d| d.get("output"))
            .and_then(Value::as_str)
            .is_some_and(|s| s.ends_with(NEEDLE)),
        _ => false,
    }
}

fn classify(e: CallError, memory_exceeded: bool, limits: &Limits) -> Failure {
    let e = match e {
        CallError::Result(text) => return Failure::BadResult(text),
        CallError::Wasm(e) => e,
    };
    if let Some(trap) = e.downcast_ref::<Trap>() {
        return match trap {
            Trap::OutOfFuel => Failure::OutOfFuel {
                limit: limits.compute,
            },
            Trap::Interrupt => Failure::Timeout {
                limit: limits.timeout,
            },
            _ if memory_exceeded => Failure::MemoryLimit {
                limit: limits.memory_bytes,
            },
            other => Failure::Trap(other.to_string()),
        };
    }
    if memory_exceeded {
        return Failure::MemoryLimit {
            limit: limits.memory_bytes,
        };
    }
    if let Some(exit) = e.downcast_ref::<HostExit>() {
        return Failure::Exit(exit.0.clone());
    }
    if e.is::<Longjmp>() {
        return Failure::Trap("longjmp without a matching setjmp".into());
    }
    Failure::Trap(format!("{e:#}"))
}

fn host_err(what: &str) -> impl Fn(wasmtime::Error) -> WasmError + '_ {
    move |e| WasmError::Host(format!("{what}: {e:#}"))
}

/// A new store and instance of `module`; constructors run when `init` is set.
fn instantiate(
    module: &LoadedModule,
    limits: &Limits,
    init: bool,
) -> Result<(Store<HostState>, Bound), WasmError> {
    let mut store = Store::new(
        module.engine().engine(),
        HostState::new(limits.memory_bytes),
    );
    store.limiter(|s| &mut s.limiter);
    store.set_fuel(limits.compute).map_err(host_err("fuel"))?;
    store.epoch_deadline_trap();
    store.set_epoch_deadline(WasmEngine::ticks_for(limits.timeout));
    let instance = module.pre.instantiate(&mut store).map_err(|e| {
        if store.data().limiter.exceeded {
            WasmError::Instantiate(format!(
                "the module's initial memory exceeds the memory limit of {} bytes",
                limits.memory_bytes
            ))
        } else {
            WasmError::Instantiate(format!("{e:#}"))
        }
    })?;
    let missing = |name: &str, expected: &str| WasmError::MissingExport {
        name: name.into(),
        expected: expected.into(),
    };
    let memory = instance
        .get_memory(&mut store, "memory")
        .ok_or_else(|| missing("memory", "the linear memory"))?;
    let handle = instance
        .get_typed_func::<(u64, u64), u64>(&mut store, "handle")
        .map_err(|_| missing("handle", "a function (i64, i64) -> i64"))?;
    let mut func = |name: &str| instance.get_func(&mut store, name);
    let f_alloc = func("_emscripten_stack_alloc");
    let f_restore = func("_emscripten_stack_restore");
    let f_current = func("emscripten_stack_get_current");
    let f_end = func("emscripten_stack_get_end");
    let f_malloc = func("malloc");
    let f_free = func("free");
    let f_threw = func("setThrew");
    let f_ctors = func("__wasm_call_ctors");
    let table = instance.get_table(&mut store, "__indirect_function_table");
    let malloc = typed(f_malloc, &store);
    let free = typed(f_free, &store);
    let current = typed(f_current, &store);
    let restore = typed(f_restore, &store);
    let strings = match module.info.abi {
        Abi::Stack => Strings::Stack {
            alloc: typed(f_alloc, &store)
                .ok_or_else(|| missing("_emscripten_stack_alloc", "(i64) -> i64"))?,
            restore: restore
                .clone()
                .ok_or_else(|| missing("_emscripten_stack_restore", "(i64)"))?,
            current: current
                .clone()
                .ok_or_else(|| missing("emscripten_stack_get_current", "() -> i64"))?,
            end: typed(f_end, &store)
                .ok_or_else(|| missing("emscripten_stack_get_end", "() -> i64"))?,
            malloc,
            free,
        },
        Abi::Malloc { .. } => Strings::Malloc {
            malloc: malloc.ok_or_else(|| missing("malloc", "(i64) -> i64"))?,
            free,
        },
    };
    let mut globals = Vec::with_capacity(module.globals.len());
    for name in &module.globals {
        globals.push(
            instance
                .get_global(&mut store, name)
                .ok_or_else(|| missing(name, "a mutable global"))?,
        );
    }
    store.data_mut().runtime = Some(Runtime {
        memory,
        table,
        stack_current: current,
        stack_restore: restore,
        set_threw: typed(f_threw, &store),
    });
    if init && module.info.has_ctors {
        let ctors = f_ctors
            .and_then(|f| f.typed::<(), ()>(&store).ok())
            .ok_or_else(|| missing("__wasm_call_ctors", "() -> ()"))?;
        ctors
            .call(&mut store, ())
            .map_err(|e| WasmError::Init(format!("__wasm_call_ctors: {e:#}")))?;
    }
    let bound = Bound {
        memory,
        handle,
        strings,
        globals,
    };
    Ok((store, bound))
}

fn typed<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
    f: Option<wasmtime::Func>,
    store: &Store<HostState>,
) -> Option<TypedFunc<P, R>> {
    f.and_then(|f| f.typed(store).ok())
}

fn capture(store: &mut Store<HostState>, bound: &Bound, into: &mut Snapshot) {
    into.memory.clear();
    into.memory.extend_from_slice(bound.memory.data(&*store));
    into.globals.clear();
    for g in &bound.globals {
        into.globals.push(match g.get(&mut *store) {
            Val::I32(v) => GlobalValue::I32(v),
            Val::I64(v) => GlobalValue::I64(v),
            Val::F32(v) => GlobalValue::F32(v),
            Val::F64(v) => GlobalValue::F64(v),
            // `export_mutable_globals` exports numeric globals only as far as AO modules go;
            // any other kind keeps its value, which a snapshot cannot carry.
            _ => GlobalValue::I32(0),
        });
    }
}

/// Put `snapshot` into the instance; a new instance when the memory must shrink.
fn apply_snapshot(
    module: &LoadedModule,
    limits: &Limits,
    store: &mut Store<HostState>,
    bound: &mut Bound,
    snapshot: &Snapshot,
) -> Result<(), WasmError> {
    if snapshot.globals.len() != bound.globals.len() {
        return Err(WasmError::Snapshot(format!(
            "snapshot has {} globals, the module {}",
            snapshot.globals.len(),
            bound.globals.len()
        )));
    }
    let size = bound.memory.data_size(&*store);
    if size > snapshot.memory.len() {
        let (s, b) = instantiate(module, limits, false)?;
        *store = s;
        *bound = b;
    }
    let size = bound.memory.data_size(&*store);
    if size < snapshot.memory.len() {
        let pages = ((snapshot.memory.len() - size) / 65_536) as u64;
        bound.memory.grow(&mut *store, pages).map_err(|e| {
            WasmError::Snapshot(format!(
                "memory of {} bytes does not fit the limits: {e:#}",
                snapshot.memory.len()
            ))
        })?;
    }
    let mem = bound.memory.data_mut(&mut *store);
    if mem.len() != snapshot.memory.len() {
        return Err(WasmError::Snapshot("memory size mismatch".into()));
    }
    mem.copy_from_slice(&snapshot.memory);
    for (g, v) in bound.globals.iter().zip(&snapshot.globals) {
        let val = match *v {
            GlobalValue::I32(x) => Val::I32(x),
            GlobalValue::I64(x) => Val::I64(x),
            GlobalValue::F32(x) => Val::F32(x),
            GlobalValue::F64(x) => Val::F64(x),
        };
        g.set(&mut *store, val)
            .map_err(|e| WasmError::Snapshot(format!("global: {e:#}")))?;
    }
    Ok(())
}

/// Space the stack must keep free beyond the strings, for the call itself.
const STACK_MARGIN: u64 = 256 * 1024;

/// Place the strings, call `handle`, read and parse the answer.
fn call_handle(
    store: &mut Store<HostState>,
    bound: &Bound,
    input: &MessageInput,
    limits: &Limits,
    deadline_ticks: Option<u64>,
) -> Result<EvalResult, CallError> {
    let ret = call_handle_raw(store, bound, input, limits, deadline_ticks)?;
    read_result(store, bound.memory, ret)
}

/// Place the strings and call `handle` under the limits; the answer's address.
fn call_handle_raw(
    store: &mut Store<HostState>,
    bound: &Bound,
    input: &MessageInput,
    limits: &Limits,
    deadline_ticks: Option<u64>,
) -> Result<u64, CallError> {
    store.set_fuel(limits.compute).map_err(CallError::Wasm)?;
    store.set_epoch_deadline(deadline_ticks.unwrap_or(u64::MAX / 2));
    store.data_mut().clock_ms = input.timestamp_ms;
    let msg_len = input.message.len() as u64 + 1;
    let env_len = input.env.len() as u64 + 1;
    let ret = match &bound.strings {
        Strings::Stack {
            alloc,
            restore,
            current,
            end,
            malloc,
            free,
        } => {
            let sp = current.call(&mut *store, ()).map_err(CallError::Wasm)?;
            let limit = end.call(&mut *store, ()).map_err(CallError::Wasm)?;
            let room = sp.saturating_sub(limit);
            if room >= msg_len + env_len + 64 + STACK_MARGIN {
                let msg = alloc.call(&mut *store, msg_len).map_err(CallError::Wasm)?;
                write_cstr(store, bound.memory, msg, &input.message)?;
                let env = alloc.call(&mut *store, env_len).map_err(CallError::Wasm)?;
                write_cstr(store, bound.memory, env, &input.env)?;
                let ret = bound.handle.call(&mut *store, (msg, env));
                restore.call(&mut *store, sp).map_err(CallError::Wasm)?;
                ret
            } else if let Some(malloc) = malloc {
                // Larger than the stack can hold: the heap, freed afterwards.
                heap_call(store, bound, input, malloc, free.as_ref())
            } else {
                return Err(CallError::Result("message too large for the stack".into()));
            }
        }
        Strings::Malloc { malloc, free } => heap_call(store, bound, input, malloc, free.as_ref()),
    }
    .map_err(CallError::Wasm)?;
    Ok(ret)
}

fn heap_call(
    store: &mut Store<HostState>,
    bound: &Bound,
    input: &MessageInput,
    malloc: &TypedFunc<u64, u64>,
    free: Option<&TypedFunc<u64, ()>>,
) -> wasmtime::Result<u64> {
    let msg = malloc.call(&mut *store, input.message.len() as u64 + 1)?;
    let env = malloc.call(&mut *store, input.env.len() as u64 + 1)?;
    if msg == 0 || env == 0 {
        return Err(wasmtime::Error::new(HostExit(
            "malloc failed to place the message in memory".into(),
        )));
    }
    write_cstr(store, bound.memory, msg, &input.message).map_err(|e| match e {
        CallError::Wasm(e) => e,
        CallError::Result(t) => wasmtime::Error::msg(t),
    })?;
    write_cstr(store, bound.memory, env, &input.env).map_err(|e| match e {
        CallError::Wasm(e) => e,
        CallError::Result(t) => wasmtime::Error::msg(t),
    })?;
    let ret = bound.handle.call(&mut *store, (msg, env))?;
    if let Some(free) = free {
        free.call(&mut *store, env)?;
        free.call(&mut *store, msg)?;
    }
    Ok(ret)
}

fn write_cstr(
    store: &mut Store<HostState>,
    memory: Memory,
    at: u64,
    text: &str,
) -> Result<(), CallError> {
    let mem = memory.data_mut(store);
    let start = usize::try_from(at).ok();
    let slot = start
        .and_then(|s| mem.get_mut(s..s.checked_add(text.len() + 1)?))
        .ok_or_else(|| CallError::Result(format!("string buffer at {at:#x} is out of bounds")))?;
    slot[..text.len()].copy_from_slice(text.as_bytes());
    slot[text.len()] = 0;
    Ok(())
}

fn read_result(store: &Store<HostState>, memory: Memory, at: u64) -> Result<EvalResult, CallError> {
    let mem = memory.data(store);
    let tail = usize::try_from(at)
        .ok()
        .and_then(|s| mem.get(s..))
        .ok_or_else(|| CallError::Result(format!("result pointer {at:#x} is out of bounds")))?;
    let text = CStr::from_bytes_until_nul(tail)
        .map_err(|_| CallError::Result("result string is not NUL-terminated".into()))?;
    parse_result(text.to_bytes()).map_err(CallError::Result)
}

/// `{ok: true, response: {...}}` → its fields; `ok: false` → the response (or `error`) as `Error`,
/// as AO's loader throws it and AO's CU records it.
pub fn parse_result(bytes: &[u8]) -> Result<EvalResult, String> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("result is not JSON: {e}"))?;
    let Value::Object(mut top) = value else {
        return Err("result is not a JSON object".into());
    };
    let ok = top.get("ok").and_then(Value::as_bool).unwrap_or(false);
    let response = top.remove("response");
    if !ok {
        let error = response
            .or_else(|| top.remove("error"))
            .unwrap_or_else(|| Value::String("the process answered ok: false".into()));
        return Ok(EvalResult::from_error(error));
    }
    let Some(Value::Object(mut r)) = response else {
        return Err("result has no `response` object".into());
    };
    Ok(EvalResult {
        output: r.remove("Output"),
        messages: Some(r.remove("Messages").unwrap_or_else(|| Value::Array(vec![]))),
        spawns: Some(r.remove("Spawns").unwrap_or_else(|| Value::Array(vec![]))),
        assignments: Some(
            r.remove("Assignments")
                .unwrap_or_else(|| Value::Array(vec![])),
        ),
        error: r.remove("Error").filter(|e| !e.is_null()),
        gas_used: r.remove("GasUsed"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_is_send() {
        fn send<T: Send>() {}
        send::<Process>();
    }

    #[test]
    fn results_parse_like_the_loader() {
        let r = parse_result(br#"{"ok":true,"response":{"Output":{"data":"2"},"Messages":[],"Spawns":[],"Assignments":[]}}"#).unwrap();
        assert_eq!(r.output.unwrap()["data"], "2");
        assert!(r.error.is_none());
        let r = parse_result(br#"{"ok":false,"response":"bad"}"#).unwrap();
        assert!(r.has_error());
        assert!(parse_result(b"nope").is_err());
        assert!(parse_result(br#"{"ok":true}"#).is_err());
        let r = parse_result(br#"{"ok":true,"response":{"Error":""}}"#).unwrap();
        assert!(!r.has_error());
    }
}
