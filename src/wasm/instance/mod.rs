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
//!
//! The parts: `abi` instantiates the module and calls `handle`, `input` and `result` are what
//! goes in and comes out, `failure` says why a call failed, `rollback` keeps the checkpoint and
//! the replay log.

mod abi;
mod failure;
mod input;
mod result;
mod rollback;

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use abi::{Instance, call_handle, call_handle_len, instantiate};
use failure::{buffer_allocation_error, classify};
use rollback::{Checkpoint, Journal, apply_snapshot, capture};

pub use abi::CallError;
pub use failure::Failure;
pub use input::MessageInput;
pub use result::{EvalResult, ResultError, parse_result};
pub use rollback::{CheckpointPolicy, ProcessStats};

use super::engine::WasmEngine;
use super::error::WasmError;
use super::limits::Limits;
use super::loaded::LoadedModule;
use super::snapshot::Snapshot;

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

/// A process: one instance of a module with its state. `Send`: an executor thread owns it.
pub struct Process {
    module: Arc<LoadedModule>,
    limits: Limits,
    instance: Instance,
    journal: Journal,
    lost: Option<String>,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("module", &self.module)
            .field("limits", &self.limits)
            .field("stats", &self.journal.stats)
            .finish_non_exhaustive()
    }
}

impl Process {
    /// Instantiate `module` as a new process (running its constructors) under `limits`.
    pub fn spawn(module: Arc<LoadedModule>, limits: Limits) -> Result<Process, WasmError> {
        let instance = instantiate(&module, &limits, true)?;
        Ok(Process::assemble(
            module,
            limits,
            instance,
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
        let mut instance = instantiate(&module, &limits, false)?;
        apply_snapshot(&module, &limits, &mut instance, snapshot)?;
        let checkpoint = Checkpoint::Snapshot(snapshot.clone());
        Ok(Process::assemble(module, limits, instance, checkpoint))
    }

    fn assemble(
        module: Arc<LoadedModule>,
        limits: Limits,
        instance: Instance,
        checkpoint: Checkpoint,
    ) -> Process {
        let journal = Journal::new(checkpoint, instance.memory_bytes());
        Process {
            module,
            limits,
            instance,
            journal,
            lost: None,
        }
    }

    /// Give the process its WeaveDrive (kept through rollbacks and re-instantiations).
    pub fn attach_drive(&mut self, drive: Arc<crate::wasm::weavedrive::Drive>) {
        self.instance.store.data_mut().drive = Some(drive);
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
        self.journal.policy = policy;
    }

    /// Counters of checkpoints and rollbacks.
    pub fn stats(&self) -> ProcessStats {
        self.journal.stats
    }

    /// Current memory size in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.instance.memory_bytes()
    }

    /// A copy of the current state (memory and mutable globals), for the store to persist.
    pub fn snapshot(&mut self) -> Snapshot {
        let mut s = Snapshot {
            module_hash: *self.module.hash.as_bytes(),
            globals: Vec::new(),
            memory: Vec::new(),
        };
        capture(&mut self.instance, &mut s);
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
    pub fn call_handle_only(&mut self, input: &MessageInput) -> Result<usize, CallError> {
        let ticks = WasmEngine::ticks_for(self.limits.timeout);
        call_handle_len(&mut self.instance, input, &self.limits, Some(ticks))
    }

    /// Evaluate one message and forget it (a dry-run): whatever happens, the state goes back
    /// to before the message, through the checkpoint and replay log that protect every
    /// message, not through a copy of the whole memory taken beforehand.
    pub fn evaluate_discarded(&mut self, input: MessageInput) -> Evaluation {
        // Rolling back replays the log since the last checkpoint, which may hold up to the
        // replay budget (seconds for a large memory): checkpoint first, so that the discard
        // costs two copies of the memory (into the reused checkpoint buffer, and back), and
        // leaves a fresh checkpoint behind for the next rollback.
        if self.lost.is_none() && !self.journal.state_is_checkpointed() {
            self.journal
                .take_checkpoint(&mut self.instance, &self.module);
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
        self.journal.stats.messages += 1;
        self.instance.store.data_mut().limiter.exceeded = false;
        let ticks = WasmEngine::ticks_for(self.limits.timeout);
        let call = call_handle(&mut self.instance, &input, &self.limits, Some(ticks));
        let fuel = self
            .limits
            .compute
            .saturating_sub(self.instance.store.get_fuel().unwrap_or(0));
        let memory_bytes = self.memory_bytes();
        let exceeded = self.instance.store.data().limiter.exceeded;
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
                self.journal
                    .record(input, wall, &mut self.instance, &self.module);
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

    /// Back to the state before the failed message; when that fails, the process is lost and
    /// every later message answers why.
    fn rollback(&mut self) {
        let rolled = self
            .journal
            .roll_back(&mut self.instance, &self.module, &self.limits);
        if let Err(e) = rolled {
            self.lost = Some(format!("process state lost after a failed rollback: {e}"));
            tracing::error!(module = %self.module.hash.to_hex(), "{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_is_send() {
        fn send<T: Send>() {}
        send::<Process>();
    }
}
