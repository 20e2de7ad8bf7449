//! HyperBEAM mode: this CU stands in for AO's Node CU in `UNIT_MODE=hbu`, the CU that
//! HyperBEAM's `genesis-wasm@1.0` device starts and sends every slot of its AOS processes.
//!
//! HyperBEAM keeps the schedule; the CU keeps the state. Each `POST /result/{slot}` carries a
//! one-edge aos-2 page ([`page`]) with exactly that slot, which must be the process' next one:
//! it is stored as the next slot of the process (durably, before it is evaluated), evaluated by
//! the [`ComputeUnit`] on the state it holds, and answered in the shape HyperBEAM reads
//! ([`answer`]). A process never seen before is read from HyperBEAM's scheduler first
//! ([`cold`]). Because every slot is in the store, a restart (even after `kill -9`) continues
//! from the latest checkpoint by replay, with the same results.
//!
//! - [`page`]: the aos-2 page.
//! - [`cold`]: reading a process from HyperBEAM.
//! - [`answer`]: the answers and headers HyperBEAM reads.

pub mod answer;
pub mod cold;
pub mod page;

use std::sync::Arc;

use serde_json::{Map, Value};

use super::held::SKIP_FIELD;
use super::loaded::{Loaded, LoadedState};
use super::{ComputeUnit, CuError};
use crate::ao::Id;
use crate::net::{Client, Url};
use crate::store::{Assignment, ProcessRecord, ScheduledMessage, StoreError};
pub use answer::SlotAnswer;
use page::Edge;

/// Processes at or above this block height have their legacy `Hash-Chain` checked, as AO's
/// Node CU does (`isHashChainValidationEnabled`): older chains are known to be broken.
pub const HASH_CHAIN_FROM_HEIGHT: u64 = 1_440_000;

/// Why a HyperBEAM request was refused.
#[derive(Debug, thiserror::Error)]
pub enum HbuError {
    /// The body is not an aos-2 page.
    #[error(transparent)]
    Page(#[from] page::PageError),
    /// The page is not the one-edge page of the slot in the path (the Node CU would have to
    /// fetch the slot from the scheduler, which it refuses in `hbu` mode).
    #[error("Body is not valid: would attempt to fetch from scheduler in loadMessageMeta ({0})")]
    NotThisSlot(String),
    /// The slot is not the next one of the process.
    #[error(
        "Body is not valid: would attempt to fetch from scheduler in loadMessages (slot {slot} \
         is not the next slot of process {process}: that is {next})"
    )]
    NotNext {
        /// The process.
        process: String,
        /// The slot posted.
        slot: u64,
        /// Its next slot.
        next: u64,
    },
    /// A slot already evaluated was posted with another message.
    #[error("slot {slot} of process {process} holds message {stored}, not {posted}")]
    Conflict {
        /// The process.
        process: String,
        /// The slot.
        slot: u64,
        /// The message stored there.
        stored: String,
        /// The message posted.
        posted: String,
    },
    /// The slot's `Hash-Chain` does not follow the previous one.
    #[error("HashChain invalid on message {0}")]
    HashChain(String),
    /// HyperBEAM's scheduler could not be read, or its answer is unusable.
    #[error("{0}")]
    Scheduler(String),
    /// The process cannot be computed here (its module is not available, ...).
    #[error("{0}")]
    Process(String),
    /// The Compute Unit failed.
    #[error(transparent)]
    Cu(#[from] CuError),
}

impl From<StoreError> for HbuError {
    fn from(e: StoreError) -> HbuError {
        HbuError::Cu(CuError::Store(e))
    }
}

/// The CU HyperBEAM talks to.
pub struct HyperBeam {
    cu: Arc<ComputeUnit>,
    hb: Url,
    client: Client,
}

impl std::fmt::Debug for HyperBeam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperBeam")
            .field("hb", &self.hb.as_str())
            .finish_non_exhaustive()
    }
}

impl HyperBeam {
    /// Compute for the HyperBEAM node at `hb` on `cu`.
    pub fn new(cu: Arc<ComputeUnit>, hb: Url, client: Client) -> HyperBeam {
        HyperBeam { cu, hb, client }
    }

    /// The Compute Unit.
    pub fn cu(&self) -> &Arc<ComputeUnit> {
        &self.cu
    }

    /// `POST /result/{slot}?process-id=`: evaluate exactly `slot`, the one edge of `body`.
    pub async fn result(
        &self,
        process: &Id,
        slot: u64,
        body: &[u8],
    ) -> Result<SlotAnswer, HbuError> {
        let pid = process.to_string();
        self.cu.admit(&pid)?;
        let page = page::parse(body)?;
        let edge = match page.edges.as_slice() {
            [edge] if edge.slot == slot => edge.clone(),
            [edge] => {
                return Err(HbuError::NotThisSlot(format!(
                    "the edge is slot {}, the path asks for slot {slot}",
                    edge.slot
                )));
            }
            edges => {
                return Err(HbuError::NotThisSlot(format!(
                    "{} edges; the body of a slot has exactly one",
                    edges.len()
                )));
            }
        };
        if let Some(other) = edge.process.as_deref().filter(|p| *p != pid) {
            return Err(HbuError::NotThisSlot(format!(
                "the edge is assigned to process {other}, not {pid}"
            )));
        }
        let store = self.cu.store().clone();
        let mut evaluated = 0;
        let cold = store.process(&pid)?.is_none();
        if cold && slot > 1 {
            // Slot 0 comes from HyperBEAM; any later slot needs the ones before it here.
            return Err(HbuError::NotNext {
                process: pid,
                slot,
                next: 1,
            });
        }
        if cold {
            let spawn = if slot == 0 {
                edge.clone()
            } else {
                cold::process_edge(&self.hb, &self.client, &pid).await?
            };
            self.spawn(&pid, &spawn).await?;
            evaluated += 1;
        }
        let record = self.record(&pid)?;
        if slot > record.next_slot {
            return Err(HbuError::NotNext {
                process: pid,
                slot,
                next: record.next_slot,
            });
        }
        let mut appended = false;
        if slot == record.next_slot {
            self.check_chain(&pid, &record, &edge)?;
            match self.append(&pid, &edge) {
                Ok(()) => {
                    appended = true;
                    evaluated += 1;
                }
                // Another request stored this slot in the meantime: answer what it stored.
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let stored = store
            .messages(&pid, slot, slot, 1)?
            .into_iter()
            .next()
            .ok_or_else(|| {
                HbuError::Cu(CuError::Schedule(format!(
                    "slot {slot} of process {pid} is not stored"
                )))
            })?;
        if stored.id != edge.message_id {
            return Err(HbuError::Conflict {
                process: pid,
                slot,
                stored: stored.id,
                posted: edge.message_id,
            });
        }
        let result = self.cu.result_at(process, slot).await?;
        Ok(SlotAnswer {
            result: answer::hbu_result(&result),
            message_id: stored.id,
            slot,
            timestamp: stored.assignment.timestamp,
            block_height: stored.assignment.block_height,
            cold_start: cold,
            cached: !(cold || appended),
            evaluated,
        })
    }

    /// `POST /dry-run?process-id=`: HyperBEAM's message JSON evaluated on the held state. A
    /// process not seen yet is read from HyperBEAM first.
    pub async fn dry_run(&self, process: &Id, body: &[u8]) -> Result<Value, HbuError> {
        let pid = process.to_string();
        self.cu.admit(&pid)?;
        let mut message = dry_run_body(&pid, body)?;
        if self.cu.store().process(&pid)?.is_none() {
            let spawn = cold::process_edge(&self.hb, &self.client, &pid).await?;
            self.spawn(&pid, &spawn).await?;
        }
        // The body was checked as AO's CU checks it (the same rules as `/dry-run`).
        message = super::query::dry_run_message(
            &serde_json::to_vec(&Value::Object(message))
                .map_err(|e| CuError::Internal(e.to_string()))?,
        )
        .map_err(CuError::Invalid)?;
        let (result, _) = self.cu.dry_run(process, message).await?;
        Ok(answer::hbu_result(&result))
    }

    /// `POST /snapshot/{process}`: a durable checkpoint now, described as the Node CU does.
    pub async fn snapshot(&self, process: &Id) -> Result<Option<answer::Snapshot>, HbuError> {
        let pid = process.to_string();
        self.cu.admit(&pid)?;
        if self.cu.store().process(&pid)?.is_none() {
            return Ok(None);
        }
        let Some(slot) = self.cu.checkpoint(process).await? else {
            return Ok(None);
        };
        let store = self.cu.store();
        let record = self.record(&pid)?;
        let at = store.messages(&pid, slot, slot, 1)?.into_iter().next();
        Ok(at.map(|message| answer::Snapshot {
            process: pid,
            module: record.module,
            message: message.id,
            hash_chain: message.assignment.hash_chain,
            timestamp: message.assignment.timestamp,
            block_height: message.assignment.block_height,
            epoch: message.assignment.epoch,
            slot,
            file: store.path().display().to_string(),
        }))
    }

    /// `POST /state`: load the memory of a checkpoint HyperBEAM imported as the process'
    /// state at its `Nonce` (see [`crate::cu::loaded`]). A process not seen yet is read from
    /// HyperBEAM first.
    pub async fn load_state(&self, state: LoadedState) -> Result<Loaded, HbuError> {
        let meta = state.meta()?;
        let process: Id = meta.process.parse().map_err(|_| {
            HbuError::Cu(CuError::Invalid(super::query::InvalidInput {
                field: "process".into(),
                message: format!("`{}` is not a 43-character base64url ID", meta.process),
            }))
        })?;
        let pid = process.to_string();
        self.cu.admit(&pid)?;
        if self.cu.store().process(&pid)?.is_none() {
            let spawn = cold::process_edge(&self.hb, &self.client, &pid).await?;
            self.spawn(&pid, &spawn).await?;
        }
        Ok(self.cu.load_state(state).await?)
    }

    fn record(&self, pid: &str) -> Result<ProcessRecord, HbuError> {
        self.cu
            .store()
            .process(pid)?
            .ok_or_else(|| HbuError::Cu(CuError::UnknownProcess(pid.to_string())))
    }

    /// Store a process from its slot-0 edge (the process message), once its module is here
    /// (fetched from the gateways when the store lacks it).
    async fn spawn(&self, pid: &str, edge: &Edge) -> Result<(), HbuError> {
        if edge.message_id != pid {
            return Err(HbuError::Process(format!(
                "slot 0 of process {pid} holds message {}, not the process itself",
                edge.message_id
            )));
        }
        if edge.tags.get("Type") != Some("Process") {
            return Err(HbuError::Process(format!(
                "message {pid} at slot 0 is not a process (no `Type: Process` tag)"
            )));
        }
        let module = edge
            .tags
            .get("Module")
            .ok_or_else(|| HbuError::Process(format!("process {pid} has no `Module` tag")))?;
        self.cu
            .ensure_module(pid, module)
            .await
            .map_err(|e| HbuError::Process(e.to_string()))?;
        if self.cu.store().module(module)?.is_none() {
            return Err(HbuError::Process(format!(
                "module {module} of process {pid} is not in this node's store and no gateway \
                 is configured (add it with `aocu module add`, or set `gateways`)"
            )));
        }
        let owner = edge
            .fields
            .get("Owner")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // Before anything is kept: a refused owner's process is not stored.
        self.cu
            .settings()
            .access
            .record(pid, owner)
            .map_err(CuError::Refused)?;
        let record = ProcessRecord {
            id: pid.to_string(),
            owner: owner.to_string(),
            module: module.to_string(),
            scheduler: edge.tags.get("Scheduler").unwrap_or_default().to_string(),
            tags: edge.tags.clone(),
            next_slot: 0,
            last_message_id: String::new(),
            last_hash_chain: String::new(),
            last_timestamp: 0,
        };
        match self.cu.store().append(pid, None, |current| match current {
            Some(_) => Err(StoreError::Conflict(format!("process {pid} is stored"))),
            None => Ok(next_record(record, edge, pid)),
        }) {
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Store `edge` as the next slot of the process.
    fn append(&self, pid: &str, edge: &Edge) -> Result<(), StoreError> {
        self.cu
            .store()
            .append(pid, None, |current| match current {
                Some(record) if record.next_slot == edge.slot => Ok(next_record(record, edge, pid)),
                _ => Err(StoreError::Conflict(format!(
                    "slot {} of process {pid} is taken",
                    edge.slot
                ))),
            })
            .map(drop)
    }

    /// The legacy SU's hash chain, checked as the Node CU checks it: only for processes from
    /// block [`HASH_CHAIN_FROM_HEIGHT`], and with no previous link only for presence.
    fn check_chain(&self, pid: &str, record: &ProcessRecord, edge: &Edge) -> Result<(), HbuError> {
        let process_height = self
            .cu
            .store()
            .messages(pid, 0, 0, 1)?
            .first()
            .map_or(0, |m| m.assignment.block_height);
        if process_height < HASH_CHAIN_FROM_HEIGHT {
            return Ok(());
        }
        let actual = edge.hash_chain.as_deref().unwrap_or_default();
        let valid = if record.last_message_id.is_empty() || record.last_hash_chain.is_empty() {
            !actual.is_empty()
        } else {
            match (
                record.last_message_id.parse::<Id>(),
                record.last_hash_chain.parse::<Id>(),
            ) {
                (Ok(id), Ok(link)) => {
                    crate::sched::chain::next_link(&id, &link).to_string() == actual
                }
                _ => false,
            }
        };
        if valid {
            Ok(())
        } else {
            Err(HbuError::HashChain(edge.message_id.clone()))
        }
    }
}

/// The process record after `edge`, and the message to store at its slot. The record keeps
/// the ID the next link of a legacy hash chain is computed from: the assignment's, or after a
/// skipped repeat the `Original-Assignment-Id` (as the Node CU does).
fn next_record(
    mut record: ProcessRecord,
    edge: &Edge,
    pid: &str,
) -> (ProcessRecord, ScheduledMessage) {
    let mut fields = match &edge.fields {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    if edge.skip {
        fields.insert(SKIP_FIELD.into(), Value::String("true".into()));
    }
    let hash_chain = edge.hash_chain.clone().unwrap_or_default();
    record.next_slot = edge.slot + 1;
    record.last_message_id = match (&edge.original_assignment_id, edge.skip) {
        (Some(original), true) => original.clone(),
        _ => edge.assignment_id.clone(),
    };
    record.last_hash_chain = hash_chain.clone();
    record.last_timestamp = edge.timestamp;
    let message = ScheduledMessage {
        id: edge.message_id.clone(),
        assignment: Assignment {
            process: pid.to_string(),
            slot: edge.slot,
            epoch: edge.epoch,
            timestamp: edge.timestamp,
            block_height: edge.block_height,
            hash_chain,
        },
        message: Value::Object(fields),
    };
    (record, message)
}

/// HyperBEAM's dry-run body with the Node CU's defaults (`routes/dryRun.js`): `Owner` and
/// `From` `1234` and `Target` the process when absent or empty.
fn dry_run_body(pid: &str, body: &[u8]) -> Result<Map<String, Value>, HbuError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        CuError::Invalid(super::query::InvalidInput {
            field: "body".into(),
            message: format!("not valid JSON: {e}"),
        })
    })?;
    let Value::Object(mut object) = value else {
        return Err(HbuError::Cu(CuError::Invalid(super::query::InvalidInput {
            field: "body".into(),
            message: "expected a JSON object (the message)".into(),
        })));
    };
    for (name, default) in [("Owner", "1234"), ("From", "1234"), ("Target", pid)] {
        let missing = match object.get(name) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(_) => false,
        };
        if missing {
            object.insert(name.into(), Value::String(default.into()));
        }
    }
    Ok(object)
}
