//! Metering: what every evaluated message cost, and running totals per process and per node.
//!
//! The hot path is [`Meter::record`]: one uncontended lock on the accumulator of the executor
//! that ran the message (each executor has its own, and only readers ever compete for it), no
//! global lock. Readers merge the accumulators. Totals are plain data that serialize to JSON
//! for `~meta@1.0` and for the store ([`Meter::persist`] / [`Meter::restore`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError};

/// The store key under which [`Meter::persist`] keeps the totals.
pub const STORE_KEY: &str = "totals";

/// What one evaluated message cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct MessageRecord {
    /// Process ID.
    pub process: String,
    /// Message ID.
    pub message: String,
    /// Fuel consumed (wasm instructions, as wasmtime counts them).
    pub fuel: u64,
    /// Wall-clock time of the evaluation, in ns.
    pub wall_ns: u64,
    /// Largest linear memory size during the evaluation, in bytes.
    pub peak_memory_bytes: u64,
    /// Executor that ran it.
    pub executor: usize,
    /// CPU that executor is pinned to (`None` when unpinned).
    pub cpu: Option<usize>,
    /// Whether the evaluation ended in an error (trap, out of fuel, memory limit, `Error`).
    pub error: bool,
}

impl MessageRecord {
    /// The record of one evaluation by the process runtime, run by `executor` on `cpu`.
    pub fn of_evaluation(
        process: &str,
        message: &str,
        evaluation: &crate::wasm::Evaluation,
        executor: usize,
        cpu: Option<usize>,
    ) -> MessageRecord {
        MessageRecord {
            process: process.to_string(),
            message: message.to_string(),
            fuel: evaluation.metering.fuel,
            wall_ns: evaluation.metering.wall_ns,
            peak_memory_bytes: evaluation.metering.memory_bytes,
            executor,
            cpu,
            error: evaluation.failure.is_some() || evaluation.result.has_error(),
        }
    }
}

/// Running totals over many messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct Totals {
    /// Messages evaluated.
    pub messages: u64,
    /// Of which ended in an error.
    pub errors: u64,
    /// Fuel consumed.
    pub fuel: u64,
    /// Wall-clock ns spent evaluating.
    pub wall_ns: u64,
    /// Memory held over time: the sum over messages of peak memory × wall time, in byte-seconds.
    #[serde(rename = "memory-byte-seconds", with = "byte_seconds")]
    pub memory_byte_ns: u128,
    /// The largest peak memory of any message, in bytes.
    pub peak_memory_bytes: u64,
}

impl Totals {
    /// Add one message.
    pub fn add(&mut self, record: &MessageRecord) {
        self.messages = self.messages.saturating_add(1);
        self.errors = self.errors.saturating_add(u64::from(record.error));
        self.fuel = self.fuel.saturating_add(record.fuel);
        self.wall_ns = self.wall_ns.saturating_add(record.wall_ns);
        self.memory_byte_ns = self
            .memory_byte_ns
            .saturating_add(u128::from(record.peak_memory_bytes) * u128::from(record.wall_ns));
        self.peak_memory_bytes = self.peak_memory_bytes.max(record.peak_memory_bytes);
    }

    /// Add other totals.
    pub fn merge(&mut self, other: &Totals) {
        self.messages = self.messages.saturating_add(other.messages);
        self.errors = self.errors.saturating_add(other.errors);
        self.fuel = self.fuel.saturating_add(other.fuel);
        self.wall_ns = self.wall_ns.saturating_add(other.wall_ns);
        self.memory_byte_ns = self.memory_byte_ns.saturating_add(other.memory_byte_ns);
        self.peak_memory_bytes = self.peak_memory_bytes.max(other.peak_memory_bytes);
    }
}

/// `memory_byte_ns` is kept exact in memory and written as byte-seconds (a JSON number fits no
/// u128): `1.5` means one byte held for 1.5 s.
mod byte_seconds {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(byte_ns: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(*byte_ns as f64 / 1e9)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let seconds = f64::deserialize(d)?;
        if !seconds.is_finite() || seconds < 0.0 {
            return Err(serde::de::Error::custom(format!(
                "memory byte-seconds must be a finite number >= 0, got {seconds}"
            )));
        }
        Ok((seconds * 1e9) as u128)
    }
}

/// Everything the meter knows: node totals and per-process totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct MeterTotals {
    /// The whole node.
    pub node: Totals,
    /// Per process ID.
    pub processes: BTreeMap<String, Totals>,
}

#[derive(Debug, Default)]
struct Accumulator {
    node: Totals,
    processes: HashMap<String, Totals>,
    /// Evaluation times since the node started, for the `/metrics` histogram.
    times: Durations,
}

/// Upper bounds (seconds) of the evaluation-time histogram: 100 µs to the 30 s default
/// message timeout, in 1-2.5-5 steps.
pub const EVALUATION_BUCKETS: [f64; 17] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// A distribution of evaluation times: per-bucket counts (not cumulative; the last one is
/// everything above the largest bound), their sum and count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Durations {
    /// Messages per bucket of [`EVALUATION_BUCKETS`], then one for the rest.
    pub buckets: [u64; EVALUATION_BUCKETS.len() + 1],
    /// Sum of the times, in nanoseconds.
    pub sum_ns: u128,
    /// Number of messages.
    pub count: u64,
}

impl Durations {
    fn add(&mut self, wall_ns: u64) {
        let seconds = wall_ns as f64 / 1e9;
        let bucket = EVALUATION_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(EVALUATION_BUCKETS.len());
        self.buckets[bucket] += 1;
        self.sum_ns += u128::from(wall_ns);
        self.count += 1;
    }

    fn merge(&mut self, other: &Durations) {
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets) {
            *mine += theirs;
        }
        self.sum_ns += other.sum_ns;
        self.count += other.count;
    }
}

/// The node's meter. Cloning is cheap and shares the totals.
#[derive(Debug, Clone)]
pub struct Meter {
    shards: Arc<[Mutex<Accumulator>]>,
}

impl Meter {
    /// A meter with one accumulator per executor (`executors` of 0 counts as 1).
    pub fn new(executors: usize) -> Meter {
        let shards: Vec<Mutex<Accumulator>> = (0..executors.max(1))
            .map(|_| Mutex::new(Accumulator::default()))
            .collect();
        Meter {
            shards: Arc::from(shards),
        }
    }

    fn shard(&self, executor: usize) -> MutexGuard<'_, Accumulator> {
        let shard = &self.shards[executor % self.shards.len()];
        // Totals are plain counters: a panic elsewhere cannot leave them unusable.
        shard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Add one evaluated message to its process' and the node's totals.
    pub fn record(&self, record: &MessageRecord) {
        let mut shard = self.shard(record.executor);
        shard.node.add(record);
        shard.times.add(record.wall_ns);
        match shard.processes.get_mut(&record.process) {
            Some(totals) => totals.add(record),
            None => {
                let mut totals = Totals::default();
                totals.add(record);
                shard.processes.insert(record.process.clone(), totals);
            }
        }
    }

    /// The node's totals.
    pub fn node_totals(&self) -> Totals {
        let mut node = Totals::default();
        for i in 0..self.shards.len() {
            node.merge(&self.shard(i).node);
        }
        node
    }

    /// How long evaluations took since the node started, merged over the executors.
    pub fn durations(&self) -> Durations {
        let mut all = Durations::default();
        for i in 0..self.shards.len() {
            all.merge(&self.shard(i).times);
        }
        all
    }

    /// One process' totals (`None` if it was never metered).
    pub fn process_totals(&self, process: &str) -> Option<Totals> {
        let mut found: Option<Totals> = None;
        for i in 0..self.shards.len() {
            if let Some(t) = self.shard(i).processes.get(process) {
                found.get_or_insert_with(Totals::default).merge(t);
            }
        }
        found
    }

    /// Every total, merged over the executors.
    pub fn totals(&self) -> MeterTotals {
        let mut all = MeterTotals::default();
        for i in 0..self.shards.len() {
            let shard = self.shard(i);
            all.node.merge(&shard.node);
            for (id, t) in &shard.processes {
                all.processes.entry(id.clone()).or_default().merge(t);
            }
        }
        all
    }

    /// Add totals from elsewhere (a previous run, read back from the store).
    pub fn absorb(&self, totals: &MeterTotals) {
        self.shard(0).node.merge(&totals.node);
        for (id, t) in &totals.processes {
            let executor = crate::exec::executor_for(id, self.shards.len());
            self.shard(executor)
                .processes
                .entry(id.clone())
                .or_default()
                .merge(t);
        }
    }

    /// The `metering` section of `~meta@1.0/info`: node totals, the number of metered
    /// processes and the node totals per executor.
    pub fn to_json(&self) -> serde_json::Value {
        let mut node = Totals::default();
        let mut processes = std::collections::HashSet::new();
        let mut per_executor = Vec::with_capacity(self.shards.len());
        for i in 0..self.shards.len() {
            let shard = self.shard(i);
            node.merge(&shard.node);
            processes.extend(shard.processes.keys().cloned());
            per_executor.push(shard.node.clone());
        }
        serde_json::json!({
            "node": node,
            "processes": processes.len(),
            "per-executor": per_executor,
        })
    }

    /// Write the totals to the store under [`STORE_KEY`].
    pub fn persist(&self, store: &Store) -> Result<(), StoreError> {
        let value = serde_json::to_value(self.totals())
            .map_err(|e| StoreError::Database(format!("cannot encode metering totals: {e}")))?;
        store.put_metering(STORE_KEY, &value)
    }

    /// Add the totals saved by [`Meter::persist`] (nothing when there are none).
    pub fn restore(&self, store: &Store) -> Result<(), StoreError> {
        let Some(value) = store.metering(STORE_KEY)? else {
            return Ok(());
        };
        let totals: MeterTotals =
            serde_json::from_value(value).map_err(|e| StoreError::Corrupt {
                what: format!("metering {STORE_KEY}"),
                message: e.to_string(),
            })?;
        self.absorb(&totals);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(process: &str, executor: usize, fuel: u64, error: bool) -> MessageRecord {
        MessageRecord {
            process: process.into(),
            message: format!("m-{fuel}"),
            fuel,
            wall_ns: 2_000_000_000,
            peak_memory_bytes: 1000 + fuel,
            executor,
            cpu: Some(executor),
            error,
        }
    }

    #[test]
    fn totals_per_process_and_node() {
        let meter = Meter::new(2);
        meter.record(&record("a", 0, 10, false));
        meter.record(&record("a", 0, 20, true));
        meter.record(&record("b", 1, 5, false));
        let a = meter.process_totals("a").unwrap();
        assert_eq!((a.messages, a.errors, a.fuel), (2, 1, 30));
        assert_eq!(a.peak_memory_bytes, 1020);
        assert_eq!(a.memory_byte_ns, (1010 + 1020) * 2_000_000_000);
        let node = meter.node_totals();
        assert_eq!((node.messages, node.errors, node.fuel), (3, 1, 35));
        assert_eq!(node.wall_ns, 6_000_000_000);
        assert!(meter.process_totals("c").is_none());
        let json = meter.to_json();
        assert_eq!(json["node"]["messages"], 3);
        assert_eq!(
            json["node"]["memory-byte-seconds"],
            2.0 * (1010 + 1020 + 1005) as f64
        );
        assert_eq!(json["processes"], 2);
        assert_eq!(json["per-executor"][1]["fuel"], 5);
        // Every message took 2 s: all three fall in the (1 s, 2.5 s] bucket.
        let times = meter.durations();
        assert_eq!((times.count, times.sum_ns), (3, 6_000_000_000));
        let bucket = EVALUATION_BUCKETS.iter().position(|b| *b == 2.5).unwrap();
        assert_eq!(times.buckets[bucket], 3);
        assert_eq!(times.buckets.iter().sum::<u64>(), 3);
    }

    #[test]
    fn totals_round_trip_through_json_and_merge() {
        let meter = Meter::new(3);
        meter.record(&record("a", 2, 7, false));
        meter.record(&record("b", 0, 9, true));
        let saved = serde_json::to_value(meter.totals()).unwrap();
        let back: MeterTotals = serde_json::from_value(saved).unwrap();
        assert_eq!(back, meter.totals());
        let other = Meter::new(1);
        other.absorb(&back);
        other.absorb(&back);
        assert_eq!(other.node_totals().messages, 4);
        assert_eq!(other.process_totals("a").unwrap().fuel, 14);
        let bad = serde_json::json!({"node": {"memory-byte-seconds": -1.0}});
        assert!(serde_json::from_value::<MeterTotals>(bad).is_err());
    }

    #[test]
    fn persist_and_restore_through_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let meter = Meter::new(2);
        meter.restore(&store).unwrap();
        assert_eq!(meter.node_totals(), Totals::default());
        meter.record(&record("p", 1, 42, false));
        meter.persist(&store).unwrap();
        let restarted = Meter::new(4);
        restarted.restore(&store).unwrap();
        assert_eq!(restarted.totals(), meter.totals());
    }
}
