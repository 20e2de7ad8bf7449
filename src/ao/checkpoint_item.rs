//! AO's Arweave checkpoint item: a process' memory, gzipped, as a data item signed by the CU
//! that evaluated it, with the tags AO's Node CU writes (`docs/ao-checkpoints.md` has the facts
//! and where they were read).
//!
//! Tags, in the Node CU's order: `Data-Protocol: ao`, `Variant: ao.TN.1`, `Type: Checkpoint`,
//! `Module`, `Process`, `Nonce`, `Timestamp`, `Block-Height`,
//! `Content-Type: application/octet-stream`, `SHA-256` (lowercase hex of the *uncompressed*
//! memory), `Content-Encoding: gzip`, `Unit-Identifier`, `Ordinate`; then, when set,
//! `Assignment`, `Hash-Chain` and `Epoch` (left out when 0). The data is the gzip (level 9) of
//! the raw WASM memory, with no header.
//!
//! Reading one back is stricter than the Node CU: the tags must be there and parse, the
//! encoding must be gzip, the data must gunzip within a size limit, and the memory must hash
//! to its `SHA-256` tag when there is one.

use std::io::{Read as _, Write as _};

use sha2::{Digest as _, Sha256};

use super::{DataItem, ItemError, Tag, Tags, Wallet};

/// Where a checkpoint was taken: after slot `nonce` of `process`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointMeta {
    /// The process.
    pub process: String,
    /// Its module.
    pub module: String,
    /// The slot of the last message evaluated into the memory.
    pub nonce: u64,
    /// That message's timestamp (ms).
    pub timestamp: u64,
    /// That message's block height.
    pub block_height: u64,
    /// That message's assignment ID, when known.
    pub assignment: Option<String>,
    /// That message's hash-chain link, when known.
    pub hash_chain: Option<String>,
    /// Its epoch (0: left out, as the Node CU leaves a falsy value out).
    pub epoch: u64,
}

/// A checkpoint item that cannot be built or used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointItemError {
    /// Signing failed.
    #[error(transparent)]
    Item(#[from] ItemError),
    /// A tag is missing or does not parse.
    #[error("checkpoint item: {0}")]
    Tags(String),
    /// The data does not gunzip (within the limit).
    #[error("checkpoint item: the data does not gunzip: {0}")]
    Gzip(String),
    /// The memory does not hash to the `SHA-256` tag.
    #[error("checkpoint item: the memory hashes to {computed}, its SHA-256 tag says {tagged}")]
    Digest {
        /// The tag.
        tagged: String,
        /// What the memory hashes to.
        computed: String,
    },
}

/// The gzip level the Node CU compresses with.
const GZIP_LEVEL: u32 = 9;

/// The lowercase hex SHA-256 of `memory`, as the `SHA-256` tag carries it.
pub fn memory_digest(memory: &[u8]) -> String {
    hex::encode(Sha256::digest(memory))
}

/// The tags of a checkpoint of `memory` at `meta`, written by the unit `unit` (the Node CU's
/// `Unit-Identifier`, a UUID per start).
pub fn tags(meta: &CheckpointMeta, memory_sha256: &str, unit: &str) -> Tags {
    let nonce = meta.nonce.to_string();
    let mut tags: Vec<Tag> = [
        ("Data-Protocol", "ao"),
        ("Variant", "ao.TN.1"),
        ("Type", "Checkpoint"),
        ("Module", meta.module.trim()),
        ("Process", meta.process.trim()),
        ("Nonce", &nonce),
        ("Timestamp", &meta.timestamp.to_string()),
        ("Block-Height", &meta.block_height.to_string()),
        ("Content-Type", "application/octet-stream"),
        ("SHA-256", memory_sha256),
        ("Content-Encoding", "gzip"),
        ("Unit-Identifier", unit),
        ("Ordinate", &nonce),
    ]
    .into_iter()
    .map(|(n, v)| Tag::new(n, v))
    .collect();
    let optional = [
        (
            "Assignment",
            meta.assignment.clone().filter(|a| !a.is_empty()),
        ),
        (
            "Hash-Chain",
            meta.hash_chain.clone().filter(|h| !h.is_empty()),
        ),
        ("Epoch", (meta.epoch != 0).then(|| meta.epoch.to_string())),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            tags.push(Tag::new(name, value));
        }
    }
    Tags(tags)
}

/// Every tag name a checkpoint item carries, as AO writes them.
pub const TAG_NAMES: [&str; 16] = [
    "Data-Protocol",
    "Variant",
    "Type",
    "Module",
    "Process",
    "Nonce",
    "Timestamp",
    "Block-Height",
    "Content-Type",
    "SHA-256",
    "Content-Encoding",
    "Unit-Identifier",
    "Ordinate",
    "Assignment",
    "Hash-Chain",
    "Epoch",
];

/// The checkpoint tags among `fields` whose names match a [`TAG_NAMES`] entry in any case
/// (HyperBEAM sends them as lower-case HTTP header names), named as AO writes them.
pub fn tags_from_fields<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Tags {
    let tags = fields
        .into_iter()
        .filter_map(|(name, value)| {
            let known = TAG_NAMES.iter().find(|t| t.eq_ignore_ascii_case(name))?;
            Some(Tag::new(*known, value))
        })
        .collect();
    Tags(tags)
}

/// gzip `memory` as the Node CU does (level 9, no header beyond gzip's own).
pub fn gzip(memory: &[u8]) -> Vec<u8> {
    let mut encoder =
        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(GZIP_LEVEL));
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(memory);
    encoder.finish().unwrap_or_default()
}

/// The checkpoint item of `memory` at `meta`, signed by `wallet`.
pub fn build(
    wallet: &Wallet,
    meta: &CheckpointMeta,
    memory: &[u8],
    unit: &str,
) -> Result<DataItem, CheckpointItemError> {
    let tags = tags(meta, &memory_digest(memory), unit);
    Ok(DataItem::signed(wallet, None, None, tags, gzip(memory))?)
}

/// The metadata a checkpoint item's tags carry (as the Node CU reads them: the slot is its
/// `Nonce`).
pub fn meta_of(tags: &Tags) -> Result<CheckpointMeta, CheckpointItemError> {
    let need = |name: &str| {
        tags.get(name)
            .map(str::to_string)
            .ok_or_else(|| CheckpointItemError::Tags(format!("no `{name}` tag")))
    };
    let number = |name: &str| {
        let text = need(name)?;
        text.trim()
            .parse::<u64>()
            .map_err(|_| CheckpointItemError::Tags(format!("`{name}` is `{text}`, not a number")))
    };
    for (name, expected) in [("Type", "Checkpoint"), ("Data-Protocol", "ao")] {
        let value = need(name)?;
        if value != expected {
            return Err(CheckpointItemError::Tags(format!(
                "`{name}` is `{value}`, not `{expected}`"
            )));
        }
    }
    let encoding = tags.get("Content-Encoding").unwrap_or("");
    if encoding != "gzip" {
        return Err(CheckpointItemError::Tags(format!(
            "`Content-Encoding` is `{encoding}`; only gzip is read (as the Node CU reads it)"
        )));
    }
    Ok(CheckpointMeta {
        process: need("Process")?,
        module: need("Module")?,
        nonce: number("Nonce")?,
        timestamp: number("Timestamp")?,
        block_height: number("Block-Height")?,
        assignment: tags.get("Assignment").map(str::to_string),
        hash_chain: tags.get("Hash-Chain").map(str::to_string),
        epoch: tags.get("Epoch").and_then(|e| e.parse().ok()).unwrap_or(0),
    })
}

/// The memory in a checkpoint's data: gunzipped (at most `max_bytes`) and checked against the
/// `SHA-256` tag when the tags have one.
pub fn unpack(tags: &Tags, data: &[u8], max_bytes: u64) -> Result<Vec<u8>, CheckpointItemError> {
    let mut memory = Vec::new();
    flate2::read::GzDecoder::new(data)
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut memory)
        .map_err(|e| CheckpointItemError::Gzip(e.to_string()))?;
    if memory.len() as u64 > max_bytes {
        return Err(CheckpointItemError::Gzip(format!(
            "it holds more than {max_bytes} bytes"
        )));
    }
    if let Some(tagged) = tags.get("SHA-256") {
        let computed = memory_digest(&memory);
        if !computed.eq_ignore_ascii_case(tagged.trim()) {
            return Err(CheckpointItemError::Digest {
                tagged: tagged.to_string(),
                computed,
            });
        }
    }
    Ok(memory)
}

/// A Node CU style `Unit-Identifier`: a random version-4 UUID.
pub fn unit_identifier() -> String {
    use ring::rand::SecureRandom as _;
    let mut b = [0u8; 16];
    // The system's random source does not fail on Linux; zeros would still be a valid label.
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta_at(nonce: u64) -> CheckpointMeta {
        CheckpointMeta {
            process: "PROCESS".into(),
            module: " MODULE ".into(),
            nonce,
            timestamp: 1_732_000_000_123,
            block_height: 1_500_000,
            assignment: Some("ASSIGNMENT".into()),
            hash_chain: None,
            epoch: 0,
        }
    }

    #[test]
    fn tags_are_the_node_cus_in_its_order() {
        let tags = tags(&meta_at(200), "ab12", "UNIT");
        let names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Data-Protocol",
                "Variant",
                "Type",
                "Module",
                "Process",
                "Nonce",
                "Timestamp",
                "Block-Height",
                "Content-Type",
                "SHA-256",
                "Content-Encoding",
                "Unit-Identifier",
                "Ordinate",
                "Assignment"
            ]
        );
        assert_eq!(tags.get("Module"), Some("MODULE"), "trimmed");
        assert_eq!(tags.get("Nonce"), Some("200"));
        assert_eq!(tags.get("Ordinate"), Some("200"));
        assert!(!tags.contains("Epoch"), "epoch 0 is left out");
        assert!(!tags.contains("Hash-Chain"), "unknown is left out");
    }

    #[test]
    fn memory_round_trips_and_every_check_refuses() {
        let memory: Vec<u8> = (0..200_000u32).map(|i| (i % 7) as u8).collect();
        let tags = tags(&meta_at(3), &memory_digest(&memory), "U");
        let data = gzip(&memory);
        assert!(data.len() < memory.len() / 10, "gzipped");
        assert_eq!(unpack(&tags, &data, 1 << 30).unwrap(), memory);
        let back = meta_of(&tags).unwrap();
        assert_eq!((back.nonce, back.module.as_str()), (3, "MODULE"));
        // Over the limit, truncated, or another memory: refused.
        assert!(matches!(
            unpack(&tags, &data, 1000),
            Err(CheckpointItemError::Gzip(_))
        ));
        let cut = &data[..data.len() / 2];
        assert!(matches!(
            unpack(&tags, cut, 1 << 30),
            Err(CheckpointItemError::Gzip(_))
        ));
        let other = tags_with(&tags, "SHA-256", &memory_digest(b"x"));
        assert!(matches!(
            unpack(&other, &data, 1 << 30),
            Err(CheckpointItemError::Digest { .. })
        ));
        // Tags that are not a checkpoint's.
        for (name, value) in [
            ("Type", "Message"),
            ("Content-Encoding", "br"),
            ("Nonce", "x"),
        ] {
            let bad = tags_with(&tags, name, value);
            assert!(
                matches!(meta_of(&bad), Err(CheckpointItemError::Tags(_))),
                "{name}"
            );
        }
    }

    fn tags_with(tags: &Tags, name: &str, value: &str) -> Tags {
        let mut t = tags.clone();
        t.set(name, value);
        t
    }

    #[test]
    fn unit_identifiers_are_uuids() {
        let (a, b) = (unit_identifier(), unit_identifier());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
