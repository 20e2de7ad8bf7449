//! The pinned executor pool: one OS thread per chosen core, each owning the processes placed
//! on it.
//!
//! - [`plan`]: which CPUs get an executor ([`ExecutorsSetting`] → [`CorePlan`]).
//! - [`placement`]: which executor owns a process ([`executor_for`], stable across restarts).
//! - [`Pool`]: the threads, their bounded queues and the ways to submit a job (async, blocking,
//!   or "fail if busy"); a job is a closure that gets `&mut` [`Shard`], the executor's map of
//!   process states, so evaluation takes no lock.
//! - [`PoolMonitor`]: per-executor counters for `~meta@1.0`.

pub mod placement;
pub mod plan;
mod pool;
mod shard;
mod stats;

pub use placement::executor_for;
pub use plan::{CorePlan, ExecutorsSetting, PlanError};
pub use pool::{Pending, Pool, Route, Shutdown};
pub use shard::Shard;
pub use stats::{ExecutorStats, PoolMonitor};

/// Why a job did not produce its result.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The executor's queue is full (only from `try_submit`; the others wait instead).
    #[error("executor {executor} is busy: its queue of {capacity} jobs is full; retry later")]
    Busy {
        /// The executor.
        executor: usize,
        /// Its queue capacity.
        capacity: usize,
    },
    /// The job panicked. The executor goes on; the process' in-memory state was dropped.
    #[error("a job for {} on executor {executor} panicked: {message}", process.as_deref().unwrap_or("no process"))]
    Panicked {
        /// The executor.
        executor: usize,
        /// The process the job was for, if it was routed by process.
        process: Option<String>,
        /// The panic message.
        message: String,
    },
    /// The pool is stopping or stopped; the job did not run.
    #[error("the executor pool is shut down")]
    ShutDown,
    /// A job was routed to an executor index the pool does not have.
    #[error("no executor {index}: the pool has {count}")]
    NoSuchExecutor {
        /// Index asked for.
        index: usize,
        /// Executors in the pool.
        count: usize,
    },
    /// A pool needs at least one executor.
    #[error("the executor plan is empty")]
    NoExecutors,
    /// The OS would not start an executor thread.
    #[error("cannot start executor thread {index}: {source}")]
    Spawn {
        /// The executor.
        index: usize,
        /// The OS error.
        source: std::io::Error,
    },
}
