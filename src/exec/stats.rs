//! Per-executor counters, written by the executor thread with relaxed atomics and read by
//! anyone (`~meta@1.0/info/executors`) without stopping the executors.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use serde::Serialize;

/// Live counters of one executor.
#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) index: usize,
    pub(crate) cpu: Option<usize>,
    pub(crate) capacity: usize,
    pub(crate) started: Instant,
    pub(crate) pinned: AtomicBool,
    /// Jobs in the queue. Incremented after a send and decremented after a receive, so it can
    /// be briefly negative; readers clamp at 0.
    pub(crate) queued: AtomicI64,
    pub(crate) jobs_done: AtomicU64,
    pub(crate) jobs_panicked: AtomicU64,
    pub(crate) busy_ns: AtomicU64,
    /// When the running job began, in ns since `started` plus one; 0 while idle.
    pub(crate) job_since: AtomicU64,
    pub(crate) processes: AtomicUsize,
}

impl Counters {
    pub(crate) fn new(index: usize, cpu: Option<usize>, capacity: usize) -> Counters {
        Counters {
            index,
            cpu,
            capacity,
            started: Instant::now(),
            pinned: AtomicBool::new(false),
            queued: AtomicI64::new(0),
            jobs_done: AtomicU64::new(0),
            jobs_panicked: AtomicU64::new(0),
            busy_ns: AtomicU64::new(0),
            job_since: AtomicU64::new(0),
            processes: AtomicUsize::new(0),
        }
    }

    pub(crate) fn now_ns(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn snapshot(&self) -> ExecutorStats {
        let uptime_ns = self.now_ns();
        let since = self.job_since.load(Relaxed);
        // A long job in progress counts as busy time already.
        let running = if since == 0 {
            0
        } else {
            uptime_ns.saturating_sub(since - 1)
        };
        let busy_ns = self.busy_ns.load(Relaxed).saturating_add(running);
        ExecutorStats {
            index: self.index,
            cpu: self.cpu,
            pinned: self.pinned.load(Relaxed),
            queue_depth: usize::try_from(self.queued.load(Relaxed).max(0)).unwrap_or(0),
            queue_capacity: self.capacity,
            jobs_done: self.jobs_done.load(Relaxed),
            jobs_panicked: self.jobs_panicked.load(Relaxed),
            busy: since != 0,
            busy_ns,
            uptime_ns,
            utilization: if uptime_ns == 0 {
                0.0
            } else {
                (busy_ns as f64 / uptime_ns as f64).min(1.0)
            },
            processes: self.processes.load(Relaxed),
        }
    }
}

/// A snapshot of one executor, as `~meta@1.0/info/executors` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ExecutorStats {
    /// Executor index.
    pub index: usize,
    /// The CPU it was planned on (`null` for an unpinned pool).
    pub cpu: Option<usize>,
    /// Whether the thread is pinned to that CPU (false where the OS refused).
    pub pinned: bool,
    /// Jobs waiting in its queue.
    pub queue_depth: usize,
    /// Most jobs the queue holds before submitters wait or get `Busy`.
    pub queue_capacity: usize,
    /// Jobs finished (panicked ones included).
    pub jobs_done: u64,
    /// Jobs that panicked.
    pub jobs_panicked: u64,
    /// Whether a job is running right now.
    pub busy: bool,
    /// Time spent running jobs, in ns.
    pub busy_ns: u64,
    /// Time since the executor started, in ns.
    pub uptime_ns: u64,
    /// `busy-ns / uptime-ns`.
    pub utilization: f64,
    /// Processes whose state this executor holds.
    pub processes: usize,
}

/// A cheap, cloneable, non-generic view of a pool's counters, for the HTTP side: it does not
/// keep the pool alive or open.
#[derive(Debug, Clone)]
pub struct PoolMonitor {
    pub(crate) counters: Arc<[Arc<Counters>]>,
}

impl PoolMonitor {
    /// One snapshot per executor, in index order.
    pub fn snapshot(&self) -> Vec<ExecutorStats> {
        self.counters.iter().map(|c| c.snapshot()).collect()
    }

    /// Number of executors.
    pub fn len(&self) -> usize {
        self.counters.len()
    }

    /// True for a pool without executors (never the case for a started pool).
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }

    /// The `executors` section of `~meta@1.0/info`: totals plus one entry per executor.
    pub fn to_json(&self) -> serde_json::Value {
        let executors = self.snapshot();
        serde_json::json!({
            "count": executors.len(),
            "pinned": executors.iter().all(|e| e.pinned),
            "queue-depth": executors.iter().map(|e| e.queue_depth).sum::<usize>(),
            "jobs-done": executors.iter().map(|e| e.jobs_done).sum::<u64>(),
            "processes": executors.iter().map(|e| e.processes).sum::<usize>(),
            "executors": executors,
        })
    }
}
