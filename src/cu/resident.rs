//! The memory budget of resident processes (config `process-memory-budget-bytes`).
//!
//! Every process an executor holds keeps its instance and linear memory in RAM. The budget
//! bounds the sum over all executors: after each job, while the node is over it, the least
//! recently used idle processes of that executor are checkpointed (when they evaluated past
//! their last checkpoint) and dropped; when that executor has none left to drop, the other
//! executors are asked to drop theirs at their next job boundary ([`ComputeUnit`] does that).
//! A dropped process comes back transparently on its next message or read: [`Held::load`]
//! restores its latest checkpoint, replaying the slots after it.
//!
//! Recency is a node-wide counter stamped on a process at every job, so each executor drops
//! its own oldest first; the order across executors is the order in which they are asked,
//! which keeps the rule simple at the cost of an exact global LRU.
//!
//! A process whose memory alone exceeds the budget is refused when it loads
//! ([`CuError::OverBudget`]): it would evict everything else and still not fit.
//!
//! [`ComputeUnit`]: super::ComputeUnit

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::CuError;
use super::held::{Context, Held};
use crate::exec::Shard;

/// The node-wide budget and what is resident under it.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    resident_bytes: AtomicU64,
    resident: AtomicU64,
    evictions: AtomicU64,
    restores: AtomicU64,
    refusals: AtomicU64,
    clock: AtomicU64,
    /// Processes dropped and not loaded again since (a load of one is a restore).
    evicted: Mutex<HashSet<String>>,
}

impl MemoryBudget {
    /// A budget of `limit` bytes for all resident processes together.
    pub fn new(limit: u64) -> MemoryBudget {
        MemoryBudget {
            limit,
            resident_bytes: AtomicU64::new(0),
            resident: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            restores: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
            clock: AtomicU64::new(0),
            evicted: Mutex::new(HashSet::new()),
        }
    }

    /// No bound (library users and tests that do not exercise eviction).
    pub fn unlimited() -> MemoryBudget {
        MemoryBudget::new(u64::MAX)
    }

    /// The budget in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes of memory of the processes resident now.
    pub fn resident_bytes(&self) -> u64 {
        self.resident_bytes.load(Ordering::Relaxed)
    }

    /// Whether the resident processes use more than the budget.
    pub fn over(&self) -> bool {
        self.resident_bytes() > self.limit
    }

    /// `resident-processes`, `resident-bytes`, the budget, evictions, restores and refusals,
    /// for `~meta@1.0/info/metering`.
    pub fn to_json(&self) -> Value {
        json!({
            "budget-bytes": self.limit,
            "resident-processes": self.resident.load(Ordering::Relaxed),
            "resident-bytes": self.resident_bytes(),
            "evictions": self.evictions.load(Ordering::Relaxed),
            "restores": self.restores.load(Ordering::Relaxed),
            "refused-over-budget": self.refusals.load(Ordering::Relaxed),
        })
    }

    fn now(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    fn admitted(&self, process_id: &str, bytes: u64) {
        self.resident.fetch_add(1, Ordering::Relaxed);
        self.resident_bytes.fetch_add(bytes, Ordering::Relaxed);
        let mut evicted = self.evicted.lock().unwrap_or_else(|p| p.into_inner());
        if evicted.remove(process_id) {
            self.restores.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn resized(&self, from: u64, to: u64) {
        if to >= from {
            self.resident_bytes.fetch_add(to - from, Ordering::Relaxed);
        } else {
            self.resident_bytes.fetch_sub(from - to, Ordering::Relaxed);
        }
    }

    fn released(&self, bytes: u64) {
        self.resident.fetch_sub(1, Ordering::Relaxed);
        self.resident_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    fn dropped(&self, process_id: &str, bytes: u64) {
        self.resident.fetch_sub(1, Ordering::Relaxed);
        self.resident_bytes.fetch_sub(bytes, Ordering::Relaxed);
        self.evictions.fetch_add(1, Ordering::Relaxed);
        self.evicted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(process_id.to_string());
    }
}

/// The executor and CPU a job runs on, as [`Held::advance`] reports them in its costs.
pub type Executor = (usize, Option<usize>);

/// Run `work` on `process_id`'s held state, loading it first when it is not resident (refused
/// when its memory alone is over the budget), then keep this executor within the budget.
pub fn with_held<R>(
    shard: &mut Shard<Held>,
    ctx: &Context,
    process_id: &str,
    work: impl FnOnce(&mut Held, Executor) -> Result<R, CuError>,
) -> Result<R, CuError> {
    let executor = (shard.executor(), shard.cpu());
    let held = shard.try_get_or_insert_with(process_id, || admit(ctx, process_id))?;
    let outcome = work(held, executor);
    let before = held.resident_bytes();
    let now = held.touch(ctx.budget.now());
    ctx.budget.resized(before, now);
    evict_idle(shard, ctx, Some(process_id));
    outcome
}

/// Load a process under the budget.
fn admit(ctx: &Context, process_id: &str) -> Result<Held, CuError> {
    let mut held = Held::load(ctx, process_id)?;
    let bytes = held.touch(ctx.budget.now());
    if bytes > ctx.budget.limit() {
        ctx.budget.refusals.fetch_add(1, Ordering::Relaxed);
        return Err(CuError::OverBudget {
            process: process_id.to_string(),
            bytes,
            budget: ctx.budget.limit(),
        });
    }
    ctx.budget.admitted(process_id, bytes);
    Ok(held)
}

/// Drop `process_id` from this executor without a checkpoint (its stored state was replaced,
/// so the held one is stale); the next job loads it from the store. Not an eviction.
pub fn forget(shard: &mut Shard<Held>, ctx: &Context, process_id: &str) {
    if let Some(held) = shard.remove(process_id) {
        ctx.budget.released(held.resident_bytes());
    }
}

/// Drop this executor's least recently used processes (never `busy`) while the node is over
/// its budget. Returns whether the node is within it afterwards.
pub fn evict_idle(shard: &mut Shard<Held>, ctx: &Context, busy: Option<&str>) -> bool {
    while ctx.budget.over() {
        let oldest = shard
            .iter()
            .filter(|(pid, _)| Some(*pid) != busy)
            .min_by_key(|(_, held)| held.last_used())
            .map(|(pid, _)| pid.to_string());
        let Some(pid) = oldest else {
            return false;
        };
        let Some(mut held) = shard.remove(&pid) else {
            return false;
        };
        if held.evaluated_since_checkpoint()
            && let Err(e) = held.checkpoint(ctx, &pid)
        {
            // Nothing is lost: the results are stored, and a restore replays from the
            // previous checkpoint.
            tracing::warn!(process = %pid, error = %e, "checkpoint before eviction failed");
        }
        ctx.budget.dropped(&pid, held.resident_bytes());
        tracing::debug!(
            process = %pid,
            bytes = held.resident_bytes(),
            resident = ctx.budget.resident_bytes(),
            "evicted: over the memory budget"
        );
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_admissions_resizes_and_drops() {
        let budget = MemoryBudget::new(100);
        budget.admitted("a", 60);
        budget.admitted("b", 30);
        assert!(!budget.over());
        budget.resized(30, 50);
        assert!(budget.over(), "60 + 50 > 100");
        budget.dropped("a", 60);
        assert_eq!(budget.resident_bytes(), 50);
        budget.admitted("a", 60);
        let report = budget.to_json();
        assert_eq!(report["resident-processes"], 2);
        assert_eq!(report["evictions"], 1);
        assert_eq!(report["restores"], 1, "a came back after its eviction");
        budget.resized(50, 10);
        assert_eq!(budget.resident_bytes(), 70);
    }
}
