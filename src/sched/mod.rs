//! Where ordered messages come from: the embedded Scheduler Unit (default), which gives each
//! incoming data item of a process the next slot and commits it durably before anyone is told.
//!
//! It does what AO's legacy SU does (`servers/su`, `flows::write_item`, `builder::gen_assignment`,
//! `scheduler::gen_hash_chain`):
//! - a `Type: Process` item is the process' slot 0 (nonce 0); a `Type: Message` item goes to the
//!   next slot of its `Target`;
//! - every slot gets an **assignment**: a data item signed by the scheduler's wallet, with no
//!   target and no data, a random anchor, and the tags `Process`, `Epoch`, `Nonce`, `Hash-Chain`,
//!   `Block-Height` (12 digits, zero-padded), `Timestamp`, `Data-Protocol: ao`,
//!   `Type: Assignment`, `Variant: ao.TN.1`, plus `Message: <id>` for messages (not for the spawn);
//! - the hash chain links *assignment* IDs: slot 0 has `b64url(SHA-256(raw(process id)))`, slot n
//!   has `b64url(SHA-256(raw(assignment id of n-1) ‖ raw(Hash-Chain of n-1)))`;
//! - each slot is stored as the ANS-104 bundle `[assignment, item]`, the same binary the SU keeps.
//!
//! Differences, on purpose: timestamps strictly increase within a process (the SU pages by
//! timestamp with an exclusive `from`, so two slots in the same millisecond could be skipped by
//! a reader); a spawn must name this scheduler in its `Scheduler` tag and a module this node
//! holds, since nothing could run it otherwise.
//!
//! [`su_api`] renders the SU's read API from what is stored.

pub mod chain;
pub mod remote;
pub mod su_api;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::ao::Tag;
use crate::ao::{DataItem, Id, Wallet, bundle};
use crate::arweave::height::BlockHeight;
use crate::store::{Assignment, ProcessRecord, ScheduledMessage, Store, StoreError};

/// Scheduling failed. Everything but `Store` and `Sign` is the sender's fault (4xx).
#[derive(Debug, thiserror::Error)]
pub enum SchedError {
    /// The item is not something the SU accepts (missing tags, wrong type, ...).
    #[error("{0}")]
    Invalid(String),
    /// The target process is not scheduled here.
    #[error("process {0} is not known to this scheduler")]
    UnknownProcess(String),
    /// A spawn for a process that already exists.
    #[error("process {0} already exists")]
    ProcessExists(String),
    /// The same message was already scheduled on this process.
    #[error("message {message} is already scheduled on process {process} at slot {slot}")]
    Duplicate {
        /// The message.
        message: String,
        /// The process.
        process: String,
        /// Where it is.
        slot: u64,
    },
    /// An ID is malformed.
    #[error(transparent)]
    BadId(#[from] crate::ao::IdError),
    /// Signing the assignment failed (a node fault).
    #[error("signing the assignment: {0}")]
    Sign(String),
    /// The scheduler wallet could not be loaded or generated (a node fault).
    #[error("scheduler wallet: {0}")]
    Wallet(String),
    /// The store failed; nothing was scheduled.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The embedded Scheduler Unit.
#[derive(Debug, Clone)]
pub struct Scheduler {
    store: Arc<Store>,
    wallet: Arc<Wallet>,
    block_height: BlockHeight,
    /// One lock per process, held from reading its last slot to committing the next one (the
    /// assignment is signed in between, outside the database's single writer).
    locks: Arc<Mutex<HashMap<String, Arc<Mutex<()>>>>>,
}

impl Scheduler {
    /// A scheduler writing to `store`, signing with `wallet`, reporting `block_height` (a
    /// fixed number, or the node's shared height that follows the gateways).
    pub fn new(
        store: Arc<Store>,
        wallet: Arc<Wallet>,
        block_height: impl Into<BlockHeight>,
    ) -> Scheduler {
        Scheduler {
            store,
            wallet,
            block_height: block_height.into(),
            locks: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// This scheduler's address (its wallet's).
    pub fn address(&self) -> &str {
        self.wallet.address()
    }

    /// The wallet assignments are signed with.
    pub fn wallet(&self) -> &Arc<Wallet> {
        &self.wallet
    }

    /// The block height it reports.
    pub fn block_height(&self) -> u64 {
        self.block_height.get()
    }

    /// The block height with where it came from.
    pub fn height(&self) -> &BlockHeight {
        &self.block_height
    }

    /// The store it writes to.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Schedule a verified data item as the SU does: by its `Type` tag, a spawn or a message.
    /// The caller must have verified the signature.
    pub fn submit(&self, item: &DataItem) -> Result<ScheduledMessage, SchedError> {
        check_protocol_tags(item)?;
        match type_tag(item)? {
            "Process" => self.spawn(item),
            _ => self.schedule(item),
        }
    }

    /// Schedule a `Type: Process` item as slot 0 of a new process.
    pub fn spawn(&self, item: &DataItem) -> Result<ScheduledMessage, SchedError> {
        let pid = item.id();
        let module = item
            .tags
            .get("Module")
            .ok_or_else(|| {
                invalid("Required Module and Scheduler tags for Process type not present")
            })?
            .to_string();
        let scheduler = item.tags.get("Scheduler").ok_or_else(|| {
            invalid("Required Module and Scheduler tags for Process type not present")
        })?;
        if scheduler != self.address() {
            return Err(invalid(format!(
                "the Scheduler tag names {scheduler}; this node schedules as {}",
                self.address()
            )));
        }
        if self.store.module(&module)?.is_none() {
            return Err(invalid(format!(
                "the Module tag names {module}, which this node does not hold (add it first)"
            )));
        }
        let lock = self.lock(&pid);
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.store.process(&pid)?.is_some() {
            return Err(SchedError::ProcessExists(pid));
        }
        let link = chain::first_link(&Id::from(item.raw_id())).to_string();
        let timestamp = crate::clock::now_ms();
        // Read once: the assignment's tag and the stored slot carry the same height.
        let height = self.block_height.get();
        let assignment = self.assignment(&pid, None, 0, &link, (timestamp, height))?;
        let record = ProcessRecord {
            id: pid.clone(),
            owner: item.ao_address(),
            module,
            scheduler: self.address().to_string(),
            tags: item.tags.clone(),
            next_slot: 1,
            last_message_id: assignment.id(),
            last_hash_chain: link.clone(),
            last_timestamp: timestamp,
        };
        let scheduled = self.scheduled(&pid, 0, (timestamp, height), link, item);
        let raw = bundle::encode(&[&assignment, item]);
        self.store
            .append(&pid, Some(&raw), |current| {
                if current.is_some() {
                    return Err(StoreError::Conflict(format!(
                        "process {pid} already exists"
                    )));
                }
                Ok((record, scheduled))
            })
            .map_err(|e| match e {
                StoreError::Conflict(_) => SchedError::ProcessExists(pid.clone()),
                other => SchedError::Store(other),
            })
    }

    /// Schedule a `Type: Message` item at the next slot of its target.
    pub fn schedule(&self, item: &DataItem) -> Result<ScheduledMessage, SchedError> {
        let id = item.id();
        let pid = item
            .target_id()
            .ok_or_else(|| invalid("a Type: Message item needs a target process"))?;
        let lock = self.lock(&pid);
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let Some(mut record) = self.store.process(&pid)? else {
            return Err(SchedError::UnknownProcess(pid));
        };
        if record.scheduler != self.address() {
            // A process this node mirrors from a remote SU: scheduling here would fork its chain.
            return Err(invalid(format!(
                "process {pid} is scheduled by {}, not by this node; send its messages there",
                record.scheduler
            )));
        }
        if let Some(slot) = self.store.slot_of(&id, &pid)? {
            return Err(SchedError::Duplicate {
                message: id,
                process: pid,
                slot,
            });
        }
        let slot = record.next_slot;
        // The SU links the previous *assignment* (kept in `last_message_id`).
        let link = chain::next_link(
            &record.last_message_id.parse()?,
            &record.last_hash_chain.parse()?,
        )
        .to_string();
        let timestamp = crate::clock::now_ms().max(record.last_timestamp + 1);
        let height = self.block_height.get();
        let assignment = self.assignment(&pid, Some(&id), slot, &link, (timestamp, height))?;
        record.next_slot += 1;
        record.last_message_id = assignment.id();
        record.last_hash_chain = link.clone();
        record.last_timestamp = timestamp;
        let scheduled = self.scheduled(&pid, slot, (timestamp, height), link, item);
        let raw = bundle::encode(&[&assignment, item]);
        let expected = slot;
        let result = self.store.append(&pid, Some(&raw), |current| {
            // Under the process lock nobody else appends; check anyway, never fork a chain.
            match current {
                Some(c) if c.next_slot == expected => Ok((record, scheduled)),
                _ => Err(StoreError::Conflict(format!(
                    "process {pid} moved while slot {expected} was being assigned"
                ))),
            }
        });
        Ok(result?)
    }

    fn lock(&self, pid: &str) -> Arc<Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(pid.to_string()).or_default().clone()
    }

    /// The signed assignment of `message` (None for the spawn) at `nonce`.
    fn assignment(
        &self,
        process: &str,
        message: Option<&str>,
        nonce: u64,
        hash_chain: &str,
        (timestamp, height): (u64, u64),
    ) -> Result<DataItem, SchedError> {
        let mut tags = vec![
            Tag::new("Process", process),
            Tag::new("Epoch", "0"),
            Tag::new("Nonce", nonce.to_string()),
            Tag::new("Hash-Chain", hash_chain),
            Tag::new("Block-Height", format!("{height:0>12}")),
            Tag::new("Timestamp", timestamp.to_string()),
            Tag::new("Data-Protocol", "ao"),
            Tag::new("Type", "Assignment"),
            Tag::new("Variant", "ao.TN.1"),
        ];
        if let Some(id) = message {
            tags.push(Tag::new("Message", id));
        }
        let mut anchor = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut anchor)
            .map_err(|_| SchedError::Sign("no randomness for the anchor".into()))?;
        DataItem::signed(&self.wallet, None, Some(anchor), tags, Vec::new())
            .map_err(|e| SchedError::Sign(e.to_string()))
    }

    fn scheduled(
        &self,
        process_id: &str,
        slot: u64,
        (timestamp, height): (u64, u64),
        hash_chain: String,
        item: &DataItem,
    ) -> ScheduledMessage {
        ScheduledMessage {
            id: item.id(),
            assignment: Assignment {
                process: process_id.to_string(),
                slot,
                epoch: 0,
                timestamp,
                block_height: height,
                hash_chain,
            },
            message: crate::ao::fields::message_fields(item),
        }
    }
}

/// The SU's checks on every item: a `Data-Protocol` tag, and no `+link` tags.
fn check_protocol_tags(item: &DataItem) -> Result<(), SchedError> {
    if !item
        .tags
        .iter()
        .any(|t| t.name == "Data-Protocol" || t.name == "data-protocol")
    {
        return Err(invalid("Data-Protocol tag not present"));
    }
    if let Some(t) = item
        .tags
        .iter()
        .find(|t| t.name.ends_with("+link") || t.value.ends_with("+link"))
    {
        return Err(invalid(format!("Tag {} cannot contain +link", t.name)));
    }
    Ok(())
}

/// The `Type` tag, which must be `Process` or `Message`.
fn type_tag(item: &DataItem) -> Result<&str, SchedError> {
    let value = item
        .tags
        .iter()
        .find(|t| t.name == "Type" || t.name == "type")
        .map(|t| t.value.as_str())
        .ok_or_else(|| invalid("Type tag not present"))?;
    match value {
        "Process" | "Message" => Ok(value),
        other => Err(invalid(format!(
            "Unsupported Type tag value `{other}` (expected Process or Message)"
        ))),
    }
}

fn invalid(message: impl Into<String>) -> SchedError {
    SchedError::Invalid(message.into())
}

/// The node's scheduler, ready once its wallet is loaded — or generated, which takes seconds,
/// so a node starts serving at once and the first request that needs the scheduler waits.
#[derive(Debug)]
pub struct NodeScheduler {
    store: Arc<Store>,
    wallet_path: std::path::PathBuf,
    block_height: BlockHeight,
    cell: tokio::sync::OnceCell<Scheduler>,
}

impl NodeScheduler {
    /// A scheduler over `store` whose wallet is (or will be generated) at `wallet_path`.
    pub fn new(
        store: Arc<Store>,
        wallet_path: std::path::PathBuf,
        block_height: impl Into<BlockHeight>,
    ) -> NodeScheduler {
        NodeScheduler {
            store,
            wallet_path,
            block_height: block_height.into(),
            cell: tokio::sync::OnceCell::new(),
        }
    }

    /// The scheduler, loading or generating the wallet on first call.
    pub async fn get(&self) -> Result<&Scheduler, SchedError> {
        self.cell
            .get_or_try_init(|| async {
                let path = self.wallet_path.clone();
                let wallet = tokio::task::spawn_blocking(move || Wallet::load_or_generate(&path))
                    .await
                    .map_err(|e| SchedError::Wallet(e.to_string()))?
                    .map_err(|e| SchedError::Wallet(e.to_string()))?;
                tracing::info!(address = wallet.address(), "scheduler wallet ready");
                Ok(Scheduler::new(
                    self.store.clone(),
                    Arc::new(wallet),
                    self.block_height.clone(),
                ))
            })
            .await
    }

    /// The scheduler if its wallet is ready, without waiting for it: readers that must not
    /// stall behind a first start's key generation (`~meta@1.0/info`) look here.
    pub fn ready(&self) -> Option<&Scheduler> {
        self.cell.get()
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }
}

/// The block height the embedded scheduler reports when it follows no gateway (tests, tools).
pub const BLOCK_HEIGHT: u64 = 0;

#[cfg(test)]
mod tests;
