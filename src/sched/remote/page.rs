//! One page of a remote SU, turned back into signed data items and checked before anything of
//! it is kept:
//!
//! 1. every message and assignment is rebuilt from its JSON (owner key, signature, target,
//!    anchor, tags, data) into the ANS-104 item that was signed;
//! 2. every claimed ID is checked against SHA-256 of its signature in one batch (the `hash`
//!    module's batch API, so that the GPU can take it over), every RSA-PSS signature is
//!    verified (in parallel over the page);
//! 3. every assignment must be signed by the process' scheduler and name the process, the
//!    expected nonce and its message;
//! 4. every hash-chain link is computed from its predecessor (the previous assignment's ID and
//!    link, the last one kept for the first entry of a page) in one batch.
//!
//! The first entry that fails any check rejects the page, with an error naming its slot.

use rayon::prelude::*;
use serde_json::Value;

use crate::ao::{DataItem, SignatureType, anchor_from_field, b64url_decode, decode_id};
use crate::hash::{self, Algorithm, ChainLink};
use crate::store::Tag;

/// One verified slot of a remote schedule.
#[derive(Debug, Clone)]
pub struct VerifiedEntry {
    /// The slot (the assignment's nonce).
    pub slot: u64,
    /// The scheduler's signed assignment.
    pub assignment: DataItem,
    /// The message (or, at slot 0, the process) it assigns.
    pub item: DataItem,
    /// `Timestamp` of the assignment (ms).
    pub timestamp: u64,
    /// `Block-Height` of the assignment.
    pub block_height: u64,
    /// `Epoch` of the assignment.
    pub epoch: u64,
    /// `Hash-Chain` of the assignment.
    pub hash_chain: String,
}

/// What the page is checked against.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    /// The process.
    pub process: &'a str,
    /// The scheduler's address (the process' `Scheduler` tag).
    pub scheduler: &'a str,
    /// The slot the first new entry must have.
    pub next_slot: u64,
    /// The last kept entry: its assignment ID and hash-chain link (`None` before slot 0).
    pub previous: Option<(&'a str, &'a str)>,
    /// The last kept timestamp (timestamps never go back).
    pub last_timestamp: u64,
}

/// A page was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// The page is not an SU page at all.
    #[error("not an SU page: {0}")]
    Shape(String),
    /// One slot failed a check.
    #[error("slot {slot} of process {process} is rejected: {reason}")]
    Slot {
        /// The process.
        process: String,
        /// The first slot that failed.
        slot: u64,
        /// Which check, and how.
        reason: String,
    },
}

/// A parsed page: its edges (each message and assignment JSON) and whether more follow.
#[derive(Debug, Clone)]
pub struct Page {
    /// `(message, assignment, cursor)` per edge.
    pub edges: Vec<(Value, Value, String)>,
    /// `page_info.has_next_page`.
    pub has_next: bool,
}

/// Parse an SU page body.
pub fn parse(body: &[u8]) -> Result<Page, PageError> {
    let json: Value =
        serde_json::from_slice(body).map_err(|e| PageError::Shape(format!("not JSON: {e}")))?;
    let has_next = json
        .pointer("/page_info/has_next_page")
        .and_then(Value::as_bool)
        .ok_or_else(|| PageError::Shape("no page_info.has_next_page".into()))?;
    let edges = json
        .get("edges")
        .and_then(Value::as_array)
        .ok_or_else(|| PageError::Shape("no edges array".into()))?;
    let edges = edges
        .iter()
        .enumerate()
        .map(|(i, edge)| {
            let part = |name: &str| {
                edge.pointer(&format!("/node/{name}"))
                    .filter(|v| v.is_object())
                    .cloned()
                    .ok_or_else(|| PageError::Shape(format!("edge {i} has no node.{name}")))
            };
            let cursor = match edge.get("cursor") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(PageError::Shape(format!("edge {i} has no cursor"))),
            };
            Ok((part("message")?, part("assignment")?, cursor))
        })
        .collect::<Result<_, _>>()?;
    Ok(Page { edges, has_next })
}

/// The nonce an edge's assignment claims (to skip entries already kept), when readable.
pub fn nonce_of(assignment: &Value) -> Option<u64> {
    tag_values(assignment)
        .ok()?
        .into_iter()
        .find(|t| t.name == "Nonce")?
        .value
        .parse()
        .ok()
}

/// Rebuild and verify `edges` (new entries only, in order) against `expect`.
pub fn verify(
    edges: &[(Value, Value, String)],
    expect: &Expect<'_>,
) -> Result<Vec<VerifiedEntry>, PageError> {
    let reject = |slot: u64, reason: String| PageError::Slot {
        process: expect.process.to_string(),
        slot,
        reason,
    };
    // 1. Rebuild, per entry; the slot an entry should have is its position.
    let rebuilt: Vec<Result<Rebuilt, (u64, String)>> = edges
        .iter()
        .enumerate()
        .map(|(i, (message, assignment, _))| {
            let slot = expect.next_slot + i as u64;
            rebuild_entry(message, assignment).map_err(|reason| (slot, reason))
        })
        .collect();
    // 2. IDs in one SHA-256 batch; signatures in parallel.
    let ok: Vec<&Rebuilt> = rebuilt.iter().filter_map(|r| r.as_ref().ok()).collect();
    let signatures: Vec<&[u8]> = ok
        .iter()
        .flat_map(|r| [&r.item.signature[..], &r.assignment.signature[..]])
        .collect();
    let claimed: Vec<[u8; 32]> = ok
        .iter()
        .flat_map(|r| [r.item_claimed_id, r.assignment_claimed_id])
        .collect();
    let ids_match = hash::shared()
        .verify_or_cpu(Algorithm::Sha256, &signatures, &claimed)
        .ok_or_else(|| PageError::Shape("hashing the IDs: one digest per signature".into()))?;
    let signed: Vec<Result<(), String>> = ok
        .par_iter()
        .map(|r| {
            r.item
                .verify()
                .map_err(|e| format!("message {}: {e}", r.item.id()))?;
            r.assignment
                .verify()
                .map_err(|e| format!("assignment {}: {e}", r.assignment.id()))
        })
        .collect();
    // 3. Per-entry checks, in slot order; the first failure names its slot.
    let mut entries = Vec::with_capacity(edges.len());
    let mut last_timestamp = expect.last_timestamp;
    for (i, r) in rebuilt.into_iter().enumerate() {
        let slot = expect.next_slot + i as u64;
        // Every entry before this one rebuilt (or the loop returned): it is the i-th of `ok`.
        let r = r.map_err(|(slot, reason)| reject(slot, reason))?;
        let k = i;
        if !ids_match[2 * k] {
            return Err(reject(
                slot,
                "the message ID is not SHA-256 of its signature".into(),
            ));
        }
        if !ids_match[2 * k + 1] {
            return Err(reject(
                slot,
                "the assignment ID is not SHA-256 of its signature".into(),
            ));
        }
        signed[k]
            .clone()
            .map_err(|e| reject(slot, format!("bad signature: {e}")))?;
        let entry = check_assignment(r, slot, expect).map_err(|e| reject(slot, e))?;
        if entry.timestamp < last_timestamp {
            return Err(reject(
                slot,
                format!(
                    "timestamp {} is before the previous slot's {last_timestamp}",
                    entry.timestamp
                ),
            ));
        }
        last_timestamp = entry.timestamp;
        entries.push(entry);
    }
    // 4. The hash chain, every link from its predecessor, in one batch.
    check_chain(&entries, expect).map_err(|(slot, reason)| reject(slot, reason))?;
    Ok(entries)
}

struct Rebuilt {
    item: DataItem,
    item_claimed_id: [u8; 32],
    assignment: DataItem,
    assignment_claimed_id: [u8; 32],
}

fn rebuild_entry(message: &Value, assignment: &Value) -> Result<Rebuilt, String> {
    let (item, item_claimed_id) = rebuild(message, true).map_err(|e| format!("message: {e}"))?;
    let (assignment, assignment_claimed_id) =
        rebuild(assignment, false).map_err(|e| format!("assignment: {e}"))?;
    Ok(Rebuilt {
        item,
        item_claimed_id,
        assignment,
        assignment_claimed_id,
    })
}

/// The signed item behind one JSON message or assignment, and the ID it claims.
fn rebuild(v: &Value, with_data: bool) -> Result<(DataItem, [u8; 32]), String> {
    let text = |name: &str| v.get(name).and_then(Value::as_str);
    let id = text("id").ok_or("no id")?;
    let claimed = decode_id(id).ok_or_else(|| format!("id `{id}` is not a 43-character ID"))?;
    let b64 = |name: &str, value: Option<&str>| {
        let value = value.ok_or_else(|| format!("no {name}"))?;
        b64url_decode(value).map_err(|e| format!("{name} is not base64url: {e}"))
    };
    let owner = b64("owner.key", v.pointer("/owner/key").and_then(Value::as_str))?;
    let signature = b64("signature", text("signature"))?;
    // The page does not say the signature type; Arweave's RSA keys are the only one verified.
    if owner.len() != 512 {
        return Err(format!(
            "owner key of {} bytes: only Arweave RSA-4096 signatures (type 1) are verified",
            owner.len()
        ));
    }
    let target = match text("target").filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => Some(decode_id(t).ok_or_else(|| format!("target `{t}` is not an ID"))?),
    };
    let anchor = match text("anchor").filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(
            anchor_from_field(a)
                .ok_or_else(|| format!("anchor `{a}` is neither 32 bytes of text nor an ID"))?,
        ),
    };
    let tags = tag_values(v)?;
    let data = if with_data {
        match v.get("data") {
            Some(Value::String(s)) => s.clone().into_bytes(),
            Some(Value::Null) | None => {
                return Err("data is not given as text, so its signature cannot be checked".into());
            }
            Some(_) => return Err("data is not a string".into()),
        }
    } else {
        Vec::new()
    };
    let item = DataItem::from_parts(
        SignatureType::Arweave,
        signature,
        owner,
        target,
        anchor,
        tags,
        data,
    )
    .map_err(|e| e.to_string())?;
    Ok((item, claimed))
}

fn tag_values(v: &Value) -> Result<Vec<Tag>, String> {
    let tags = v
        .get("tags")
        .and_then(Value::as_array)
        .ok_or("no tags array")?;
    tags.iter()
        .enumerate()
        .map(|(i, t)| {
            let field = |name: &str| {
                t.get(name)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| format!("tag {i} has no string {name}"))
            };
            Ok(Tag {
                name: field("name")?,
                value: field("value")?,
            })
        })
        .collect()
}

/// The assignment's own claims: its signer, process, nonce, message, times and link.
fn check_assignment(r: Rebuilt, slot: u64, expect: &Expect<'_>) -> Result<VerifiedEntry, String> {
    let a = &r.assignment;
    let signer = a.owner_address();
    if signer != expect.scheduler {
        return Err(format!(
            "the assignment is signed by {signer}, not by the process' scheduler {}",
            expect.scheduler
        ));
    }
    let need = |name: &str| {
        a.tag(name)
            .ok_or_else(|| format!("the assignment has no {name} tag"))
    };
    let number = |name: &str| -> Result<u64, String> {
        let value = need(name)?;
        value
            .parse()
            .map_err(|_| format!("the assignment's {name} tag `{value}` is not a number"))
    };
    if need("Process")? != expect.process {
        return Err(format!(
            "the assignment is for process {}",
            need("Process")?
        ));
    }
    let nonce = number("Nonce")?;
    if nonce != slot {
        return Err(format!(
            "the assignment's nonce is {nonce}, expected {slot}"
        ));
    }
    let item_id = r.item.id();
    if slot == 0 {
        if item_id != expect.process {
            return Err(format!("slot 0 holds {item_id}, not the process itself"));
        }
        match r.item.tag("Scheduler") {
            Some(s) if s == expect.scheduler => {}
            other => {
                return Err(format!(
                    "the process names scheduler {other:?}, not {}",
                    expect.scheduler
                ));
            }
        }
    } else if a.tag("Message") != Some(item_id.as_str()) {
        return Err(format!(
            "the assignment names message {:?}, the page carries {item_id}",
            a.tag("Message")
        ));
    }
    let hash_chain = need("Hash-Chain")?.to_string();
    Ok(VerifiedEntry {
        slot,
        timestamp: number("Timestamp")?,
        block_height: number("Block-Height")?,
        epoch: a.tag("Epoch").map_or(Ok(0), |_| number("Epoch"))?,
        hash_chain,
        assignment: r.assignment,
        item: r.item,
    })
}

/// Every link of `entries` from its predecessor; the first broken one names its slot.
fn check_chain(entries: &[VerifiedEntry], expect: &Expect<'_>) -> Result<(), (u64, String)> {
    let bad_link = |e: &VerifiedEntry| {
        (
            e.slot,
            format!("Hash-Chain `{}` is not a 43-character link", e.hash_chain),
        )
    };
    let claimed: Vec<[u8; 32]> = entries
        .iter()
        .map(|e| decode_id(&e.hash_chain).ok_or_else(|| bad_link(e)))
        .collect::<Result<_, _>>()?;
    let assignment_ids: Vec<[u8; 32]> = entries.iter().map(|e| e.assignment.raw_id()).collect();
    let process_raw = decode_id(expect.process)
        .ok_or_else(|| (expect.next_slot, "the process ID is not an ID".to_string()))?;
    let previous = match expect.previous {
        None => None,
        Some((id, link)) => Some((
            decode_id(id).ok_or((expect.next_slot, format!("kept ID `{id}` is not an ID")))?,
            decode_id(link).ok_or((
                expect.next_slot,
                format!("kept link `{link}` is not a link"),
            ))?,
        )),
    };
    let links: Vec<ChainLink<'_>> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            if e.slot == 0 {
                return ChainLink::genesis(&process_raw, claimed[i]);
            }
            let (prev_id, prev_chain): (&[u8], &[u8]) = match i {
                0 => match &previous {
                    Some((id, link)) => (&id[..], &link[..]),
                    None => (&[], &[]),
                },
                _ => (&assignment_ids[i - 1][..], &claimed[i - 1][..]),
            };
            ChainLink {
                prev_id,
                prev_chain,
                claimed: claimed[i],
            }
        })
        .collect();
    let verdicts = hash::shared().verify_chain_or_cpu(&links);
    match verdicts.iter().position(|ok| !ok) {
        None => Ok(()),
        Some(i) => Err((
            entries[i].slot,
            format!(
                "Hash-Chain `{}` does not follow from the previous slot",
                entries[i].hash_chain
            ),
        )),
    }
}
