//! [`ComputeUnit`]: the CU's front door. It routes each process to its executor (where its
//! state lives), evaluates lazily (when a result is asked for) or eagerly in the background,
//! and answers the CU API from the store.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::cron_page::CronQuery;
use super::held::{Context, Held};
use super::query::ResultsQuery;
use super::resident::{Executor, evict_idle, with_held};
use super::results;
use super::{CuError, Outbox};
use crate::access::Access;
use crate::ao::Id;
use crate::arweave::Gateways;
use crate::exec::{ExecError, Pool, Shard};
use crate::sched::NodeScheduler;
use crate::sched::remote::{RemoteError, RemoteSchedulers};
use crate::store::{ProcessRecord, Store};

/// Options of a Compute Unit (config keys `eager-evaluation`, `allow-processes`,
/// `deny-processes`, `allow-owners`; the checkpoint cadence, `checkpoint-every-*`, is in
/// [`Context::checkpoints`](super::Context)).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Evaluate newly scheduled messages in the background instead of waiting for a read.
    pub eager: bool,
    /// Which processes and owners may be used on this node.
    pub access: Arc<Access>,
}

/// The memory of a process at a slot (`GET /state`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// The last evaluated slot (`None`: nothing evaluated, the fresh memory).
    pub slot: Option<u64>,
    /// Its timestamp (ms; 0 when nothing was evaluated).
    pub timestamp: u64,
    /// Its block height.
    pub block_height: u64,
    /// The linear memory.
    pub memory: Vec<u8>,
}

/// A Compute Unit over a store and an executor pool.
pub struct ComputeUnit {
    ctx: Arc<Context>,
    pool: Pool<Held>,
    settings: Settings,
    /// Processes with a background evaluation queued (so a burst queues one, not many).
    pending: Mutex<HashSet<String>>,
    /// Where the outbox of every newly evaluated message goes (the messenger), if anywhere.
    outbox: Option<mpsc::UnboundedSender<Outbox>>,
    /// Remote SUs whose processes this CU mirrors and evaluates (none: only this node's).
    remote: Option<Arc<RemoteSchedulers>>,
    /// Where modules missing from the store are fetched (none: they must be uploaded).
    gateways: Option<Arc<Gateways>>,
}

/// What a Compute Unit talks to besides its store and executors.
#[derive(Debug, Default)]
pub struct Peers {
    /// The node's scheduler: outbox messages to processes it schedules are signed and
    /// scheduled on it, as AO's MU does (`None`: outboxes stay in the results).
    pub scheduler: Option<Arc<NodeScheduler>>,
    /// Remote SUs whose processes this CU mirrors (`None`: only this node's processes).
    pub remote: Option<Arc<RemoteSchedulers>>,
    /// Gateways that modules missing from the store are fetched from (`None`: none).
    pub gateways: Option<Arc<Gateways>>,
}

impl std::fmt::Debug for ComputeUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComputeUnit")
            .field("executors", &self.pool.len())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ComputeUnit {
    /// A Compute Unit evaluating on `pool`, pushing outboxes to `peers.scheduler` and
    /// mirroring `peers.remote`. With a scheduler it must be called inside a tokio runtime (the
    /// messenger is a task of it).
    pub fn new(
        ctx: Context,
        pool: Pool<Held>,
        settings: Settings,
        peers: Peers,
    ) -> Arc<ComputeUnit> {
        Arc::new_cyclic(|unit| ComputeUnit {
            ctx: Arc::new(ctx),
            pool,
            settings,
            pending: Mutex::new(HashSet::new()),
            outbox: peers
                .scheduler
                .map(|scheduler| super::push::start(unit.clone(), scheduler)),
            remote: peers.remote,
            gateways: peers.gateways,
        })
    }

    /// The store it reads schedules from and writes results to.
    pub fn store(&self) -> &Arc<Store> {
        &self.ctx.store
    }

    /// The memory budget of its resident processes, and what is resident.
    pub fn budget(&self) -> &super::MemoryBudget {
        &self.ctx.budget
    }

    /// The executor pool.
    pub fn pool(&self) -> &Pool<Held> {
        &self.pool
    }

    /// The node limits every process' own limits are capped by.
    pub fn limits(&self) -> &crate::wasm::NodeLimits {
        &self.ctx.limits
    }

    /// Its settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// May `process_id` be used on this node (config `allow-processes`, `deny-processes`,
    /// `allow-owners`)? Every entry point asks first, before it reads, fetches or evaluates
    /// anything. A process that is not stored yet passes the owner check here: its discovery
    /// (remote SU, HyperBEAM) checks the owner before it keeps anything.
    pub fn admit(&self, process_id: &str) -> Result<(), CuError> {
        let access = &self.settings.access;
        if access.is_open() {
            return Ok(());
        }
        if let Ok(id) = process_id.parse::<Id>() {
            access.process(&id)?;
        }
        if access.checks_owners()
            && let Some(record) = self.ctx.store.process(process_id)?
        {
            access.owner(process_id, &record.owner)?;
        }
        Ok(())
    }

    /// Evaluate `process` up to slot `to` (inclusive; `None`: its latest slot). Returns the
    /// next slot to evaluate.
    pub async fn evaluate_to(&self, process: &Id, to: Option<u64>) -> Result<u64, CuError> {
        self.advance(&process.to_string(), to).await
    }

    async fn advance(&self, process_id: &str, to: Option<u64>) -> Result<u64, CuError> {
        self.admit(process_id)?;
        let to = match to {
            Some(slot) => {
                if let Some(record) = self.ctx.store.process(process_id)? {
                    self.ensure_module(&record.id, &record.module).await?;
                }
                slot
            }
            None => self.latest_slot(process_id).await?,
        };
        let (next, outboxes) = self
            .on_held(process_id, Lane::Queue, move |ctx, pid, held, executor| {
                let outboxes = held.advance(ctx, pid, to, executor)?;
                Ok((held.next_slot(), outboxes))
            })
            .await?;
        self.deliver(outboxes);
        Ok(next)
    }

    /// Run `work` on the process' executor with its held state (loaded when it is not
    /// resident), then keep the node within its memory budget: the executor drops its own
    /// least recently used processes, and when that is not enough the others are asked to.
    async fn on_held<R, W>(&self, process_id: &str, lane: Lane, work: W) -> Result<R, CuError>
    where
        R: Send + 'static,
        W: FnOnce(&Context, &str, &mut Held, Executor) -> Result<R, CuError> + Send + 'static,
    {
        let ctx = self.ctx.clone();
        let pid = process_id.to_string();
        let job = move |shard: &mut Shard<Held>| {
            with_held(shard, &ctx, &pid, |held, executor| {
                work(&ctx, &pid, held, executor)
            })
        };
        let outcome = match lane {
            Lane::Queue => self.pool.submit(process_id, job).await,
            Lane::Urgent => self.pool.submit_urgent(process_id, job).await,
        }
        .map_err(exec_error)?;
        if self.ctx.budget.over() {
            self.relieve(self.pool.executor_for(process_id));
        }
        outcome
    }

    /// Ask every executor but `done` (which has dropped all it could) to drop its least
    /// recently used processes at its next job boundary. A full queue is skipped: that
    /// executor's own next job makes the same check.
    fn relieve(&self, done: usize) {
        for executor in (0..self.pool.len()).filter(|e| *e != done) {
            let ctx = self.ctx.clone();
            let asked = self.pool.try_submit(
                crate::exec::Route::Executor(executor),
                move |shard: &mut Shard<Held>| evict_idle(shard, &ctx, None),
            );
            if let Err(e) = asked {
                tracing::debug!(executor, error = %e, "cannot ask the executor to evict");
            }
        }
    }

    /// Ask for a background evaluation of `process_id` to its latest slot (eager mode only).
    pub fn notify(self: &Arc<Self>, process_id: &str) {
        if !self.settings.eager {
            return;
        }
        self.spawn_evaluation(process_id);
    }

    /// Queue one background evaluation of a process to its latest slot, unless one is queued.
    fn spawn_evaluation(self: &Arc<Self>, process_id: &str) {
        {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            if !pending.insert(process_id.to_string()) {
                return;
            }
        }
        let cu = self.clone();
        let pid = process_id.to_string();
        tokio::spawn(async move {
            // Cleared first: a message scheduled while this runs queues another pass.
            cu.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&pid);
            match cu.advance(&pid, None).await {
                Ok(_) => {}
                // The operator's choice, not a failure: logged quietly.
                Err(CuError::Refused(e)) => {
                    tracing::debug!(process = %pid, reason = %e, "no background evaluation");
                }
                Err(e) => {
                    tracing::warn!(process = %pid, error = %e, "background evaluation failed");
                }
            }
        });
    }

    /// Evaluate every process to its latest slot in the background (eager mode at start).
    pub fn catch_up_all(self: &Arc<Self>) -> Result<(), CuError> {
        if !self.settings.eager {
            return Ok(());
        }
        for pid in self.ctx.store.process_ids()? {
            self.spawn_evaluation(&pid);
        }
        Ok(())
    }

    /// `GET /result/{message}?process-id=`: the result of a message, evaluating up to it.
    pub async fn result(&self, process: &Id, message: &Id) -> Result<Value, CuError> {
        let (process_id, message_id) = (&process.to_string(), &message.to_string());
        self.admit(process_id)?;
        let slot = match self.ctx.store.slot_of(message_id, process_id)? {
            Some(slot) => slot,
            None => {
                // Not here (yet): a remote process may have scheduled it since the last sync.
                self.record(process_id).await?;
                self.ctx
                    .store
                    .slot_of(message_id, process_id)?
                    .ok_or_else(|| CuError::UnknownMessage {
                        message: message_id.to_string(),
                        process: process_id.to_string(),
                    })?
            }
        };
        if let Some(stored) = self.ctx.store.result(process_id, slot)? {
            return Ok(stored.result);
        }
        self.advance(process_id, Some(slot)).await?;
        self.ctx
            .store
            .result(process_id, slot)?
            .map(|stored| stored.result)
            .ok_or_else(|| {
                CuError::Internal(format!(
                    "slot {slot} of process {process_id} was evaluated but has no result"
                ))
            })
    }

    /// The result stored at a slot, evaluating up to it (`/{pid}~process@1.0/compute`).
    pub async fn result_at(&self, process: &Id, slot: u64) -> Result<Value, CuError> {
        let process_id = &process.to_string();
        self.admit(process_id)?;
        if let Some(stored) = self.ctx.store.result(process_id, slot)? {
            return Ok(stored.result);
        }
        let latest = self.latest_slot(process_id).await?;
        if slot > latest {
            return Err(CuError::UnknownSlot {
                process: process_id.to_string(),
                slot,
                latest,
            });
        }
        if let Some(stored) = self.ctx.store.result(process_id, slot)? {
            return Ok(stored.result);
        }
        self.advance(process_id, Some(slot)).await?;
        self.ctx
            .store
            .result(process_id, slot)?
            .map(|stored| stored.result)
            .ok_or_else(|| CuError::Internal(format!("slot {slot} has no result")))
    }

    /// `GET /results/{process}`: a page of results, after evaluating up to the range's end.
    pub async fn results(&self, process: &Id, query: &ResultsQuery) -> Result<Value, CuError> {
        let process_id = &process.to_string();
        self.admit(process_id)?;
        let record = self.record(process_id).await?;
        let store = &self.ctx.store;
        let range = results::slot_range(store, process_id, record.next_slot, query)?;
        if let Some((_, hi)) = range
            && store.result(process_id, hi)?.is_none()
        {
            self.advance(process_id, Some(hi)).await?;
        }
        Ok(results::page(store, process_id, range, query)?)
    }

    /// `GET /cron/{process}`: evaluate its schedule and its crons up to now (the current whole
    /// second), then answer a page of cron results.
    pub async fn cron(&self, process: &Id, query: &CronQuery) -> Result<Value, CuError> {
        let process_id = &process.to_string();
        self.admit(process_id)?;
        let to = self.latest_slot(process_id).await?;
        let horizon = super::cron::horizon(crate::clock::now_ms());
        let outboxes = self
            .on_held(process_id, Lane::Queue, move |ctx, pid, held, executor| {
                let mut outboxes = held.advance(ctx, pid, to, executor)?;
                outboxes.extend(held.advance_crons(ctx, pid, horizon, executor)?);
                Ok(outboxes)
            })
            .await?;
        self.deliver(outboxes);
        Ok(super::cron_page::page(&self.ctx.store, process_id, query)?)
    }

    /// `POST /dry-run?process-id=`: evaluate `body` on the latest state; nothing persists but
    /// its charge in the ledger, and the state stays as if it never happened. Returns the
    /// result and what it was charged.
    pub async fn dry_run(
        &self,
        process: &Id,
        body: Map<String, Value>,
    ) -> Result<(Value, crate::store::Charge), CuError> {
        let process_id = &process.to_string();
        self.admit(process_id)?;
        let to = self.latest_slot(process_id).await?;
        // The urgent lane: a dry-run waits for the evaluation running now on its executor,
        // never for the other processes' jobs queued there.
        let (result, outboxes) = self
            .on_held(process_id, Lane::Urgent, move |ctx, pid, held, executor| {
                let outboxes = held.advance(ctx, pid, to, executor)?;
                let result = held.dry_run(ctx, pid, body, executor)?;
                Ok((result, outboxes))
            })
            .await?;
        self.deliver(outboxes);
        Ok(result)
    }

    /// `GET /state/{process}`: the memory after the latest slot.
    pub async fn state(&self, process: &Id) -> Result<State, CuError> {
        let process_id = &process.to_string();
        self.admit(process_id)?;
        let to = self.latest_slot(process_id).await?;
        let ((slot, memory), outboxes) = self
            .on_held(process_id, Lane::Queue, move |ctx, pid, held, executor| {
                let outboxes = held.advance(ctx, pid, to, executor)?;
                Ok((held.memory(), outboxes))
            })
            .await?;
        self.deliver(outboxes);
        let (timestamp, block_height) = match slot {
            Some(s) => self
                .ctx
                .store
                .messages(process_id, s, s, 1)?
                .first()
                .map_or((0, 0), |m| {
                    (m.assignment.timestamp, m.assignment.block_height)
                }),
            None => (0, 0),
        };
        Ok(State {
            slot,
            timestamp,
            block_height,
            memory,
        })
    }

    /// Store a checkpoint of `process` now, after the slots evaluated so far (HyperBEAM's
    /// `POST /snapshot`). Returns the slot it was taken after, `None` when nothing was
    /// evaluated yet (there is no memory to keep).
    pub async fn checkpoint(&self, process: &Id) -> Result<Option<u64>, CuError> {
        let process_id = process.to_string();
        self.admit(&process_id)?;
        if self.ctx.store.process(&process_id)?.is_none() {
            return Err(CuError::UnknownProcess(process_id));
        }
        self.on_held(&process_id, Lane::Queue, |ctx, pid, held, _| {
            held.checkpoint(ctx, pid)?;
            Ok(held.next_slot().checked_sub(1))
        })
        .await
    }

    /// Load a state handed to the node (HyperBEAM's `POST /state`, see [`super::loaded`]) as
    /// the base of its process, on the process' executor.
    pub async fn load_state(
        &self,
        state: super::loaded::LoadedState,
    ) -> Result<super::loaded::Loaded, CuError> {
        let process_id = state.meta()?.process;
        self.admit(&process_id)?;
        let ctx = self.ctx.clone();
        let pid = process_id.clone();
        self.pool
            .submit(process_id.as_str(), move |shard: &mut Shard<Held>| {
                let loaded = super::loaded::install(&ctx, &state)?;
                if matches!(loaded, super::loaded::Loaded::At(_)) {
                    super::resident::forget(shard, &ctx, &pid);
                }
                Ok(loaded)
            })
            .await
            .map_err(exec_error)?
    }

    /// Checkpoint every process held in memory (before a clean shutdown).
    pub async fn checkpoint_all(&self) {
        for executor in 0..self.pool.len() {
            let ctx = self.ctx.clone();
            let job = self
                .pool
                .submit(crate::exec::Route::Executor(executor), move |shard: &mut Shard<Held>| {
                    let ids: Vec<String> = shard.process_ids().map(str::to_string).collect();
                    for pid in ids {
                        if let Some(held) = shard.get_mut(&pid)
                            && let Err(e) = held.checkpoint(&ctx, &pid)
                        {
                            tracing::warn!(process = %pid, error = %e, "checkpoint at shutdown failed");
                        }
                    }
                })
                .await;
            if let Err(e) = job {
                tracing::warn!(executor, error = %e, "checkpoints at shutdown failed");
            }
        }
    }

    /// The last scheduled slot of a process (synced from its SU when it is a remote one).
    async fn latest_slot(&self, process_id: &str) -> Result<u64, CuError> {
        // A stored process always has its spawn at slot 0.
        Ok(self.record(process_id).await?.next_slot.saturating_sub(1))
    }

    /// The process record: brought up to date from its remote SU first when it has one, or
    /// discovered there when this node does not know it yet.
    async fn record(&self, process_id: &str) -> Result<ProcessRecord, CuError> {
        let record = match &self.remote {
            Some(remote) => remote.sync(process_id).await.map_err(remote_error)?,
            None => None,
        };
        let record = match record {
            Some(record) => record,
            None => self
                .ctx
                .store
                .process(process_id)?
                .ok_or_else(|| CuError::UnknownProcess(process_id.to_string()))?,
        };
        self.ensure_module(&record.id, &record.module).await?;
        Ok(record)
    }

    /// Fetch `module` (of process `process_id`) from the gateways when the store lacks it
    /// (before the executor loads the process, which reads modules from the store only). With
    /// no gateways configured this does nothing, and the process fails later on the missing
    /// module.
    pub async fn ensure_module(&self, process_id: &str, module: &str) -> Result<(), CuError> {
        let Some(gateways) = &self.gateways else {
            return Ok(());
        };
        if gateways.is_empty() || self.ctx.store.module(module)?.is_some() {
            return Ok(());
        }
        let id: Id = module.parse().map_err(|_| {
            CuError::Module(format!(
                "process {process_id}: module `{module}` is not an ID"
            ))
        })?;
        gateways.module(&id).await.map(drop).map_err(|e| {
            CuError::Module(format!(
                "module {module} of process {process_id} is not stored and cannot be fetched: {e}"
            ))
        })
    }

    fn deliver(&self, outboxes: Vec<Outbox>) {
        if outboxes.is_empty() {
            return;
        }
        if let Some(sink) = &self.outbox {
            for outbox in outboxes {
                if sink.send(outbox).is_err() {
                    tracing::warn!("the outbox messenger is gone; outbox messages are not pushed");
                    break;
                }
            }
        }
    }
}

/// Which of its executor's lanes a job takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// Behind every job queued on the executor (evaluation, in order).
    Queue,
    /// At the executor's next job boundary, ahead of its queue (dry-runs).
    Urgent,
}

/// An executor failure as a CU error: a full queue is "busy" (503), the rest a node fault.
fn exec_error(e: ExecError) -> CuError {
    match e {
        ExecError::Busy { .. } => CuError::Busy(e.to_string()),
        other => CuError::Exec(other.to_string()),
    }
}

/// A remote-scheduler failure as a CU error: unknown everywhere is 404, the rest 502.
fn remote_error(e: RemoteError) -> CuError {
    match e {
        RemoteError::NotFound(process) => CuError::UnknownProcess(process),
        RemoteError::Store(e) => CuError::Store(e),
        RemoteError::Refused(refused) => CuError::Refused(refused),
        other => CuError::Remote(other.to_string()),
    }
}
