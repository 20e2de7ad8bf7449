//! The protection of a process' state: a checkpoint (the fresh instance, or a copy of memory
//! and globals) and the log of the messages evaluated since. Rolling back restores the
//! checkpoint and replays the log; a new checkpoint is taken when replaying would cost clearly
//! more than one copy of the memory.

use std::time::{Duration, Instant};

use wasmtime::Val;

use super::abi::{CallError, Instance, call_handle, reinstantiate};
use super::input::MessageInput;
use crate::wasm::error::WasmError;
use crate::wasm::limits::Limits;
use crate::wasm::loaded::LoadedModule;
use crate::wasm::snapshot::{GlobalValue, Snapshot};

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

/// The state a rollback starts from.
pub(super) enum Checkpoint {
    /// The freshly instantiated (and initialised) module.
    Fresh,
    /// A copy of memory and globals.
    Snapshot(Snapshot),
}

/// A checkpoint and the messages evaluated since: what puts a process back to the state before
/// a failed message.
pub(super) struct Journal {
    checkpoint: Checkpoint,
    log: Vec<MessageInput>,
    log_bytes: usize,
    log_wall_ns: u64,
    copy_cost_ns: u64,
    /// When to checkpoint.
    pub(super) policy: CheckpointPolicy,
    /// Counters, the evaluated messages included.
    pub(super) stats: ProcessStats,
}

impl Journal {
    /// An empty log over `checkpoint`, for an instance of `memory_bytes`.
    pub(super) fn new(checkpoint: Checkpoint, memory_bytes: u64) -> Journal {
        Journal {
            checkpoint,
            log: Vec::new(),
            log_bytes: 0,
            log_wall_ns: 0,
            // Until measured: about 4 GB/s.
            copy_cost_ns: memory_bytes / 4,
            policy: CheckpointPolicy::default(),
            stats: ProcessStats::default(),
        }
    }

    /// Whether the current state is the checkpoint's copy: nothing logged since, and the
    /// checkpoint is a snapshot rather than the fresh instance.
    pub(super) fn state_is_checkpointed(&self) -> bool {
        self.log.is_empty() && !matches!(self.checkpoint, Checkpoint::Fresh)
    }

    /// Log a successful message; take a checkpoint when replaying the log got too costly.
    pub(super) fn record(
        &mut self,
        input: MessageInput,
        wall_ns: u64,
        instance: &mut Instance,
        module: &LoadedModule,
    ) {
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
            self.take_checkpoint(instance, module);
        }
    }

    /// Copy the current state into the checkpoint (reusing its buffer) and clear the log.
    pub(super) fn take_checkpoint(&mut self, instance: &mut Instance, module: &LoadedModule) {
        let started = Instant::now();
        let mut snapshot = match std::mem::replace(&mut self.checkpoint, Checkpoint::Fresh) {
            Checkpoint::Snapshot(s) => s,
            Checkpoint::Fresh => Snapshot {
                module_hash: *module.hash.as_bytes(),
                globals: Vec::new(),
                memory: Vec::new(),
            },
        };
        capture(instance, &mut snapshot);
        self.checkpoint = Checkpoint::Snapshot(snapshot);
        self.log.clear();
        self.log_bytes = 0;
        self.log_wall_ns = 0;
        self.copy_cost_ns = started.elapsed().as_nanos() as u64;
        self.stats.checkpoints += 1;
    }

    /// Back to the checkpoint, then replay the log: the state before the failed message. An
    /// error leaves the instance in no known state.
    pub(super) fn roll_back(
        &mut self,
        instance: &mut Instance,
        module: &LoadedModule,
        limits: &Limits,
    ) -> Result<(), WasmError> {
        self.stats.rollbacks += 1;
        match &self.checkpoint {
            Checkpoint::Fresh => reinstantiate(instance, module, limits, true)?,
            Checkpoint::Snapshot(s) => apply_snapshot(module, limits, instance, s)?,
        }
        if self.log.is_empty() {
            return Ok(());
        }
        let log = std::mem::take(&mut self.log);
        for input in &log {
            self.stats.replayed += 1;
            match call_handle(instance, input, limits, None) {
                Ok(r) if !r.has_error() => {}
                Ok(_) => return Err(WasmError::Host("a replayed message failed".into())),
                Err(CallError::Wasm(e)) => {
                    return Err(WasmError::Host(format!(
                        "a replayed message trapped: {e:#}"
                    )));
                }
                Err(e) => return Err(WasmError::Host(e.to_string())),
            }
        }
        // Failures in a row must not replay the same log again and again.
        self.take_checkpoint(instance, module);
        Ok(())
    }
}

/// Copy memory and mutable globals into `into`, reusing its buffers.
pub(super) fn capture(instance: &mut Instance, into: &mut Snapshot) {
    let Instance { store, bound } = instance;
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
pub(super) fn apply_snapshot(
    module: &LoadedModule,
    limits: &Limits,
    instance: &mut Instance,
    snapshot: &Snapshot,
) -> Result<(), WasmError> {
    if snapshot.globals.len() != instance.bound.globals.len() {
        return Err(WasmError::Snapshot(format!(
            "snapshot has {} globals, the module {}",
            snapshot.globals.len(),
            instance.bound.globals.len()
        )));
    }
    if instance.bound.memory.data_size(&instance.store) > snapshot.memory.len() {
        reinstantiate(instance, module, limits, false)?;
    }
    let Instance { store, bound } = instance;
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
