//! What the gateway can tell about: the node's modules, every message it scheduled (spawns
//! included) and its own `Scheduler-Location`, each seen as an Arweave transaction.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::ao::{DataItem, Tag, Tags, bundle};
use crate::store::{ItemSigner, ModuleRecord, ScheduledMessage, Store, StoreError};

/// How long clients may cache the node's `Scheduler-Location` (ms), as its `Time-To-Live` tag.
pub const SCHEDULER_LOCATION_TTL_MS: u64 = 3_600_000;

/// One record as the gateway's `Transaction` type shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TxRecord {
    /// 43-character ID.
    pub id: String,
    /// Owner address, when known.
    pub owner_address: Option<String>,
    /// Owner public key (base64url), when known.
    pub owner_key: Option<String>,
    /// Target (`recipient`), empty when none.
    pub recipient: String,
    /// Anchor, empty when none.
    pub anchor: String,
    /// Signature (base64url), when known.
    pub signature: Option<String>,
    /// Tags in their original order.
    pub tags: Tags,
    /// Size of the data in bytes.
    pub data_size: u64,
    /// The data's `Content-Type` tag, when any.
    pub data_type: Option<String>,
    /// Sort key standing in for the block height: ms since the Unix epoch.
    pub order: u64,
}

/// The node's own `Scheduler-Location`: where its scheduler (this node) is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerLocation {
    /// The scheduler's wallet address (the record's owner).
    pub address: String,
    /// The scheduler's public key (base64url of its RSA modulus), when known.
    pub key: Option<String>,
    /// The URL clients reach the node at.
    pub url: String,
}

impl SchedulerLocation {
    /// The record: tags as AO's Scheduler Units publish them. It is not a signed data item, so
    /// its ID is derived from what it says (SHA-256 of address and URL, base64url).
    pub fn record(&self) -> TxRecord {
        let digest = Sha256::new()
            .chain_update(b"aocu Scheduler-Location\0")
            .chain_update(self.address.as_bytes())
            .chain_update(b"\0")
            .chain_update(self.url.as_bytes())
            .finalize();
        let tag = |name: &str, value: &str| Tag {
            name: name.to_string(),
            value: value.to_string(),
        };
        TxRecord {
            id: URL_SAFE_NO_PAD.encode(digest),
            owner_address: Some(self.address.clone()),
            owner_key: self.key.clone(),
            recipient: String::new(),
            anchor: String::new(),
            signature: None,
            tags: vec![
                tag("Data-Protocol", "ao"),
                tag("Variant", "ao.TN.1"),
                tag("Type", "Scheduler-Location"),
                tag("Url", &self.url),
                tag("Time-To-Live", &SCHEDULER_LOCATION_TTL_MS.to_string()),
            ]
            .into(),
            data_size: 0,
            data_type: None,
            order: 0,
        }
    }
}

/// Where transactions come from; the node's store in production, a list in tests.
pub trait Source {
    /// The records with these IDs (any that exist, each once).
    fn by_ids(&self, ids: &[String]) -> Result<Vec<TxRecord>, StoreError>;
    /// Every record.
    fn all(&self) -> Result<Vec<TxRecord>, StoreError>;
}

/// The records of a node: its store and, when it has a wallet, its `Scheduler-Location`.
pub struct NodeRecords<'a> {
    /// The node's store.
    pub store: &'a Store,
    /// The node's `Scheduler-Location`, when it knows its wallet address.
    pub scheduler: Option<SchedulerLocation>,
}

impl Source for NodeRecords<'_> {
    fn by_ids(&self, ids: &[String]) -> Result<Vec<TxRecord>, StoreError> {
        let location = self.scheduler.as_ref().map(SchedulerLocation::record);
        let mut out: Vec<TxRecord> = Vec::new();
        let mut seen = HashSet::new();
        for id in ids {
            if !seen.insert(id.as_str()) {
                continue;
            }
            if let Some(module) = self.store.module(id)? {
                out.push(self.module_tx(&module)?);
            } else if let Some(message) = self.message(id)? {
                out.push(self.message_tx(&message)?);
            } else if let Some(record) = location.as_ref().filter(|r| &r.id == id) {
                out.push(record.clone());
            }
        }
        Ok(out)
    }

    fn all(&self) -> Result<Vec<TxRecord>, StoreError> {
        let mut out = Vec::new();
        for module in self.store.modules()? {
            out.push(self.module_tx(&module)?);
        }
        let mut seen = HashSet::new();
        for process in self.store.process_ids()? {
            for message in self.store.messages(&process, 0, u64::MAX, usize::MAX)? {
                // A message assigned to several processes is one transaction.
                if seen.insert(message.id.clone()) {
                    out.push(self.message_tx(&message)?);
                }
            }
        }
        out.extend(self.scheduler.as_ref().map(SchedulerLocation::record));
        Ok(out)
    }
}

impl NodeRecords<'_> {
    /// A scheduled message by ID (its first assignment).
    pub fn message(&self, id: &str) -> Result<Option<ScheduledMessage>, StoreError> {
        let Some((process, slot)) = self.store.message_locations(id)?.into_iter().next() else {
            return Ok(None);
        };
        Ok(self
            .store
            .messages(&process, slot, slot, 1)?
            .into_iter()
            .next())
    }

    /// A module as a transaction, with the owner key and signature of its item when it came
    /// as one.
    pub fn module_tx(&self, module: &ModuleRecord) -> Result<TxRecord, StoreError> {
        let signer = self.store.module_signer(&module.id)?;
        Ok(signed_by(module_record(module), signer))
    }

    /// A scheduled message as a transaction, with the owner key and signature read from the
    /// signed item it was scheduled from (kept in its slot's `[assignment, item]` bundle).
    pub fn message_tx(&self, message: &ScheduledMessage) -> Result<TxRecord, StoreError> {
        let item = self.scheduled_item(message)?;
        let signer = item.map(|item| ItemSigner {
            owner_key: item.owner_b64(),
            signature: item.signature_b64(),
        });
        Ok(signed_by(message_record(message), signer))
    }

    /// The signed item a message was scheduled from, when its slot keeps one: the item of the
    /// stored bundle (or the stored item itself) whose ID is the message's.
    fn scheduled_item(&self, message: &ScheduledMessage) -> Result<Option<DataItem>, StoreError> {
        let at = &message.assignment;
        let Some(raw) = self.store.item(&at.process, at.slot)? else {
            return Ok(None);
        };
        let items = bundle::decode(&raw)
            .or_else(|_| DataItem::parse(&raw).map(|item| vec![item]))
            .unwrap_or_default();
        Ok(items.into_iter().find(|item| item.id() == message.id))
    }
}

/// `record` with the owner key and signature of the item it stands for, when known.
fn signed_by(mut record: TxRecord, signer: Option<ItemSigner>) -> TxRecord {
    if let Some(signer) = signer {
        record.owner_key = Some(signer.owner_key);
        record.signature = Some(signer.signature);
    }
    record
}

/// A module as a transaction from its record alone: its tags, its size, its owner address
/// when it came signed (owner key and signature: [`NodeRecords::module_tx`]).
pub fn module_record(module: &ModuleRecord) -> TxRecord {
    TxRecord {
        id: module.id.clone(),
        owner_address: module.owner.clone(),
        owner_key: None,
        recipient: String::new(),
        anchor: String::new(),
        signature: None,
        data_type: Some(
            module
                .tags
                .get("Content-Type")
                .unwrap_or("application/wasm")
                .to_string(),
        ),
        tags: module.tags.clone(),
        data_size: module.size,
        order: module.added_at_ms,
    }
}

/// A scheduled message (a spawn or a message) as a transaction, from the fields the process
/// sees (`Owner`, `Target`, `Anchor`, `Signature`, `Tags`, `Data`); the owner key is not among
/// them ([`NodeRecords::message_tx`] adds it).
pub fn message_record(message: &ScheduledMessage) -> TxRecord {
    let fields = &message.message;
    let text = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_string);
    let tags: Tags = fields
        .get("Tags")
        .and_then(|t| serde_json::from_value(t.clone()).ok())
        .unwrap_or_default();
    TxRecord {
        id: message.id.clone(),
        owner_address: text("Owner"),
        owner_key: None,
        recipient: text("Target").unwrap_or_default(),
        anchor: text("Anchor").unwrap_or_default(),
        signature: text("Signature"),
        data_size: data_bytes(fields.get("Data")).len() as u64,
        data_type: tags.get("Content-Type").map(str::to_string),
        tags,
        order: message.assignment.timestamp,
    }
}

/// A message's `Data` as bytes: a string as its UTF-8, anything else as its JSON text.
pub fn data_bytes(data: Option<&Value>) -> Vec<u8> {
    match data {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        Some(other) => other.to_string().into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Assignment, ProcessRecord};
    use serde_json::json;

    fn t(name: &str, value: &str) -> Tag {
        Tag {
            name: name.into(),
            value: value.into(),
        }
    }

    fn schedule(store: &Store, process: &str, id: &str, fields: Value, timestamp: u64) {
        store
            .append(process, None, |current| {
                let slot = current.as_ref().map_or(0, |p| p.next_slot);
                let record = ProcessRecord {
                    id: process.into(),
                    owner: "OWNER".into(),
                    module: "MOD".into(),
                    scheduler: "SCHED".into(),
                    tags: Default::default(),
                    next_slot: slot + 1,
                    last_message_id: id.into(),
                    last_hash_chain: String::new(),
                    last_timestamp: timestamp,
                };
                let message = ScheduledMessage {
                    id: id.into(),
                    assignment: Assignment {
                        process: process.into(),
                        slot,
                        epoch: 0,
                        timestamp,
                        block_height: 0,
                        hash_chain: String::new(),
                    },
                    message: fields,
                };
                Ok((record, message))
            })
            .unwrap();
    }

    #[test]
    fn node_records_come_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let module = ModuleRecord {
            id: "MOD".into(),
            owner: None,
            tags: vec![t("Type", "Module"), t("Content-Type", "application/wasm")].into(),
            size: 7,
            added_at_ms: 5,
        };
        store.put_module(&module, b"\0asm\x01\0\0").unwrap();
        schedule(
            &store,
            "PROC",
            "PROC",
            json!({"Owner": "OWNER", "Tags": [{"name": "Type", "value": "Process"}], "Data": "hello", "Signature": "SIG"}),
            10,
        );
        schedule(
            &store,
            "PROC",
            "MSG",
            json!({"Owner": "OWNER", "Target": "PROC", "Anchor": "ANC", "Tags": [], "Data": {"k": 1}}),
            11,
        );
        let location = SchedulerLocation {
            address: "SCHED".into(),
            key: None,
            url: "http://127.0.0.1:1".into(),
        };
        let records = NodeRecords {
            store: &store,
            scheduler: Some(location.clone()),
        };

        let found = records
            .by_ids(&[
                "MSG".into(),
                "MOD".into(),
                "MSG".into(),
                "NONE".into(),
                location.record().id,
            ])
            .unwrap();
        let ids: Vec<&str> = found.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["MSG", "MOD", location.record().id.as_str()]);
        let msg = &found[0];
        assert_eq!(msg.owner_address.as_deref(), Some("OWNER"));
        assert_eq!(
            (msg.recipient.as_str(), msg.anchor.as_str()),
            ("PROC", "ANC")
        );
        assert_eq!(msg.data_size, br#"{"k":1}"#.len() as u64);
        assert_eq!(msg.order, 11);
        let module = &found[1];
        assert_eq!((module.data_size, module.order), (7, 5));
        assert_eq!(module.data_type.as_deref(), Some("application/wasm"));
        assert_eq!(module.owner_address, None);

        let all = records.all().unwrap();
        let mut ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
        ids.sort();
        let location_id = location.record().id;
        let mut want = vec!["MOD", "MSG", "PROC", location_id.as_str()];
        want.sort();
        assert_eq!(ids, want);
        let spawn = all.iter().find(|r| r.id == "PROC").unwrap();
        assert_eq!(spawn.signature.as_deref(), Some("SIG"));
        assert_eq!(spawn.tags[..], [t("Type", "Process")]);
    }

    #[test]
    fn scheduler_location_tags_and_id() {
        let a = SchedulerLocation {
            address: "ADDR".into(),
            key: Some("KEY".into()),
            url: "http://h:1".into(),
        };
        let record = a.record();
        assert_eq!(record.id.len(), 43);
        assert_eq!(record.owner_address.as_deref(), Some("ADDR"));
        assert_eq!(record.owner_key.as_deref(), Some("KEY"));
        assert_eq!(record.tags.get("Type"), Some("Scheduler-Location"));
        assert_eq!(record.tags.get("Url"), Some("http://h:1"));
        assert_eq!(record.tags.get("Time-To-Live"), Some("3600000"));
        assert_eq!(record.tags.get("Data-Protocol"), Some("ao"));
        let b = SchedulerLocation {
            url: "http://h:2".into(),
            ..a.clone()
        };
        assert_ne!(record.id, b.record().id);
        assert_eq!(record.id, a.record().id);
    }
}
