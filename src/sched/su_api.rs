//! The read side of AO's legacy Scheduler Unit, rendered from the stored `[assignment, item]`
//! bundles with the SU's JSON shapes (`servers/su/src/domain/core/json.rs`):
//!
//! - a page: `{"page_info": {"has_next_page"}, "edges": [{"node": {"message", "assignment"},
//!   "cursor"}]}`, the process itself first (its spawn, nonce 0) on the first page;
//! - a message: `{"id", "owner": {"address", "key"}, "data", "tags", "signature", "anchor",
//!   "target"}`; an assignment: `{"id", "owner", "tags", "signature", "anchor", "target"}`;
//! - a process: `{"process_id", "block", "owner", "tags", "timestamp", "data", "anchor",
//!   "signature", "target"}`;
//! - `/timestamp`: `{"timestamp": "<ms>", "block_height": "<12 digits>"}` (both strings).
//!
//! Paging as the SU pages: by timestamp (`from` exclusive, `to` inclusive, cursor = timestamp),
//! or by nonce when `from-nonce`/`to-nonce` is given (same bounds, cursor = nonce; `from-nonce=-1`
//! includes the process). Default limit 100.

use serde_json::{Value, json};

use crate::ao::{DataItem, bundle};
use crate::store::{Store, StoreError};

/// Default page size of the SU.
pub const DEFAULT_LIMIT: usize = 100;

/// A read failed.
#[derive(Debug, thiserror::Error)]
pub enum SuError {
    /// No such process or message.
    #[error("{0}")]
    NotFound(String),
    /// A stored slot does not decode (a node fault).
    #[error("stored slot {process}/{slot} is corrupt: {message}")]
    Corrupt {
        /// The process.
        process: String,
        /// The slot.
        slot: u64,
        /// What is wrong.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Bounds of a page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageQuery {
    /// Timestamp (ms), exclusive.
    pub from: Option<u64>,
    /// Timestamp (ms), inclusive.
    pub to: Option<u64>,
    /// Nonce, exclusive (`-1` includes the process).
    pub from_nonce: Option<i64>,
    /// Nonce, inclusive.
    pub to_nonce: Option<u64>,
    /// Page size (default 100, at least 1).
    pub limit: Option<usize>,
}

/// One stored slot: its signed assignment and the item it assigns.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The slot (the assignment's nonce).
    pub slot: u64,
    /// The assignment, signed by the scheduler.
    pub assignment: DataItem,
    /// The message or process item.
    pub item: DataItem,
    /// The assignment's timestamp (ms).
    pub timestamp: u64,
}

/// Read the entry at `slot`.
pub fn entry(store: &Store, process: &str, slot: u64) -> Result<Option<Entry>, SuError> {
    let Some(bytes) = store.item(process, slot)? else {
        return Ok(None);
    };
    let corrupt = |message: String| SuError::Corrupt {
        process: process.to_string(),
        slot,
        message,
    };
    let mut items = bundle::decode(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if items.len() != 2 {
        return Err(corrupt(format!("{} items, expected 2", items.len())));
    }
    let item = items.pop().ok_or_else(|| corrupt("empty".into()))?;
    let assignment = items.pop().ok_or_else(|| corrupt("empty".into()))?;
    let timestamp = assignment
        .tags
        .get("Timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| corrupt("assignment has no Timestamp tag".into()))?;
    Ok(Some(Entry {
        slot,
        assignment,
        item,
        timestamp,
    }))
}

/// A page of a process' schedule.
pub fn page(store: &Store, process: &str, query: &PageQuery) -> Result<Value, SuError> {
    let record = store
        .process(process)?
        .ok_or_else(|| SuError::NotFound(format!("Process {process} not found")))?;
    let last = record.next_slot.saturating_sub(1);
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).max(1);
    let nonce_mode = query.from_nonce.is_some() || query.to_nonce.is_some();
    let (first, end) = if nonce_mode {
        let first = match query.from_nonce {
            None => 0,
            Some(n) if n < 0 => 0,
            Some(n) => n as u64 + 1,
        };
        (first, query.to_nonce.map_or(last, |t| t.min(last)))
    } else {
        // The SU shows the process only when no `from` is given.
        let first = match query.from {
            None => 0,
            Some(from) => first_after(store, process, from, last)?.max(1),
        };
        let end = match query.to {
            None => last,
            Some(to) => match first_after(store, process, to, last)? {
                0 => return Ok(render_page(Vec::new(), false, nonce_mode)),
                n => n - 1,
            },
        };
        (first, end)
    };
    let mut entries = Vec::new();
    let mut slot = first;
    while slot <= end && entries.len() <= limit {
        match entry(store, process, slot)? {
            Some(e) => entries.push(e),
            None => break,
        }
        slot += 1;
    }
    let has_next = entries.len() > limit;
    entries.truncate(limit);
    Ok(render_page(entries, has_next, nonce_mode))
}

/// The first slot (≤ `last` + 1) whose timestamp is greater than `ts`; timestamps strictly
/// increase with the slot, so a binary search over slots finds it.
fn first_after(store: &Store, process: &str, ts: u64, last: u64) -> Result<u64, SuError> {
    let (mut lo, mut hi) = (0u64, last + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let at = store
            .messages(process, mid, mid, 1)?
            .first()
            .map(|m| m.assignment.timestamp)
            .ok_or_else(|| SuError::Corrupt {
                process: process.to_string(),
                slot: mid,
                message: "missing slot".into(),
            })?;
        if at > ts {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(lo)
}

fn render_page(entries: Vec<Entry>, has_next: bool, nonce_mode: bool) -> Value {
    let edges: Vec<Value> = entries
        .iter()
        .map(|e| {
            let cursor = if nonce_mode {
                e.slot.to_string()
            } else {
                e.timestamp.to_string()
            };
            json!({ "node": node(e), "cursor": cursor })
        })
        .collect();
    json!({ "page_info": { "has_next_page": has_next }, "edges": edges })
}

/// `{"message", "assignment"}` of one entry.
pub fn node(e: &Entry) -> Value {
    let message = if e.slot == 0 {
        process_as_message(&e.item)
    } else {
        message_json(&e.item)
    };
    json!({ "message": message, "assignment": assignment_json(&e.assignment) })
}

/// The single-message answer of `GET /{message-id}?process-id=`.
pub fn message(store: &Store, process: &str, message_id: &str) -> Result<Value, SuError> {
    let not_found = || {
        SuError::NotFound(format!(
            "Message {message_id} not found on process {process}"
        ))
    };
    let slot = store.slot_of(message_id, process)?.ok_or_else(not_found)?;
    let e = entry(store, process, slot)?.ok_or_else(not_found)?;
    Ok(node(&e))
}

/// The latest entry of a process (`GET /{process-id}/latest`).
pub fn latest(store: &Store, process: &str) -> Result<Value, SuError> {
    let record = store
        .process(process)?
        .ok_or_else(|| SuError::NotFound(format!("Process {process} not found")))?;
    let slot = record.next_slot.saturating_sub(1);
    let e = entry(store, process, slot)?.ok_or_else(|| SuError::Corrupt {
        process: process.into(),
        slot,
        message: "missing slot".into(),
    })?;
    Ok(node(&e))
}

/// `GET /processes/{process-id}`.
pub fn process(store: &Store, process: &str) -> Result<Value, SuError> {
    let e = entry(store, process, 0)?
        .ok_or_else(|| SuError::NotFound(format!("Process {process} not found")))?;
    let item = &e.item;
    Ok(json!({
        "process_id": item.id(),
        "block": e.assignment.tags.get("Block-Height").unwrap_or_default(),
        "owner": owner(item),
        "tags": item.tags,
        "timestamp": e.timestamp,
        "data": String::from_utf8(item.data.clone()).ok(),
        "anchor": item.anchor_field(),
        "signature": item.signature_b64(),
        "target": item.target_id(),
    }))
}

/// `GET /timestamp`.
pub fn timestamp(now_ms: u64, block_height: u64) -> Value {
    json!({
        "timestamp": now_ms.to_string(),
        "block_height": format!("{block_height:0>12}"),
    })
}

fn owner(item: &DataItem) -> Value {
    json!({ "address": item.owner_address(), "key": item.owner_b64() })
}

fn message_json(item: &DataItem) -> Value {
    json!({
        "id": item.id(),
        "owner": owner(item),
        "data": String::from_utf8_lossy(&item.data),
        "tags": item.tags,
        "signature": item.signature_b64(),
        "anchor": item.anchor_field(),
        "target": item.target_id().unwrap_or_default(),
    })
}

/// The spawn as the first message of a page: data only when it is text, target null when absent.
fn process_as_message(item: &DataItem) -> Value {
    json!({
        "id": item.id(),
        "owner": owner(item),
        "data": String::from_utf8(item.data.clone()).ok(),
        "tags": item.tags,
        "signature": item.signature_b64(),
        "anchor": item.anchor_field(),
        "target": item.target_id(),
    })
}

fn assignment_json(item: &DataItem) -> Value {
    json!({
        "id": item.id(),
        "owner": owner(item),
        "tags": item.tags,
        "signature": item.signature_b64(),
        "anchor": item.anchor_field(),
        "target": item.target_id().unwrap_or_default(),
    })
}
