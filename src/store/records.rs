//! The records the store keeps, as JSON.

use serde::{Deserialize, Serialize};

use crate::ao::Tags;

/// A stored WASM module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ModuleRecord {
    /// 43-character module ID.
    pub id: String,
    /// Owner address of the module's data item, when it came signed.
    pub owner: Option<String>,
    /// The module's AO tags (`Module-Format`, `Memory-Limit`, ...).
    pub tags: Tags,
    /// Size of the wasm bytes.
    pub size: u64,
    /// When it was added, ms since the Unix epoch.
    pub added_at_ms: u64,
}

/// Who signed a data item the node keeps apart from its bytes (a module's wasm is stored
/// alone): what a gateway shows as `owner { key }` and `signature`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ItemSigner {
    /// The owner's public key (base64url of the owner field).
    pub owner_key: String,
    /// The signature (base64url).
    pub signature: String,
}

/// A process scheduled by this node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ProcessRecord {
    /// Process ID (the ID of its spawn message).
    pub id: String,
    /// Owner address.
    pub owner: String,
    /// Module ID.
    pub module: String,
    /// Scheduler address.
    pub scheduler: String,
    /// The spawn message's tags.
    pub tags: Tags,
    /// The next free slot.
    pub next_slot: u64,
    /// ID of the message at the last slot.
    pub last_message_id: String,
    /// Hash-chain link of the last slot.
    pub last_hash_chain: String,
    /// Timestamp (ms) of the last slot; timestamps never go backwards.
    pub last_timestamp: u64,
}

/// Where and when the scheduler put a message (AO's assignment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Assignment {
    /// The process.
    pub process: String,
    /// Slot (equals the nonce).
    pub slot: u64,
    /// Epoch (always 0 on this scheduler).
    pub epoch: u64,
    /// ms since the Unix epoch.
    pub timestamp: u64,
    /// Arweave block height the scheduler reports.
    pub block_height: u64,
    /// Hash-chain link of this slot.
    pub hash_chain: String,
}

/// A message in a process' schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ScheduledMessage {
    /// Message ID.
    pub id: String,
    /// Its assignment.
    pub assignment: Assignment,
    /// The message fields as the process receives them (`Id`, `Owner`, `From`, `Tags`, ...).
    pub message: serde_json::Value,
}

/// The evaluated result of one slot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct StoredResult {
    /// The message evaluated.
    pub message_id: String,
    /// The result as AO's CU answers it (`Messages`, `Spawns`, `Output`, `Error`, `GasUsed`).
    pub result: serde_json::Value,
}
