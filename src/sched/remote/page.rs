//! One page of a remote SU, turned back into signed data items and checked before anything of
//! it is kept:
//!
//! 1. every message and assignment is rebuilt from its JSON (owner key, signature, target,
//!    anchor, tags, data) into the ANS-104 item that was signed;
//! 2. every claimed ID is checked against SHA-256 of its signature in one batch (the `hash`
//!    module's batch API, so that the GPU can take it over), and every signature is verified
//!    (in parallel over the page) by the type its owner and signature lengths name;
//! 3. every assignment must be signed by the process' scheduler and name the process, the
//!    expected nonce and its message;
//! 4. every hash-chain link is computed from its predecessor (the previous assignment's ID and
//!    link, the last one kept for the first entry of a page) in one batch.
//!
//! The first entry that fails any check rejects the page, with an error naming its slot.

use serde_json::Value;

use crate::ao::{
    DataItem, Id, ItemError, SignatureType, Tag, Tags, anchor_from_field, b64url_decode,
};
use crate::hash::{self, Algorithm, ChainLink};

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
        reason: Rejection,
    },
}

/// One of the two items of a page entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The message (at slot 0, the process).
    Message,
    /// The scheduler's assignment.
    Assignment,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Message => "message",
            Part::Assignment => "assignment",
        })
    }
}

/// Why one slot of a page is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Its JSON does not rebuild into a signed item.
    #[error("{part}: {problem}")]
    Rebuild {
        /// Which item.
        part: Part,
        /// What is wrong with its JSON.
        problem: RebuildError,
    },
    /// A claimed ID is not SHA-256 of the signature.
    #[error("the {0} ID is not SHA-256 of its signature")]
    IdMismatch(Part),
    /// A signature does not verify.
    #[error("bad signature: {part} {id}: {error}")]
    Signature {
        /// Which item.
        part: Part,
        /// Its ID.
        id: String,
        /// The verifier's answer.
        error: ItemError,
    },
    /// The assignment is not signed by the process' scheduler.
    #[error("the assignment is signed by {signer}, not by the process' scheduler {scheduler}")]
    WrongSigner {
        /// Who signed it.
        signer: String,
        /// Who should have.
        scheduler: String,
    },
    /// The assignment lacks a tag it must carry.
    #[error("the assignment has no {0} tag")]
    MissingTag(&'static str),
    /// A numeric assignment tag is not a number.
    #[error("the assignment's {name} tag `{value}` is not a number")]
    NotANumber {
        /// The tag.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// The assignment is for another process.
    #[error("the assignment is for process {0}")]
    WrongProcess(String),
    /// The assignment's nonce is not the slot it stands at.
    #[error("the assignment's nonce is {found}, expected {expected}")]
    WrongNonce {
        /// Its nonce.
        found: u64,
        /// The slot.
        expected: u64,
    },
    /// Slot 0 holds another item than the process.
    #[error("slot 0 holds {0}, not the process itself")]
    NotTheProcess(String),
    /// The process names another scheduler.
    #[error("the process names scheduler {named:?}, not {expected}")]
    WrongScheduler {
        /// Its `Scheduler` tag.
        named: Option<String>,
        /// The SU's address.
        expected: String,
    },
    /// The assignment names another message than the one beside it.
    #[error("the assignment names message {named:?}, the page carries {carried}")]
    WrongMessage {
        /// Its `Message` tag.
        named: Option<String>,
        /// The message on the page.
        carried: String,
    },
    /// Time went backwards.
    #[error("timestamp {found} is before the previous slot's {previous}")]
    TimeWentBack {
        /// This slot's timestamp.
        found: u64,
        /// The previous one.
        previous: u64,
    },
    /// A `Hash-Chain` tag is not a link.
    #[error("Hash-Chain `{0}` is not a 43-character link")]
    MalformedLink(String),
    /// A `Hash-Chain` link does not follow from its predecessor.
    #[error("Hash-Chain `{0}` does not follow from the previous slot")]
    BrokenLink(String),
    /// What the page is checked against is malformed (a node fault, not the SU's).
    #[error("the kept {what} `{value}` is not an ID")]
    BadKept {
        /// Which value.
        what: &'static str,
        /// Its text.
        value: String,
    },
    /// The process carries no `Module` tag.
    #[error("the process has no Module tag")]
    NoModule,
}

/// The JSON of a message or assignment does not rebuild into a signed item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RebuildError {
    /// A field is missing.
    #[error("no {0}")]
    Missing(&'static str),
    /// A field that must be an ID is not one.
    #[error("{field} `{value}` is not a 43-character ID")]
    NotAnId {
        /// The field.
        field: &'static str,
        /// Its text.
        value: String,
    },
    /// A field that must be base64url is not.
    #[error("{field} is not base64url: {error}")]
    NotBase64 {
        /// The field.
        field: &'static str,
        /// The decoder's answer.
        error: base64::DecodeError,
    },
    /// The owner key and signature lengths match no signature type this node verifies.
    #[error(
        "owner key of {owner} bytes with a signature of {signature} bytes matches no \
         signature type this node verifies ({})",
        crate::ao::signature::verified_list()
    )]
    UnsupportedOwner {
        /// Owner length.
        owner: usize,
        /// Signature length.
        signature: usize,
    },
    /// The anchor is neither 32 bytes of text nor an ID.
    #[error("anchor `{0}` is neither 32 bytes of text nor an ID")]
    BadAnchor(String),
    /// A tag lacks a string name or value.
    #[error("tag {index} has no string {field}")]
    BadTag {
        /// Its position.
        index: usize,
        /// `name` or `value`.
        field: &'static str,
    },
    /// The data is not text, so the signed bytes cannot be known.
    #[error("data is not given as text, so its signature cannot be checked")]
    DataNotText,
    /// The data is not a string.
    #[error("data is not a string")]
    DataNotString,
    /// The parts do not make an item.
    #[error(transparent)]
    Item(#[from] ItemError),
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
    tag_values(assignment).ok()?.get("Nonce")?.parse().ok()
}

/// Rebuild and verify `edges` (new entries only, in order) against `expect`.
pub fn verify(
    edges: &[(Value, Value, String)],
    expect: &Expect<'_>,
) -> Result<Vec<VerifiedEntry>, PageError> {
    let reject = |slot: u64, reason: Rejection| PageError::Slot {
        process: expect.process.to_string(),
        slot,
        reason,
    };
    // 1. Rebuild, per entry; the slot an entry should have is its position.
    let rebuilt: Vec<Result<Rebuilt, (u64, Rejection)>> = edges
        .iter()
        .enumerate()
        .map(|(i, (message, assignment, _))| {
            let slot = expect.next_slot + i as u64;
            rebuild_entry(message, assignment).map_err(|reason| (slot, reason))
        })
        .collect();
    // 2. IDs in one SHA-256 batch; signatures in one batch of the node's verifier.
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
    let signed = verify_signatures(&ok);
    // 3. Per-entry checks, in slot order; the first failure names its slot.
    let mut entries = Vec::with_capacity(edges.len());
    let mut last_timestamp = expect.last_timestamp;
    for (i, r) in rebuilt.into_iter().enumerate() {
        let slot = expect.next_slot + i as u64;
        // Every entry before this one rebuilt (or the loop returned): it is the i-th of `ok`.
        let r = r.map_err(|(slot, reason)| reject(slot, reason))?;
        let k = i;
        if !ids_match[2 * k] {
            return Err(reject(slot, Rejection::IdMismatch(Part::Message)));
        }
        if !ids_match[2 * k + 1] {
            return Err(reject(slot, Rejection::IdMismatch(Part::Assignment)));
        }
        let (item_type, assignment_type) = signed[k].clone().map_err(|e| reject(slot, e))?;
        let mut r = r;
        r.item.signature_type = item_type;
        r.assignment.signature_type = assignment_type;
        let entry = check_assignment(r, slot, expect).map_err(|e| reject(slot, e))?;
        if entry.timestamp < last_timestamp {
            return Err(reject(
                slot,
                Rejection::TimeWentBack {
                    found: entry.timestamp,
                    previous: last_timestamp,
                },
            ));
        }
        last_timestamp = entry.timestamp;
        entries.push(entry);
    }
    // 4. The hash chain, every link from its predecessor, in one batch.
    check_chain(&entries, expect).map_err(|(slot, reason)| reject(slot, reason))?;
    Ok(entries)
}

/// The signature types of each entry's message and assignment, or the first that fails: every
/// signature of the page in one batch (messages and assignments interleaved), and only the
/// failures tried again under the other types their lengths allow.
fn verify_signatures(ok: &[&Rebuilt]) -> Vec<Result<(SignatureType, SignatureType), Rejection>> {
    let items: Vec<&DataItem> = ok.iter().flat_map(|r| [&r.item, &r.assignment]).collect();
    let verdicts = DataItem::verify_batch(&items);
    let settle = |part: Part, item: &DataItem, verdict: &Result<(), ItemError>| match verdict {
        Ok(()) => Ok(item.signature_type),
        Err(e) => retry_other_types(item, e.clone()).map_err(|error| Rejection::Signature {
            part,
            id: item.id(),
            error,
        }),
    };
    ok.iter()
        .zip(verdicts.chunks(2))
        .map(|(r, v)| {
            Ok((
                settle(Part::Message, &r.item, &v[0])?,
                settle(Part::Assignment, &r.assignment, &v[1])?,
            ))
        })
        .collect()
}

/// Verify a rebuilt item whose signature failed under the type it was rebuilt with, under each
/// other type its lengths allow; the type whose signature verifies, else the first error.
fn retry_other_types(item: &DataItem, first_error: ItemError) -> Result<SignatureType, ItemError> {
    for t in SignatureType::candidates(item.signature.len(), item.owner.len()) {
        if t != item.signature_type {
            let mut candidate = item.clone();
            candidate.signature_type = t;
            if candidate.verify().is_ok() {
                return Ok(t);
            }
        }
    }
    Err(first_error)
}

struct Rebuilt {
    item: DataItem,
    item_claimed_id: [u8; 32],
    assignment: DataItem,
    assignment_claimed_id: [u8; 32],
}

fn rebuild_entry(message: &Value, assignment: &Value) -> Result<Rebuilt, Rejection> {
    let rejected = |part: Part| move |problem: RebuildError| Rejection::Rebuild { part, problem };
    let (item, item_claimed_id) = rebuild(message, true).map_err(rejected(Part::Message))?;
    let (assignment, assignment_claimed_id) =
        rebuild(assignment, false).map_err(rejected(Part::Assignment))?;
    Ok(Rebuilt {
        item,
        item_claimed_id,
        assignment,
        assignment_claimed_id,
    })
}

/// The signed item behind one JSON message or assignment, and the ID it claims.
fn rebuild(v: &Value, with_data: bool) -> Result<(DataItem, [u8; 32]), RebuildError> {
    let text = |name: &str| v.get(name).and_then(Value::as_str);
    let id_of = |field: &'static str, value: &str| {
        value
            .parse::<Id>()
            .map(Id::into_bytes)
            .map_err(|_| RebuildError::NotAnId {
                field,
                value: value.to_string(),
            })
    };
    let claimed = id_of("id", text("id").ok_or(RebuildError::Missing("id"))?)?;
    let b64 = |field: &'static str, value: Option<&str>| {
        let value = value.ok_or(RebuildError::Missing(field))?;
        b64url_decode(value).map_err(|error| RebuildError::NotBase64 { field, error })
    };
    let owner = b64("owner.key", v.pointer("/owner/key").and_then(Value::as_str))?;
    let signature = b64("signature", text("signature"))?;
    // The page does not say the signature type: the lengths of the owner and the signature
    // narrow it to one (or to 2 and 4, both ed25519, which `verify_signed` tells apart).
    let Some(&signature_type) = SignatureType::candidates(signature.len(), owner.len()).first()
    else {
        return Err(RebuildError::UnsupportedOwner {
            owner: owner.len(),
            signature: signature.len(),
        });
    };
    let target = match text("target").filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => Some(id_of("target", t)?),
    };
    let anchor = match text("anchor").filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(anchor_from_field(a).ok_or_else(|| RebuildError::BadAnchor(a.into()))?),
    };
    let tags = tag_values(v)?;
    let data = if with_data {
        match v.get("data") {
            Some(Value::String(s)) => s.clone().into_bytes(),
            Some(Value::Null) | None => return Err(RebuildError::DataNotText),
            Some(_) => return Err(RebuildError::DataNotString),
        }
    } else {
        Vec::new()
    };
    let item = DataItem::from_parts(signature_type, signature, owner, target, anchor, tags, data)?;
    Ok((item, claimed))
}

fn tag_values(v: &Value) -> Result<Tags, RebuildError> {
    let tags = v
        .get("tags")
        .and_then(Value::as_array)
        .ok_or(RebuildError::Missing("tags array"))?;
    tags.iter()
        .enumerate()
        .map(|(index, t)| {
            let field = |field: &'static str| {
                t.get(field)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or(RebuildError::BadTag { index, field })
            };
            Ok(Tag::new(field("name")?, field("value")?))
        })
        .collect()
}

/// The assignment's own claims: its signer, process, nonce, message, times and link.
fn check_assignment(
    r: Rebuilt,
    slot: u64,
    expect: &Expect<'_>,
) -> Result<VerifiedEntry, Rejection> {
    let a = &r.assignment;
    let signer = a.owner_address();
    if signer != expect.scheduler {
        return Err(Rejection::WrongSigner {
            signer,
            scheduler: expect.scheduler.to_string(),
        });
    }
    let need = |name: &'static str| a.tags.get(name).ok_or(Rejection::MissingTag(name));
    let number = |name: &'static str| -> Result<u64, Rejection> {
        let value = need(name)?;
        value.parse().map_err(|_| Rejection::NotANumber {
            name,
            value: value.to_string(),
        })
    };
    let process = need("Process")?;
    if process != expect.process {
        return Err(Rejection::WrongProcess(process.to_string()));
    }
    let nonce = number("Nonce")?;
    if nonce != slot {
        return Err(Rejection::WrongNonce {
            found: nonce,
            expected: slot,
        });
    }
    let item_id = r.item.id();
    if slot == 0 {
        if item_id != expect.process {
            return Err(Rejection::NotTheProcess(item_id));
        }
        match r.item.tags.get("Scheduler") {
            Some(s) if s == expect.scheduler => {}
            other => {
                return Err(Rejection::WrongScheduler {
                    named: other.map(str::to_string),
                    expected: expect.scheduler.to_string(),
                });
            }
        }
    } else if a.tags.get("Message") != Some(item_id.as_str()) {
        return Err(Rejection::WrongMessage {
            named: a.tags.get("Message").map(str::to_string),
            carried: item_id,
        });
    }
    let hash_chain = need("Hash-Chain")?.to_string();
    Ok(VerifiedEntry {
        slot,
        timestamp: number("Timestamp")?,
        block_height: number("Block-Height")?,
        epoch: a.tags.get("Epoch").map_or(Ok(0), |_| number("Epoch"))?,
        hash_chain,
        assignment: r.assignment,
        item: r.item,
    })
}

/// Every link of `entries` from its predecessor; the first broken one names its slot.
fn check_chain(entries: &[VerifiedEntry], expect: &Expect<'_>) -> Result<(), (u64, Rejection)> {
    let bad_link = |e: &VerifiedEntry| (e.slot, Rejection::MalformedLink(e.hash_chain.clone()));
    let kept = |what: &'static str, value: &str| {
        value.parse::<Id>().map(Id::into_bytes).map_err(|_| {
            (
                expect.next_slot,
                Rejection::BadKept {
                    what,
                    value: value.to_string(),
                },
            )
        })
    };
    let claimed: Vec<[u8; 32]> = entries
        .iter()
        .map(|e| {
            e.hash_chain
                .parse::<Id>()
                .map(Id::into_bytes)
                .map_err(|_| bad_link(e))
        })
        .collect::<Result<_, _>>()?;
    let assignment_ids: Vec<[u8; 32]> = entries.iter().map(|e| e.assignment.raw_id()).collect();
    let process_raw = kept("process ID", expect.process)?;
    let previous = match expect.previous {
        None => None,
        Some((id, link)) => Some((kept("assignment ID", id)?, kept("link", link)?)),
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
            Rejection::BrokenLink(entries[i].hash_chain.clone()),
        )),
    }
}
