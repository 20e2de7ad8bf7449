//! The Compute Unit: evaluates processes from their schedule and keeps their results.
//!
//! - [`held`]: what an executor holds per process; evaluation in slot order, results,
//!   checkpoints, dry-runs.
//! - [`message`]: the message and environment JSON a process is fed.
//! - [`output`]: result shapes as AO's CU answers them.
//! - [`query`]: validated inputs of the CU API (results ranges and cursors, dry-run bodies).
//! - [`results`]: pages of stored results.
//! - [`checkpoint`]: compressed, digest-checked checkpoint frames.
//! - [`cron`](mod@cron): the cron messages a process' `Cron-Interval` tags ask for, evaluated between its scheduled ones.
//! - [`unit`](mod@unit): the [`ComputeUnit`] that routes processes to executors and answers the API.
//! - [`push`]: delivery of outbox messages to processes on this node.
//! - [`resident`]: the memory budget of resident processes; least-recently-used eviction.
//! - [`hbu`]: HyperBEAM mode, this CU as the one HyperBEAM's `genesis-wasm@1.0` runs.

pub mod blocks;
mod bridge;
pub mod checkpoint;
pub mod cron;
pub mod cron_page;
pub mod hbu;
pub mod held;
pub mod imported;
pub mod loaded;
pub mod message;
pub mod output;
pub mod publish;
pub mod push;
pub mod query;
pub mod resident;
pub mod results;
pub mod unit;
pub mod weave;

pub use held::{CheckpointEvery, Context, Cost, CostSink, Held};
pub use resident::MemoryBudget;
pub use unit::{ComputeUnit, Peers, Settings, State};

use crate::store::StoreError;

/// The outbox of one newly evaluated message, for the messenger to push.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbox {
    /// The process that evaluated it.
    pub process: String,
    /// The message evaluated.
    pub message: String,
    /// Its slot (for a cron message: the slot it follows).
    pub slot: u64,
    /// The cron that generated the message (`None`: a scheduled message).
    pub cron: Option<String>,
    /// The result (`Messages`, `Spawns`, `Assignments`, ...).
    pub result: serde_json::Value,
}

/// Why the CU could not answer.
#[derive(Debug, thiserror::Error)]
pub enum CuError {
    /// The request is malformed.
    #[error(transparent)]
    Invalid(#[from] query::InvalidInput),
    /// The node's access lists refuse the process (config `allow-processes`,
    /// `deny-processes`, `allow-owners`).
    #[error(transparent)]
    Refused(#[from] crate::access::Refused),
    /// No such process on this node.
    #[error("process {0} is not known to this node")]
    UnknownProcess(String),
    /// No such message in the process' schedule.
    #[error("message {message} is not scheduled on process {process}")]
    UnknownMessage {
        /// The message.
        message: String,
        /// The process.
        process: String,
    },
    /// A slot past the end of the schedule.
    #[error("process {process} has no slot {slot} (its latest is {latest})")]
    UnknownSlot {
        /// The process.
        process: String,
        /// The slot asked for.
        slot: u64,
        /// Its latest slot.
        latest: u64,
    },
    /// The process' module cannot run (missing, does not load, bad limit tags).
    #[error("{0}")]
    Module(String),
    /// The stored schedule is inconsistent.
    #[error("schedule: {0}")]
    Schedule(String),
    /// The process' memory alone is over the node's memory budget
    /// (`process-memory-budget-bytes`): it is not loaded.
    #[error(
        "process {process} needs {bytes} bytes of memory, more than this node's whole \
         process memory budget of {budget} bytes (process-memory-budget-bytes)"
    )]
    OverBudget {
        /// The process.
        process: String,
        /// Its memory.
        bytes: u64,
        /// The budget.
        budget: u64,
    },
    /// The process' executor queue is full: retry later.
    #[error("{0}")]
    Busy(String),
    /// The executor pool lost the job (it panicked, or the pool is stopping).
    #[error("executor: {0}")]
    Exec(String),
    /// The process' remote scheduler could not be read, or its schedule failed verification
    /// (the message names the slot).
    #[error("{0}")]
    Remote(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else that is the node's fault.
    #[error("{0}")]
    Internal(String),
}

impl CuError {
    /// A short stable identifier of the error kind, for `{"error", "kind"}` answers.
    pub fn kind(&self) -> &'static str {
        match self {
            CuError::Invalid(_) => "bad-request",
            CuError::Refused(refused) => refused.kind(),
            CuError::UnknownProcess(_)
            | CuError::UnknownMessage { .. }
            | CuError::UnknownSlot { .. } => "not-found",
            CuError::Module(_) => "module",
            CuError::OverBudget { .. } => "memory-budget",
            CuError::Schedule(_) => "schedule",
            CuError::Busy(_) => "busy",
            CuError::Exec(_) => "executor",
            CuError::Remote(_) => "scheduler",
            CuError::Store(_) => "store",
            CuError::Internal(_) => "internal",
        }
    }
}
