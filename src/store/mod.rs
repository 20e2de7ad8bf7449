//! Durable state in an embedded database (redb): modules, processes, scheduled messages with
//! their assignments, results per slot, checkpoints and metering totals.
//!
//! One file, `aocu.redb`, under the state directory. Every write is one transaction committed
//! with immediate durability before the caller acknowledges anything: an acknowledged message
//! survives `kill -9`. Records are JSON (serde) so that they stay readable and evolvable;
//! module bytes, raw data items and checkpoints are stored as they are.

mod balances;
mod cron;
mod ledger;
mod lookup;
mod records;

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

pub use balances::{Debit, Topup};
pub use cron::{CRON_RESULTS, CronResult};
pub use ledger::{Account, AccountOf, Charge};
pub use records::{
    Assignment, ItemSigner, ModuleRecord, ProcessRecord, ScheduledMessage, StoredResult,
};

/// module id → module record (JSON).
const MODULES: TableDefinition<&str, &[u8]> = TableDefinition::new("modules");
/// module id → wasm bytes.
const MODULE_BYTES: TableDefinition<&str, &[u8]> = TableDefinition::new("module_bytes");
/// module id → who signed the module item (JSON [`ItemSigner`]), when it came signed.
const MODULE_SIGNERS: TableDefinition<&str, &[u8]> = TableDefinition::new("module_signers");
/// process id → process record (JSON).
const PROCESSES: TableDefinition<&str, &[u8]> = TableDefinition::new("processes");
/// (process id, slot) → scheduled message (JSON: assignment + message fields).
const MESSAGES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("messages");
/// (process id, slot) → the raw signed data item, when the message came as one.
const ITEMS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("items");
/// message id → (process id, slot): a message may be assigned to several processes.
const MESSAGE_INDEX: TableDefinition<(&str, &str), u64> = TableDefinition::new("message_index");
/// (process id, slot) → result (JSON).
const RESULTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("results");
/// (process id, slot) → checkpoint bytes (format owned by the runtime).
const CHECKPOINTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("checkpoints");
/// metering key → JSON totals.
const METERING: TableDefinition<&str, &[u8]> = TableDefinition::new("metering");
/// node-wide value key → JSON (the last block height read, ...).
const NODE: TableDefinition<&str, &[u8]> = TableDefinition::new("node");

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened (locked by another process, corrupt, no permission).
    #[error("cannot open the state database {path}: {message}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// redb's explanation.
        message: String,
    },
    /// A read or write failed inside redb.
    #[error("state database: {0}")]
    Database(String),
    /// A stored record does not decode (written by an incompatible version, or corrupt).
    #[error("state database record {what} is corrupt: {message}")]
    Corrupt {
        /// Which record.
        what: String,
        /// The decoding error.
        message: String,
    },
    /// The caller's precondition does not hold (the slot to append is not the next one, ...).
    #[error("{0}")]
    Conflict(String),
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> StoreError {
                StoreError::Database(e.to_string())
            }
        }
    )*};
}
db_err!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// The node's durable state.
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Open (or create) the database under `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        let path = state_dir.join("aocu.redb");
        let open_err = |message: String| StoreError::Open {
            path: path.clone(),
            message,
        };
        std::fs::create_dir_all(state_dir).map_err(|e| open_err(e.to_string()))?;
        let db = Database::create(&path).map_err(|e| open_err(e.to_string()))?;
        let store = Store { db, path };
        store.create_tables()?;
        Ok(store)
    }

    /// Where the database file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn create_tables(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(MODULES)?;
        txn.open_table(MODULE_BYTES)?;
        txn.open_table(MODULE_SIGNERS)?;
        txn.open_table(PROCESSES)?;
        txn.open_table(MESSAGES)?;
        txn.open_table(ITEMS)?;
        txn.open_table(MESSAGE_INDEX)?;
        txn.open_table(RESULTS)?;
        txn.open_table(CHECKPOINTS)?;
        txn.open_table(METERING)?;
        txn.open_table(NODE)?;
        txn.open_table(CRON_RESULTS)?;
        txn.open_table(ledger::LEDGER)?;
        txn.open_table(balances::BALANCES)?;
        txn.open_table(balances::TOPUPS)?;
        txn.commit()?;
        Ok(())
    }

    // ---- modules ----

    /// Store a module and its record (idempotent: the same ID overwrites with the same bytes).
    pub fn put_module(&self, record: &ModuleRecord, bytes: &[u8]) -> Result<(), StoreError> {
        self.put_module_signed(record, bytes, None)
    }

    /// Keep a checked module item (`ao::module_item`): its record (ID, owner, tags, size, the
    /// time now), its wasm bytes and its signer (owner key and signature, which a gateway
    /// shows). Returns the record.
    pub fn put_module_item(&self, item: &crate::ao::DataItem) -> Result<ModuleRecord, StoreError> {
        let record = ModuleRecord {
            id: item.id(),
            owner: Some(item.owner_address()),
            tags: item.tags.clone(),
            size: item.data.len() as u64,
            added_at_ms: crate::clock::now_ms(),
        };
        let signer = ItemSigner {
            owner_key: item.owner_b64(),
            signature: item.signature_b64(),
        };
        self.put_module_signed(&record, &item.data, Some(&signer))?;
        Ok(record)
    }

    /// Record, bytes and signer of a module in one transaction: a reader never sees a module
    /// without the signer it came with.
    fn put_module_signed(
        &self,
        record: &ModuleRecord,
        bytes: &[u8],
        signer: Option<&ItemSigner>,
    ) -> Result<(), StoreError> {
        let id = record.id.as_str();
        let txn = self.db.begin_write()?;
        {
            txn.open_table(MODULES)?
                .insert(id, encode(record).as_slice())?;
            txn.open_table(MODULE_BYTES)?.insert(id, bytes)?;
            let mut signers = txn.open_table(MODULE_SIGNERS)?;
            match signer {
                Some(signer) => {
                    signers.insert(id, encode(signer).as_slice())?;
                }
                None => {
                    signers.remove(id)?;
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Who signed a module item (`None` for a module that came as raw bytes with no item).
    pub fn module_signer(&self, id: &str) -> Result<Option<ItemSigner>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(MODULE_SIGNERS)?;
        let value = table.get(id)?;
        value
            .map(|v| decode(v.value(), &format!("module signer {id}")))
            .transpose()
    }

    /// A module's record.
    pub fn module(&self, id: &str) -> Result<Option<ModuleRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(MODULES)?;
        let value = table.get(id)?;
        value
            .map(|v| decode(v.value(), &format!("module {id}")))
            .transpose()
    }

    /// A module's wasm bytes.
    pub fn module_bytes(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(MODULE_BYTES)?;
        Ok(table.get(id)?.map(|v| v.value().to_vec()))
    }

    // ---- processes and their schedule ----

    /// A process record.
    pub fn process(&self, id: &str) -> Result<Option<ProcessRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PROCESSES)?;
        let value = table.get(id)?;
        value
            .map(|v| decode(v.value(), &format!("process {id}")))
            .transpose()
    }

    /// All process IDs.
    pub fn process_ids(&self) -> Result<Vec<String>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PROCESSES)?;
        let mut ids = Vec::new();
        for entry in table.iter()? {
            let (key, _) = entry?;
            ids.push(key.value().to_string());
        }
        Ok(ids)
    }

    /// Append one message to a process' schedule in one durable transaction.
    ///
    /// `assign` sees the current process record (`None` for a spawn) and returns the updated
    /// record and the message to store at `record.next_slot - 1`. Concurrent appends to the same
    /// database are serialized by redb's single writer, so slots never collide.
    pub fn append<F>(
        &self,
        process_id: &str,
        raw_item: Option<&[u8]>,
        assign: F,
    ) -> Result<ScheduledMessage, StoreError>
    where
        F: FnOnce(Option<ProcessRecord>) -> Result<(ProcessRecord, ScheduledMessage), StoreError>,
    {
        let txn = self.db.begin_write()?;
        let current = process_in(&txn, process_id)?;
        let (record, message) = assign(current)?;
        let slot = message.assignment.slot;
        if record.next_slot != slot + 1 {
            return Err(StoreError::Conflict(format!(
                "slot {slot} is not the last one of process {process_id}"
            )));
        }
        txn.open_table(PROCESSES)?
            .insert(process_id, encode(&record).as_slice())?;
        put_slot(&txn, process_id, &message, raw_item)?;
        txn.commit()?;
        Ok(message)
    }

    /// Append consecutive slots copied from a remote scheduler in one durable transaction.
    ///
    /// `messages` hold `(scheduled message, raw [assignment, item] bundle)` for the slots
    /// `next_slot..`, where `next_slot` is the process' next free slot now (0: the process is
    /// new); `record` is the process record after the last of them. Nothing is written when
    /// the process moved in the meantime.
    pub fn append_copied(
        &self,
        record: &ProcessRecord,
        messages: &[(ScheduledMessage, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let process_id = record.id.as_str();
        let Some(first) = messages.first() else {
            return Ok(());
        };
        let first_slot = first.0.assignment.slot;
        let txn = self.db.begin_write()?;
        let next = process_in(&txn, process_id)?.map_or(0, |c| c.next_slot);
        if next != first_slot || record.next_slot != first_slot + messages.len() as u64 {
            return Err(StoreError::Conflict(format!(
                "process {process_id} is at slot {next}; slots {first_slot}.. do not follow"
            )));
        }
        txn.open_table(PROCESSES)?
            .insert(process_id, encode(record).as_slice())?;
        for (k, (message, raw)) in messages.iter().enumerate() {
            let slot = message.assignment.slot;
            if slot != first_slot + k as u64 {
                return Err(StoreError::Conflict(format!(
                    "slot {slot} out of order in a copy of process {process_id}"
                )));
            }
            put_slot(&txn, process_id, message, Some(raw))?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Messages of a process with slots in `from..=to`, at most `limit`, in slot order.
    pub fn messages(
        &self,
        process_id: &str,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<ScheduledMessage>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(MESSAGES)?;
        let mut out = Vec::new();
        if from > to {
            return Ok(out);
        }
        for entry in table
            .range((process_id, from)..=(process_id, to))?
            .take(limit)
        {
            let (key, value) = entry?;
            let (_, slot) = key.value();
            out.push(decode(
                value.value(),
                &format!("message {process_id}/{slot}"),
            )?);
        }
        Ok(out)
    }

    /// The raw data item stored at a slot, when the message came signed.
    pub fn item(&self, process_id: &str, slot: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ITEMS)?;
        Ok(table.get((process_id, slot))?.map(|v| v.value().to_vec()))
    }

    /// The slot a message was assigned in a process.
    pub fn slot_of(&self, message_id: &str, process_id: &str) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(MESSAGE_INDEX)?;
        Ok(table.get((message_id, process_id))?.map(|v| v.value()))
    }

    // ---- results ----

    /// Store the result of a slot.
    pub fn put_result(
        &self,
        process_id: &str,
        slot: u64,
        result: &StoredResult,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(RESULTS)?
            .insert((process_id, slot), encode(result).as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// Store the results of several slots of a process in one transaction, with the charge
    /// of each (`None`: nothing ran, nothing is charged) entered in the ledger when the slot
    /// had no result before. Returns, for each, whether it had none.
    pub fn put_results(
        &self,
        process_id: &str,
        results: &[(u64, StoredResult, Option<Charge>)],
    ) -> Result<Vec<bool>, StoreError> {
        let txn = self.db.begin_write()?;
        let mut fresh = Vec::with_capacity(results.len());
        {
            let mut table = txn.open_table(RESULTS)?;
            for (slot, result, _) in results {
                let old = table.insert((process_id, *slot), encode(result).as_slice())?;
                fresh.push(old.is_none());
            }
        }
        let charges = results.iter().zip(&fresh).filter(|(_, f)| **f);
        ledger::charge_in(&txn, process_id, charges.filter_map(|(r, _)| r.2.as_ref()))?;
        txn.commit()?;
        Ok(fresh)
    }

    /// The result of a slot, when evaluated.
    pub fn result(&self, process_id: &str, slot: u64) -> Result<Option<StoredResult>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(RESULTS)?;
        let value = table.get((process_id, slot))?;
        value
            .map(|v| decode(v.value(), &format!("result {process_id}/{slot}")))
            .transpose()
    }

    /// Results with slots in `from..=to`, ascending, at most `limit`.
    pub fn results(
        &self,
        process_id: &str,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<(u64, StoredResult)>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(RESULTS)?;
        let mut out = Vec::new();
        if from > to {
            return Ok(out);
        }
        for entry in table
            .range((process_id, from)..=(process_id, to))?
            .take(limit)
        {
            let (key, value) = entry?;
            let (_, slot) = key.value();
            out.push((
                slot,
                decode(value.value(), &format!("result {process_id}/{slot}"))?,
            ));
        }
        Ok(out)
    }

    // ---- checkpoints ----

    /// Store a checkpoint taken after `slot`, and drop older ones of the process.
    pub fn put_checkpoint(
        &self,
        process_id: &str,
        slot: u64,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        replace_checkpoints(&txn, process_id, slot, slot, bytes)?;
        txn.commit()?;
        Ok(())
    }

    /// Make a state loaded from outside the node (HyperBEAM's `POST /state`) the process'
    /// base, in one durable transaction: `record` (whose `next_slot` follows the loaded
    /// slot), `at` (the stand-in for the loaded slot's message: its assignment's slot,
    /// timestamp and block height), the slot's `result` and the `checkpoint` frame that holds
    /// the memory. The slots before it are not here; nothing replays across them because the
    /// checkpoint is the newest. Refused, writing nothing, when the process is not stored or
    /// already holds the slot.
    pub fn put_loaded_state(
        &self,
        record: &ProcessRecord,
        at: &ScheduledMessage,
        result: &StoredResult,
        checkpoint: &[u8],
    ) -> Result<(), StoreError> {
        let process_id = record.id.as_str();
        let slot = at.assignment.slot;
        let txn = self.db.begin_write()?;
        match process_in(&txn, process_id)? {
            Some(current) if current.next_slot <= slot => {}
            Some(current) => {
                return Err(StoreError::Conflict(format!(
                    "process {process_id} already holds slot {slot} (it is at slot {})",
                    current.next_slot
                )));
            }
            None => {
                return Err(StoreError::Conflict(format!(
                    "process {process_id} is not stored"
                )));
            }
        }
        txn.open_table(PROCESSES)?
            .insert(process_id, encode(record).as_slice())?;
        // Not indexed by message ID: the stand-in names no message a client could ask for.
        txn.open_table(MESSAGES)?
            .insert((process_id, slot), encode(at).as_slice())?;
        txn.open_table(RESULTS)?
            .insert((process_id, slot), encode(result).as_slice())?;
        replace_checkpoints(&txn, process_id, u64::MAX, slot, checkpoint)?;
        txn.commit()?;
        Ok(())
    }

    /// The newest checkpoint of a process at or before `slot`: (slot, bytes).
    pub fn latest_checkpoint(
        &self,
        process_id: &str,
        at_most: u64,
    ) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(CHECKPOINTS)?;
        let last = table
            .range((process_id, 0)..=(process_id, at_most))?
            .next_back();
        match last {
            Some(entry) => {
                let (key, value) = entry?;
                Ok(Some((key.value().1, value.value().to_vec())))
            }
            None => Ok(None),
        }
    }

    /// Remove a checkpoint (found corrupt).
    pub fn remove_checkpoint(&self, process_id: &str, slot: u64) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(CHECKPOINTS)?.remove((process_id, slot))?;
        txn.commit()?;
        Ok(())
    }

    // ---- metering ----

    /// Store metering totals under `key` (JSON).
    pub fn put_metering(&self, key: &str, totals: &serde_json::Value) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(METERING)?
            .insert(key, encode(totals).as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// Metering totals under `key`.
    pub fn metering(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(METERING)?;
        let value = table.get(key)?;
        value
            .map(|v| decode(v.value(), &format!("metering {key}")))
            .transpose()
    }
}

impl Store {
    /// Keep a node-wide value under `key` (JSON).
    pub fn put_node_value(&self, key: &str, value: &serde_json::Value) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(NODE)?
            .insert(key, encode(value).as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// The node-wide value under `key`.
    pub fn node_value(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(NODE)?;
        let value = table.get(key)?;
        value
            .map(|v| decode(v.value(), &format!("node value {key}")))
            .transpose()
    }
}

/// The process record as the write transaction `txn` sees it.
/// Store a checkpoint at `slot`, dropping the process' checkpoints below slot `below`.
fn replace_checkpoints(
    txn: &redb::WriteTransaction,
    process_id: &str,
    below: u64,
    slot: u64,
    bytes: &[u8],
) -> Result<(), StoreError> {
    let mut table = txn.open_table(CHECKPOINTS)?;
    let older: Vec<u64> = table
        .range((process_id, 0)..(process_id, below))?
        .map(|e| e.map(|(k, _)| k.value().1))
        .collect::<Result<_, _>>()?;
    for s in older {
        table.remove((process_id, s))?;
    }
    table.insert((process_id, slot), bytes)?;
    Ok(())
}

fn process_in(
    txn: &redb::WriteTransaction,
    process_id: &str,
) -> Result<Option<ProcessRecord>, StoreError> {
    txn.open_table(PROCESSES)?
        .get(process_id)?
        .map(|v| decode::<ProcessRecord>(v.value(), &format!("process {process_id}")))
        .transpose()
}

/// The rows of one scheduled slot: the message, its ID's index entry and, when given, the raw
/// bytes (item or `[assignment, item]` bundle) it was scheduled from.
fn put_slot(
    txn: &redb::WriteTransaction,
    process_id: &str,
    message: &ScheduledMessage,
    raw: Option<&[u8]>,
) -> Result<(), StoreError> {
    let slot = message.assignment.slot;
    txn.open_table(MESSAGES)?
        .insert((process_id, slot), encode(message).as_slice())?;
    txn.open_table(MESSAGE_INDEX)?
        .insert((message.id.as_str(), process_id), slot)?;
    if let Some(raw) = raw {
        txn.open_table(ITEMS)?.insert((process_id, slot), raw)?;
    }
    Ok(())
}
fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Records are plain data (strings, numbers, maps): serialization cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what: what.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
