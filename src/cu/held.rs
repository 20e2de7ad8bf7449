//! What an executor holds for one process, and the work done there: load (restore the latest
//! checkpoint, or spawn fresh), evaluate the schedule in slot order, store each result, take
//! checkpoints, and evaluate dry-runs that leave no trace.
//!
//! Everything here runs on the process' executor thread (see [`crate::exec`]): the process
//! state is owned by that thread and never locked.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::checkpoint;
use super::cron::{Crons, Span, SpanAt};
use super::message::{process_env, process_message};
use super::output::{answer, result_json};
use super::{CuError, Outbox};
use crate::store::{Charge, ProcessRecord, ScheduledMessage, Store, StoredResult};
use crate::wasm::{Limits, MessageInput, ModuleCache, NodeLimits, Process, Snapshot};

/// How many scheduled messages are read from the store at a time.
const PAGE: usize = 256;

/// When checkpoints are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointEvery {
    /// After this many evaluated messages since the last checkpoint (0: never by count).
    pub messages: u64,
    /// After this much time since the last checkpoint, at the next message boundary (zero:
    /// never by time).
    pub interval: Duration,
}

/// What one evaluated message cost, for the node's meter: the meter's own record.
pub type Cost = crate::meter::MessageRecord;

/// Called with the cost of every evaluated message (dry-runs excluded).
pub type CostSink = Arc<dyn Fn(&Cost) + Send + Sync>;

/// What evaluation on an executor needs from the node.
pub struct Context {
    /// Durable state.
    pub store: Arc<Store>,
    /// Compiled modules.
    pub modules: Arc<ModuleCache>,
    /// Node limits that cap the processes' own.
    pub limits: NodeLimits,
    /// Checkpoint policy.
    pub checkpoints: CheckpointEvery,
    /// Where metering goes.
    pub meter: Option<CostSink>,
    /// Whether the CU generates cron messages (off where the scheduler sends them itself, as
    /// HyperBEAM does).
    pub cron: bool,
    /// The memory budget of all resident processes together.
    pub budget: Arc<super::resident::MemoryBudget>,
    /// Where WeaveDrive reads come from (`None`: no gateway, so a process' opens give nothing).
    pub weave: Option<Arc<dyn crate::wasm::weavedrive::Source>>,
    /// Where a process that starts cold looks for a checkpoint (`None`: it replays from 0).
    pub imports: Option<Arc<super::imported::ArweaveCheckpoints>>,
    /// Where local checkpoints are also published to Arweave (`None`: they are not).
    pub publisher: Option<Arc<super::publish::Publisher>>,
    /// Where block-based crons read the blocks (`None`: no gateway, such crons yield nothing).
    pub blocks: Option<Arc<super::blocks::GatewayBlocks>>,
    /// The price schedule every evaluation is charged by, in the store's ledger.
    pub price: Arc<crate::price::Schedule>,
}

impl Context {
    /// The charge of an evaluation metered as `cost`, to `owner`.
    pub fn charge(&self, cost: &Cost, owner: &str, dry_run: bool) -> Charge {
        self.price.charge(cost, owner, dry_run)
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("store", &self.store)
            .field("limits", &self.limits)
            .field("checkpoints", &self.checkpoints)
            .field("meter", &self.meter.is_some())
            .field("budget", &self.budget.limit())
            .finish_non_exhaustive()
    }
}

/// A process held by an executor: its instance and how far it has been evaluated.
pub struct Held {
    process: Process,
    env: Value,
    module_id: String,
    /// The next slot to evaluate.
    next: u64,
    /// Timestamp and block height of the last evaluated message (dry-runs default to them).
    last_timestamp: u64,
    last_block_height: u64,
    since_checkpoint: u64,
    checkpoint_at: Instant,
    /// Its crons, when it has any and the CU runs them.
    crons: Option<Crons>,
    /// Its memory as last counted against the node's budget.
    resident_bytes: u64,
    /// When it last ran a job, on the budget's clock (for least-recently-used eviction).
    last_used: u64,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            .field("module", &self.module_id)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl Held {
    /// The next slot this process will evaluate.
    pub fn next_slot(&self) -> u64 {
        self.next
    }

    /// Load a process: from its latest checkpoint when one restores, else fresh at slot 0.
    pub fn load(ctx: &Context, process_id: &str) -> Result<Held, CuError> {
        let record = ctx
            .store
            .process(process_id)?
            .ok_or_else(|| CuError::UnknownProcess(process_id.to_string()))?;
        let ProcessModule {
            record: module,
            loaded,
            limits,
        } = ProcessModule::of(ctx, &record)?;
        let env = process_env(&record, &module);
        let crons = match ctx.store.messages(process_id, 0, 0, 1)?.first() {
            Some(origin) if ctx.cron => Crons::of(&record, origin)?,
            _ => None,
        };
        let mut held = None;
        if let Some((slot, frame)) = ctx.store.latest_checkpoint(process_id, u64::MAX)? {
            match restore(ctx, process_id, &loaded, limits, slot, &frame) {
                Ok(process) => {
                    let (timestamp, block_height) = ctx
                        .store
                        .messages(process_id, slot, slot, 1)?
                        .first()
                        .map_or((0, 0), |m| {
                            (m.assignment.timestamp, m.assignment.block_height)
                        });
                    tracing::info!(process = process_id, slot, "restored from checkpoint");
                    held = Some(Held {
                        process,
                        env: env.clone(),
                        module_id: record.module.clone(),
                        next: slot + 1,
                        last_timestamp: timestamp,
                        last_block_height: block_height,
                        since_checkpoint: 0,
                        checkpoint_at: Instant::now(),
                        crons: None,
                        resident_bytes: 0,
                        last_used: 0,
                    });
                }
                Err(reason) => {
                    tracing::warn!(
                        process = process_id,
                        slot,
                        %reason,
                        "discarding a bad checkpoint; the process is rebuilt by replay"
                    );
                    ctx.store.remove_checkpoint(process_id, slot)?;
                }
            }
        }
        if held.is_none() {
            held = imported(ctx, process_id, &record.module, &loaded, limits, &env);
        }
        let mut held = match held {
            Some(h) => h,
            None => Held {
                process: Process::spawn(loaded, limits)
                    .map_err(|e| CuError::Module(format!("module {}: {e}", record.module)))?,
                env,
                module_id: record.module,
                next: 0,
                last_timestamp: 0,
                last_block_height: 0,
                since_checkpoint: 0,
                checkpoint_at: Instant::now(),
                crons: None,
                resident_bytes: 0,
                last_used: 0,
            },
        };
        held.crons = crons;
        if let Some(drive) = ctx.weave.clone().and_then(|source| {
            crate::wasm::weavedrive::Drive::for_process(source, &record.tags, &module.tags)
        }) {
            held.process.attach_drive(Arc::new(drive));
        }
        Ok(held)
    }

    /// Its memory as last counted against the budget ([`Held::touch`]).
    pub fn resident_bytes(&self) -> u64 {
        self.resident_bytes
    }

    /// When it last ran a job, on the budget's clock.
    pub fn last_used(&self) -> u64 {
        self.last_used
    }

    /// Mark it used at `now` and count its memory again; returns that memory in bytes.
    pub fn touch(&mut self, now: u64) -> u64 {
        self.last_used = now;
        self.resident_bytes = self.process.memory_bytes();
        self.resident_bytes
    }

    /// Whether it evaluated messages its latest checkpoint does not hold.
    pub fn evaluated_since_checkpoint(&self) -> bool {
        self.since_checkpoint > 0
    }

    /// Evaluate every scheduled slot up to `to` (inclusive; or as far as the schedule goes),
    /// storing each result. Returns the outbox of the slots evaluated for the first time.
    pub fn advance(
        &mut self,
        ctx: &Context,
        process_id: &str,
        to: u64,
        executor: (usize, Option<usize>),
    ) -> Result<Vec<Outbox>, CuError> {
        let mut outboxes = Vec::new();
        while self.next <= to {
            let page = ctx.store.messages(process_id, self.next, to, PAGE)?;
            if page.is_empty() {
                break;
            }
            let mut batch = Vec::with_capacity(page.len());
            for scheduled in &page {
                if scheduled.assignment.slot != self.next {
                    return Err(CuError::Schedule(format!(
                        "process {process_id} has no message at slot {} (found slot {})",
                        self.next, scheduled.assignment.slot
                    )));
                }
                if self.crons.is_some() && self.next > 0 {
                    // Outboxes leave in evaluation order: the slots before these crons first.
                    self.flush(ctx, process_id, &mut batch, &mut outboxes)?;
                    let right = scheduled.assignment.timestamp as i64;
                    self.run_crons(ctx, process_id, right, executor, &mut outboxes)?;
                }
                let (stored, charge) = if is_skipped(scheduled) {
                    (self.skip(scheduled), None)
                } else {
                    let (stored, record) = self.evaluate(process_id, scheduled, executor);
                    if let Some(meter) = &ctx.meter {
                        meter(&record);
                    }
                    let owner = scheduled.message.get("Owner").and_then(Value::as_str);
                    (
                        stored,
                        Some(ctx.charge(&record, owner.unwrap_or(""), false)),
                    )
                };
                if let Some(crons) = &mut self.crons {
                    crons.slot_done();
                }
                batch.push((scheduled.assignment.slot, stored, charge));
                // Results go to the store before any checkpoint that covers them.
                if self.checkpoint_due(ctx) {
                    self.flush(ctx, process_id, &mut batch, &mut outboxes)?;
                    self.checkpoint(ctx, process_id)?;
                }
            }
            self.flush(ctx, process_id, &mut batch, &mut outboxes)?;
        }
        Ok(outboxes)
    }

    /// Evaluate the cron messages after the last evaluated slot up to `horizon` (ms,
    /// exclusive), as a read "up to now" does. Returns their outboxes.
    pub fn advance_crons(
        &mut self,
        ctx: &Context,
        process_id: &str,
        horizon: i64,
        executor: (usize, Option<usize>),
    ) -> Result<Vec<Outbox>, CuError> {
        let mut outboxes = Vec::new();
        if self.crons.is_some() && self.next > 0 {
            self.run_crons(ctx, process_id, horizon, executor, &mut outboxes)?;
        }
        Ok(outboxes)
    }

    /// The crons between the last evaluated slot and `right` (ms, exclusive).
    fn run_crons(
        &mut self,
        ctx: &Context,
        process_id: &str,
        right: i64,
        executor: (usize, Option<usize>),
        outboxes: &mut Vec<Outbox>,
    ) -> Result<(), CuError> {
        let (Some(crons), Some(slot)) = (&mut self.crons, self.next.checked_sub(1)) else {
            return Ok(());
        };
        let left = crate::ao::cron::Block {
            height: self.last_block_height as i64,
            timestamp: self.last_timestamp as i64,
        };
        let at = SpanAt {
            ctx,
            process_id,
            executor,
        };
        let span = Span { slot, left, right };
        crons.run(&mut self.process, &self.env, at, span, outboxes)
    }

    fn evaluate(
        &mut self,
        process_id: &str,
        scheduled: &ScheduledMessage,
        (executor, cpu): (usize, Option<usize>),
    ) -> (StoredResult, Cost) {
        let message = process_message(scheduled, &self.module_id);
        let evaluation = self
            .process
            .evaluate(MessageInput::new(&message, &self.env));
        self.next = scheduled.assignment.slot + 1;
        self.last_timestamp = scheduled.assignment.timestamp;
        self.last_block_height = scheduled.assignment.block_height;
        self.since_checkpoint += 1;
        let record = Cost {
            process: process_id.to_string(),
            message: scheduled.id.clone(),
            fuel: evaluation.metering.fuel,
            wall_ns: evaluation.metering.wall_ns,
            peak_memory_bytes: evaluation.metering.memory_bytes,
            executor,
            cpu,
            error: evaluation.failure.is_some(),
        };
        let stored = StoredResult {
            message_id: scheduled.id.clone(),
            result: answer(&evaluation),
        };
        (stored, record)
    }

    /// Step over a slot HyperBEAM marked `Skip: "true"` (a repeated message): nothing runs,
    /// and the result is the fixed empty one AO's Node CU answers for it
    /// (`servers/cu/src/domain/lib/evaluate.js`).
    fn skip(&mut self, scheduled: &ScheduledMessage) -> StoredResult {
        self.next = scheduled.assignment.slot + 1;
        self.last_timestamp = scheduled.assignment.timestamp;
        self.last_block_height = scheduled.assignment.block_height;
        self.since_checkpoint += 1;
        skipped_result(scheduled)
    }

    fn checkpoint_due(&self, ctx: &Context) -> bool {
        let every = ctx.checkpoints;
        let by_count = every.messages > 0 && self.since_checkpoint >= every.messages;
        let by_time = !every.interval.is_zero()
            && self.since_checkpoint > 0
            && self.checkpoint_at.elapsed() >= every.interval;
        by_count || by_time
    }

    /// Store a batch of results in one transaction; the ones stored for the first time (not
    /// evaluated before a restart) give their outbox to push.
    fn flush(
        &self,
        ctx: &Context,
        process_id: &str,
        batch: &mut Vec<(u64, StoredResult, Option<Charge>)>,
        outboxes: &mut Vec<Outbox>,
    ) -> Result<(), CuError> {
        if batch.is_empty() {
            return Ok(());
        }
        let fresh = ctx.store.put_results(process_id, batch)?;
        for ((slot, stored, _), fresh) in batch.drain(..).zip(fresh) {
            if fresh {
                outboxes.push(Outbox {
                    process: process_id.to_string(),
                    message: stored.message_id,
                    slot,
                    cron: None,
                    result: stored.result,
                });
            }
        }
        Ok(())
    }

    /// Store a checkpoint of the current state (after slot `next - 1`).
    pub fn checkpoint(&mut self, ctx: &Context, process_id: &str) -> Result<(), CuError> {
        let Some(slot) = self.next.checked_sub(1) else {
            return Ok(());
        };
        if self.crons.as_ref().is_some_and(Crons::past_slot) {
            // The state holds cron messages past `slot`; the next slot's checkpoint covers
            // them, and a restart before it replays them from the previous one.
            tracing::debug!(
                process = process_id,
                slot,
                "checkpoint deferred: crons past the slot"
            );
            return Ok(());
        }
        let started = Instant::now();
        let snapshot = self.process.snapshot();
        if let Some(publisher) = ctx.publisher.as_ref().filter(|p| p.take_due(process_id)) {
            let meta = checkpoint::item_meta(&ctx.store, process_id, &self.module_id, slot)?;
            publisher.publish(meta, snapshot.memory.clone());
        }
        let snapshot = snapshot.to_bytes();
        let frame = checkpoint::encode(slot, &snapshot);
        ctx.store.put_checkpoint(process_id, slot, &frame)?;
        tracing::debug!(
            process = process_id,
            slot,
            memory = snapshot.len(),
            stored = frame.len(),
            ms = started.elapsed().as_millis() as u64,
            "checkpoint"
        );
        self.since_checkpoint = 0;
        self.checkpoint_at = Instant::now();
        Ok(())
    }

    /// Evaluate a dry-run message on the current state and put the state back as it was; it is
    /// charged (flagged as a dry-run). Returns the result and the charge.
    pub fn dry_run(
        &mut self,
        ctx: &Context,
        process_id: &str,
        body: Map<String, Value>,
        (executor, cpu): (usize, Option<usize>),
    ) -> Result<(Value, Charge), CuError> {
        let message = dry_run_fields(
            process_id,
            body,
            self.last_timestamp,
            self.last_block_height,
        );
        let evaluation = self
            .process
            .evaluate_discarded(MessageInput::new(&message, &self.env));
        let cost = Cost::of_evaluation(process_id, "dry-run", &evaluation, executor, cpu);
        let owner = message.get("Owner").and_then(Value::as_str).unwrap_or("");
        let charge = ctx.charge(&cost, owner, true);
        ctx.store.charge_dry_run(process_id, &charge)?;
        Ok((answer(&evaluation), charge))
    }

    /// The process memory now, and the slot it is at (`None` before the first message).
    pub fn memory(&mut self) -> (Option<u64>, Vec<u8>) {
        let slot = self.next.checked_sub(1);
        (slot, self.process.snapshot().memory)
    }
}

/// Whether a scheduled message is a slot to step over: HyperBEAM's `Skip: "true"`, kept in
/// the stored fields by [`super::hbu`].
pub fn is_skipped(scheduled: &ScheduledMessage) -> bool {
    scheduled.message.get(SKIP_FIELD).and_then(Value::as_str) == Some("true")
}

/// The result of a skipped slot: the fixed empty one AO's Node CU answers for it.
pub fn skipped_result(scheduled: &ScheduledMessage) -> StoredResult {
    StoredResult {
        message_id: scheduled.id.clone(),
        result: result_json(&json!({
            "Messages": [], "Assignments": [], "Spawns": [],
            "Output": {"data": "", "prompt": "", "print": false},
            "GasUsed": 0,
        })),
    }
}

/// The stored message field that marks a skipped slot.
pub const SKIP_FIELD: &str = "Skip";

/// A dry-run message as AO's CU builds it (`domain/api/dryRun.js`): the latest evaluated
/// message's `Timestamp` and `Block-Height` (the body may override them), `Cron: false`,
/// `Target` the process, the body's fields, then `From` (the `From-Process` tag, else `Owner`)
/// and `Read-Only: true`.
pub fn dry_run_fields(
    process_id: &str,
    body: Map<String, Value>,
    timestamp: u64,
    block_height: u64,
) -> Value {
    let mut fields = Map::new();
    fields.insert("Timestamp".into(), json!(timestamp));
    fields.insert("Block-Height".into(), json!(block_height));
    fields.insert("Cron".into(), json!(false));
    fields.insert("Target".into(), json!(process_id));
    let from = body
        .get("Tags")
        .and_then(Value::as_array)
        .and_then(|tags| {
            tags.iter()
                .find(|t| t.get("name").and_then(Value::as_str) == Some("From-Process"))
        })
        .and_then(|t| t.get("value"))
        .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        .cloned()
        .or_else(|| body.get("Owner").cloned())
        .unwrap_or(Value::Null);
    for (k, v) in body {
        fields.insert(k, v);
    }
    fields.insert("From".into(), from);
    fields.insert("Read-Only".into(), json!(true));
    Value::Object(fields)
}

/// A process' limits: its own `Memory-Limit`/`Compute-Limit` tags, else its module's, capped by
/// the node's.
/// A process' module, compiled, and the limits it runs under.
pub struct ProcessModule {
    /// The module's record.
    pub record: crate::store::ModuleRecord,
    /// The compiled module.
    pub loaded: Arc<crate::wasm::LoadedModule>,
    /// The process' limits (its own tags and its module's, capped by the node's).
    pub limits: Limits,
}

impl ProcessModule {
    /// The module `record` runs, from the store, compiled through the node's cache.
    pub fn of(ctx: &Context, record: &ProcessRecord) -> Result<ProcessModule, CuError> {
        let module = ctx.store.module(&record.module)?.ok_or_else(|| {
            CuError::Module(format!(
                "module {} of process {} is not stored",
                record.module, record.id
            ))
        })?;
        let bytes = ctx.store.module_bytes(&record.module)?.ok_or_else(|| {
            CuError::Module(format!("module {} has no bytes stored", record.module))
        })?;
        let loaded = ctx
            .modules
            .load(&bytes)
            .map_err(|e| CuError::Module(format!("module {}: {e}", record.module)))?;
        let limits = limits_of(record, &module.tags, &ctx.limits)?;
        Ok(ProcessModule {
            record: module,
            loaded,
            limits,
        })
    }
}

fn limits_of(
    record: &ProcessRecord,
    module_tags: &crate::ao::Tags,
    node: &NodeLimits,
) -> Result<Limits, CuError> {
    Limits::from_process_and_module(&record.tags, module_tags, node)
        .map_err(|e| CuError::Module(format!("process {}: {e}", record.id)))
}

/// Why a stored checkpoint cannot be used (the process is then rebuilt by replay).
#[derive(Debug, thiserror::Error)]
enum Unusable {
    /// Results up to a checkpoint are written before it; this one has none at its slot.
    #[error("no stored result at its slot {0}")]
    NoResult(u64),
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The frame is damaged (format, digest, compression).
    #[error(transparent)]
    Frame(#[from] checkpoint::CheckpointError),
    /// The snapshot does not decode or does not fit the module.
    #[error(transparent)]
    Snapshot(#[from] crate::wasm::WasmError),
}

/// Decode, check and restore a stored checkpoint.
/// The process from its newest checkpoint on Arweave, when the node imports them and one is
/// usable (see [`super::imported`]); `None`: it starts from slot 0.
fn imported(
    ctx: &Context,
    process_id: &str,
    module_id: &str,
    module: &Arc<crate::wasm::LoadedModule>,
    limits: Limits,
    env: &Value,
) -> Option<Held> {
    let imports = ctx.imports.as_ref()?;
    // A process evaluated here before keeps its own history: only a cold one looks.
    if !matches!(ctx.store.result(process_id, 0), Ok(None)) {
        return None;
    }
    let found = imports.newest(process_id, module_id, limits.memory_bytes)?;
    // As the Node CU loads a checkpoint: a fresh instance, then the memory.
    let loaded = Process::spawn(module.clone(), limits).and_then(|mut fresh| {
        let mut snapshot = fresh.snapshot();
        snapshot.memory = found.memory;
        Process::restore(module.clone(), limits, &snapshot)
    });
    let process = match loaded {
        Ok(process) => process,
        Err(e) => {
            tracing::warn!(process = process_id, checkpoint = %found.id, error = %e,
                "an Arweave checkpoint does not load; the process replays from slot 0");
            return None;
        }
    };
    let slot = found.meta.nonce;
    tracing::info!(process = process_id, slot, checkpoint = %found.id,
        "restored from an Arweave checkpoint");
    Some(Held {
        process,
        env: env.clone(),
        module_id: module_id.to_string(),
        next: slot + 1,
        last_timestamp: found.meta.timestamp,
        last_block_height: found.meta.block_height,
        since_checkpoint: 0,
        checkpoint_at: Instant::now(),
        crons: None,
        resident_bytes: 0,
        last_used: 0,
    })
}

fn restore(
    ctx: &Context,
    process_id: &str,
    module: &Arc<crate::wasm::LoadedModule>,
    limits: Limits,
    slot: u64,
    frame: &[u8],
) -> Result<Process, Unusable> {
    if ctx.store.result(process_id, slot)?.is_none() {
        return Err(Unusable::NoResult(slot));
    }
    let bytes = checkpoint::decode(slot, frame)?;
    let snapshot = Snapshot::from_bytes(&bytes)?;
    Ok(Process::restore(module.clone(), limits, &snapshot)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_message_fields() {
        let body: Map<String, Value> = serde_json::from_value(json!({
            "Id": "1234", "Owner": "OWNER", "Target": "P",
            "Tags": [{"name": "Action", "value": "Eval"}], "Data": "return 1", "Anchor": "0",
            "Timestamp": 99
        }))
        .unwrap();
        let m = dry_run_fields("P", body, 5, 6);
        assert_eq!(m["Timestamp"], 99, "the body overrides the defaults");
        assert_eq!(m["Block-Height"], 6);
        assert_eq!(m["From"], "OWNER");
        assert_eq!(m["Read-Only"], true);
        assert_eq!(m["Cron"], false);
        let body: Map<String, Value> = serde_json::from_value(json!({
            "Owner": "MU", "Tags": [{"name": "From-Process", "value": "OTHER"}]
        }))
        .unwrap();
        let m = dry_run_fields("P", body, 5, 6);
        assert_eq!(m["From"], "OTHER");
        assert_eq!(m["Target"], "P");
        assert_eq!(m["Timestamp"], 5);
    }
}
