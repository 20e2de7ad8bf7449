//! Where ordered messages come from: the embedded scheduler (default), which gives each
//! incoming message of a process the next slot, a timestamp, a block height, a nonce and a
//! hash-chain link, and commits it durably before anyone is told.

pub mod chain;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::store::{Assignment, ProcessRecord, ScheduledMessage, Store, StoreError, Tag};

/// Scheduling failed.
#[derive(Debug, thiserror::Error)]
pub enum SchedError {
    /// The target process is not scheduled here.
    #[error("process {0} is not known to this scheduler")]
    UnknownProcess(String),
    /// A spawn for a process that already exists.
    #[error("process {0} already exists")]
    ProcessExists(String),
    /// An ID is malformed.
    #[error(transparent)]
    BadId(#[from] chain::BadId),
    /// The store failed; nothing was scheduled.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A message to schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// Its 43-character ID.
    pub id: String,
    /// The fields the process will see (`Id`, `Owner`, `From`, `Target`, `Anchor`, `Tags`, `Data`).
    pub message: serde_json::Value,
    /// The raw signed data item, kept for the SU API and re-verification.
    pub raw: Option<Vec<u8>>,
}

/// What a spawn adds to its message: who owns the process and what it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SpawnInfo {
    /// Owner address.
    pub owner: String,
    /// Module ID.
    pub module: String,
    /// The spawn's tags.
    pub tags: Vec<Tag>,
}

/// The embedded Scheduler Unit.
#[derive(Debug, Clone)]
pub struct Scheduler {
    store: Arc<Store>,
    address: String,
    block_height: u64,
}

impl Scheduler {
    /// A scheduler writing to `store`, identifying itself as `address`, reporting `block_height`.
    pub fn new(store: Arc<Store>, address: String, block_height: u64) -> Scheduler {
        Scheduler {
            store,
            address,
            block_height,
        }
    }

    /// This scheduler's address.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The store it writes to.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Schedule a spawn: the process' slot 0, its ID being the spawn message's ID.
    pub fn spawn(
        &self,
        mut incoming: Incoming,
        info: SpawnInfo,
    ) -> Result<ScheduledMessage, SchedError> {
        let pid = incoming.id.clone();
        let link = chain::first_link(&pid)?;
        let raw = incoming.raw.take();
        let raw = raw.as_deref();
        let scheduled = self.store.append(&pid, raw, |current| {
            if current.is_some() {
                return Err(StoreError::Conflict(format!(
                    "process {pid} already exists"
                )));
            }
            let timestamp = now_ms();
            let record = ProcessRecord {
                id: pid.clone(),
                owner: info.owner,
                module: info.module,
                scheduler: self.address.clone(),
                tags: info.tags,
                next_slot: 1,
                last_message_id: pid.clone(),
                last_hash_chain: link.clone(),
                last_timestamp: timestamp,
            };
            Ok((record, self.scheduled(&pid, 0, timestamp, link, incoming)))
        });
        scheduled.map_err(|e| match e {
            StoreError::Conflict(_) => SchedError::ProcessExists(pid.clone()),
            other => SchedError::Store(other),
        })
    }

    /// Schedule a message on an existing process at its next slot.
    pub fn schedule(
        &self,
        process_id: &str,
        mut incoming: Incoming,
    ) -> Result<ScheduledMessage, SchedError> {
        chain::raw_id(&incoming.id)?;
        let raw = incoming.raw.take();
        let raw = raw.as_deref();
        let mut unknown = false;
        let result = self.store.append(process_id, raw, |current| {
            let Some(mut record) = current else {
                unknown = true;
                return Err(StoreError::Conflict(format!(
                    "unknown process {process_id}"
                )));
            };
            let slot = record.next_slot;
            let link = chain::next_link(&record.last_message_id, &record.last_hash_chain)
                .map_err(|e| StoreError::Conflict(e.to_string()))?;
            // Timestamps never go backwards, whatever the wall clock does.
            let timestamp = now_ms().max(record.last_timestamp);
            record.next_slot += 1;
            record.last_message_id = incoming.id.clone();
            record.last_hash_chain = link.clone();
            record.last_timestamp = timestamp;
            Ok((
                record,
                self.scheduled(process_id, slot, timestamp, link, incoming),
            ))
        });
        match result {
            Err(_) if unknown => Err(SchedError::UnknownProcess(process_id.to_string())),
            other => Ok(other?),
        }
    }

    fn scheduled(
        &self,
        process_id: &str,
        slot: u64,
        timestamp: u64,
        hash_chain: String,
        incoming: Incoming,
    ) -> ScheduledMessage {
        ScheduledMessage {
            id: incoming.id,
            assignment: Assignment {
                process: process_id.to_string(),
                slot,
                epoch: 0,
                timestamp,
                block_height: self.block_height,
                hash_chain,
            },
            message: incoming.message,
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> String {
        chain::encode_id(&[n; 32])
    }

    fn incoming(n: u8) -> Incoming {
        Incoming {
            id: id(n),
            message: serde_json::json!({ "Id": id(n) }),
            raw: Some(vec![n; 8]),
        }
    }

    #[test]
    fn slots_links_and_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let sched = Scheduler::new(store.clone(), id(200), 42);
        let info = SpawnInfo {
            owner: id(100),
            module: id(101),
            tags: vec![],
        };
        let spawn = sched.spawn(incoming(1), info.clone()).unwrap();
        assert_eq!(spawn.assignment.slot, 0);
        assert_eq!(
            spawn.assignment.hash_chain,
            chain::first_link(&id(1)).unwrap()
        );
        assert!(matches!(
            sched.spawn(incoming(1), info),
            Err(SchedError::ProcessExists(_))
        ));

        let mut prev = spawn;
        for n in 2..6u8 {
            let next = sched.schedule(&id(1), incoming(n)).unwrap();
            assert_eq!(next.assignment.slot, prev.assignment.slot + 1);
            assert!(next.assignment.timestamp >= prev.assignment.timestamp);
            assert_eq!(next.assignment.block_height, 42);
            let link = chain::next_link(&prev.id, &prev.assignment.hash_chain).unwrap();
            assert_eq!(next.assignment.hash_chain, link);
            prev = next;
        }
        assert!(matches!(
            sched.schedule(&id(9), incoming(7)),
            Err(SchedError::UnknownProcess(_))
        ));
        let bad = Incoming {
            id: "not-an-id".into(),
            ..incoming(8)
        };
        assert!(matches!(
            sched.schedule(&id(1), bad),
            Err(SchedError::BadId(_))
        ));
        assert_eq!(store.process(&id(1)).unwrap().unwrap().next_slot, 5);
    }
}
