//! ANS-104 data items: the signed envelope of every AO message, process, module and assignment.
//!
//! Layout (all integers little-endian):
//! `sig type (2) ‖ signature ‖ owner ‖ target flag (1) [‖ target (32)] ‖ anchor flag (1)
//! [‖ anchor (32)] ‖ tag count (8) ‖ tag bytes length (8) ‖ tags (Avro) ‖ data`.
//! Signature and owner lengths depend on the signature type. The ID is
//! `base64url(SHA-256(signature))`; the signature covers the deep hash of
//! `["dataitem", "1", sig type (decimal), owner, target, anchor, tag bytes, data]`.

use super::deephash::{Chunk, Hash384, deep_hash};
use super::signature::{self, Signer};
use super::wallet::{Wallet, address_of};
use super::{Tag, Tags, avro, b64url, sha256};

pub use super::signature::SignatureType;

/// Smallest possible binary (arbundles' `MIN_BINARY_SIZE`).
pub const MIN_BINARY_SIZE: usize = 80;

/// A data item is malformed, badly signed or of a kind not supported yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    /// A field does not parse; names the field.
    #[error("data item field `{field}`: {message}")]
    Malformed {
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The signature does not match the owner and contents.
    #[error("data item signature does not verify against its owner")]
    BadSignature,
    /// A known signature type that this node does not verify (5 and 6, the Aptos types).
    #[error(
        "data item signature type {number} ({name}) is not supported; this node verifies {}",
        signature::verified_list()
    )]
    Unsupported {
        /// Wire number.
        number: u16,
        /// Its name.
        name: &'static str,
    },
    /// Signing failed.
    #[error("signing the data item failed: {0}")]
    Sign(String),
}

fn malformed(field: &'static str, message: impl Into<String>) -> ItemError {
    ItemError::Malformed {
        field,
        message: message.into(),
    }
}

/// A parsed (or built) ANS-104 data item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataItem {
    /// Signature type.
    pub signature_type: SignatureType,
    /// Signature bytes.
    pub signature: Vec<u8>,
    /// Owner public key bytes (the RSA modulus for Arweave).
    pub owner: Vec<u8>,
    /// Target (32 bytes) when present.
    pub target: Option<[u8; 32]>,
    /// Anchor (32 bytes) when present.
    pub anchor: Option<[u8; 32]>,
    /// Tags, decoded.
    pub tags: Tags,
    /// The tag bytes exactly as signed.
    raw_tags: Vec<u8>,
    /// Payload.
    pub data: Vec<u8>,
}

/// A cursor over the item bytes that names the field it reads.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], ItemError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(malformed(
                field,
                format!(
                    "needs {n} bytes at offset {}, only {} left (truncated item)",
                    self.pos,
                    self.bytes.len() - self.pos
                ),
            ));
        };
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, ItemError> {
        let bytes = self.take(field, 8)?;
        let mut le = [0u8; 8];
        le.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(le))
    }

    fn optional_32(&mut self, field: &'static str) -> Result<Option<[u8; 32]>, ItemError> {
        match self.take(field, 1)?[0] {
            0 => Ok(None),
            1 => {
                let mut out = [0u8; 32];
                out.copy_from_slice(self.take(field, 32)?);
                Ok(Some(out))
            }
            other => Err(malformed(
                field,
                format!("presence byte is {other}, expected 0 or 1"),
            )),
        }
    }
}

/// The Avro tag bytes of `tags`, refused when over ANS-104's limit.
fn encode_tags(list: &[Tag]) -> Result<Vec<u8>, ItemError> {
    let raw_tags = avro::encode(list);
    if raw_tags.len() > avro::MAX_TAG_BYTES {
        return Err(malformed(
            "tags",
            format!(
                "{} tag bytes exceed the limit of {}",
                raw_tags.len(),
                avro::MAX_TAG_BYTES
            ),
        ));
    }
    Ok(raw_tags)
}

/// The anchor bytes behind [`DataItem::anchor_field`]'s text: 32 bytes of text, or 43
/// characters of base64url; `None` when it is neither.
pub fn anchor_from_field(text: &str) -> Option<[u8; 32]> {
    if let Ok(bytes) = <[u8; 32]>::try_from(text.as_bytes()) {
        return Some(bytes);
    }
    text.parse::<super::Id>().ok().map(super::Id::into_bytes)
}

impl DataItem {
    /// Parse an item, checking every length against the bytes (the signature is not checked:
    /// see [`DataItem::verify`]).
    pub fn parse(bytes: &[u8]) -> Result<DataItem, ItemError> {
        if bytes.len() < MIN_BINARY_SIZE {
            return Err(malformed(
                "length",
                format!(
                    "{} bytes is shorter than the smallest item ({MIN_BINARY_SIZE})",
                    bytes.len()
                ),
            ));
        }
        let mut c = Cursor { bytes, pos: 0 };
        let st = c.take("signature type", 2)?;
        let number = u16::from_le_bytes([st[0], st[1]]);
        let signature_type = SignatureType::from_u16(number)
            .ok_or_else(|| malformed("signature type", format!("unknown type {number}")))?;
        let (sig_len, owner_len) = signature_type.lengths();
        let signature = c.take("signature", sig_len)?.to_vec();
        let owner = c.take("owner", owner_len)?.to_vec();
        let target = c.optional_32("target")?;
        let anchor = c.optional_32("anchor")?;
        let tag_count = c.u64("tag count")?;
        let tag_bytes_len = c.u64("tag bytes length")?;
        if tag_bytes_len > avro::MAX_TAG_BYTES as u64 {
            return Err(malformed(
                "tags",
                format!(
                    "{tag_bytes_len} tag bytes exceed the limit of {}",
                    avro::MAX_TAG_BYTES
                ),
            ));
        }
        let raw_tags = c.take("tags", tag_bytes_len as usize)?.to_vec();
        let tags = Tags::from(avro::decode(&raw_tags).map_err(|e| malformed("tags", e.0))?);
        if tags.len() as u64 != tag_count {
            return Err(malformed(
                "tag count",
                format!("header says {tag_count}, the tag bytes hold {}", tags.len()),
            ));
        }
        let data = bytes[c.pos..].to_vec();
        Ok(DataItem {
            signature_type,
            signature,
            owner,
            target,
            anchor,
            tags,
            raw_tags,
            data,
        })
    }

    /// Parse and verify.
    pub fn parse_verified(bytes: &[u8]) -> Result<DataItem, ItemError> {
        let item = DataItem::parse(bytes)?;
        item.verify()?;
        Ok(item)
    }

    /// Rebuild an item from its parts as another node rendered them (an SU page): the tags are
    /// encoded again, so the result verifies only when they were signed in the canonical Avro
    /// form (one block), as AO's clients write them. The signature is not checked here.
    pub fn from_parts(
        signature_type: SignatureType,
        signature: Vec<u8>,
        owner: Vec<u8>,
        target: Option<[u8; 32]>,
        anchor: Option<[u8; 32]>,
        tags: impl Into<Tags>,
        data: Vec<u8>,
    ) -> Result<DataItem, ItemError> {
        let tags = tags.into();
        let (sig_len, owner_len) = signature_type.lengths();
        if signature.len() != sig_len {
            return Err(malformed(
                "signature",
                format!("{} bytes, expected {sig_len}", signature.len()),
            ));
        }
        if owner.len() != owner_len {
            return Err(malformed(
                "owner",
                format!("{} bytes, expected {owner_len}", owner.len()),
            ));
        }
        let raw_tags = encode_tags(&tags)?;
        Ok(DataItem {
            signature_type,
            signature,
            owner,
            target,
            anchor,
            tags,
            raw_tags,
            data,
        })
    }

    /// Build and sign an item with an Arweave wallet (type 1).
    pub fn signed(
        wallet: &Wallet,
        target: Option<[u8; 32]>,
        anchor: Option<[u8; 32]>,
        tags: impl Into<Tags>,
        data: Vec<u8>,
    ) -> Result<DataItem, ItemError> {
        let mut item = DataItem::unsigned(
            SignatureType::Arweave,
            wallet.owner().to_vec(),
            target,
            anchor,
            tags.into(),
            data,
        )?;
        item.signature = wallet
            .sign(&item.deep_hash())
            .map_err(|e| ItemError::Sign(e.to_string()))?;
        Ok(item)
    }

    /// Build and sign an item with a key of any type this node signs.
    pub fn signed_by(
        signer: &Signer,
        target: Option<[u8; 32]>,
        anchor: Option<[u8; 32]>,
        tags: impl Into<Tags>,
        data: Vec<u8>,
    ) -> Result<DataItem, ItemError> {
        let mut item = DataItem::unsigned(
            signer.signature_type(),
            signer.owner(),
            target,
            anchor,
            tags.into(),
            data,
        )?;
        item.signature = signer
            .sign(&item.deep_hash())
            .map_err(|e| ItemError::Sign(e.to_string()))?;
        Ok(item)
    }

    fn unsigned(
        signature_type: SignatureType,
        owner: Vec<u8>,
        target: Option<[u8; 32]>,
        anchor: Option<[u8; 32]>,
        tags: Tags,
        data: Vec<u8>,
    ) -> Result<DataItem, ItemError> {
        let raw_tags = encode_tags(&tags)?;
        Ok(DataItem {
            signature_type,
            signature: Vec::new(),
            owner,
            target,
            anchor,
            tags,
            raw_tags,
            data,
        })
    }

    /// The binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            2 + self.signature.len()
                + self.owner.len()
                + 66
                + 16
                + self.raw_tags.len()
                + self.data.len(),
        );
        out.extend_from_slice(&self.signature_type.as_u16().to_le_bytes());
        out.extend_from_slice(&self.signature);
        out.extend_from_slice(&self.owner);
        for field in [&self.target, &self.anchor] {
            match field {
                Some(bytes) => {
                    out.push(1);
                    out.extend_from_slice(bytes);
                }
                None => out.push(0),
            }
        }
        out.extend_from_slice(&(self.tags.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.raw_tags.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.raw_tags);
        out.extend_from_slice(&self.data);
        out
    }

    /// The 32 bytes behind the ID: SHA-256 of the signature.
    pub fn raw_id(&self) -> [u8; 32] {
        sha256(&self.signature)
    }

    /// The 43-character ID.
    pub fn id(&self) -> String {
        b64url(&self.raw_id())
    }

    /// The deep hash the signature covers.
    pub fn deep_hash(&self) -> Hash384 {
        let sig_type = self.signature_type.as_u16().to_string();
        let target = self.target.as_ref().map_or(&[][..], |t| &t[..]);
        let anchor = self.anchor.as_ref().map_or(&[][..], |a| &a[..]);
        deep_hash(Chunk::List(&[
            Chunk::Blob(b"dataitem"),
            Chunk::Blob(b"1"),
            Chunk::Blob(sig_type.as_bytes()),
            Chunk::Blob(&self.owner),
            Chunk::Blob(target),
            Chunk::Blob(anchor),
            Chunk::Blob(&self.raw_tags),
            Chunk::Blob(&self.data),
        ]))
    }

    /// Check the signature, by the scheme of its type ([`crate::ao::signature`]): the one
    /// entry point for every item the node takes in. Types 5 and 6 are refused by name.
    pub fn verify(&self) -> Result<(), ItemError> {
        let t = self.signature_type;
        match signature::verify(t, &self.owner, &self.deep_hash(), &self.signature) {
            Some(true) => Ok(()),
            Some(false) => Err(ItemError::BadSignature),
            None => Err(ItemError::Unsupported {
                number: t.as_u16(),
                name: t.name(),
            }),
        }
    }

    /// Check the signatures of many items in one batch of the node's verifier: one result
    /// per item, as [`DataItem::verify`] gives it.
    pub fn verify_batch(items: &[&DataItem]) -> Vec<Result<(), ItemError>> {
        DataItem::verdicts(items)
            .into_iter()
            .zip(items)
            .map(|(verdict, item)| match verdict {
                Some(Ok(())) => Ok(()),
                Some(Err(_)) => Err(ItemError::BadSignature),
                None => Err(ItemError::Unsupported {
                    number: item.signature_type.as_u16(),
                    name: item.signature_type.name(),
                }),
            })
            .collect()
    }

    /// The verifier's verdict on each item's signature, with the reason of a failure; `None`
    /// for a type this node does not verify.
    pub fn verdicts(items: &[&DataItem]) -> Vec<Option<crate::verify::Verdict>> {
        use rayon::prelude::*;
        let hashes: Vec<Hash384> = items.par_iter().map(|item| item.deep_hash()).collect();
        let signed: Vec<signature::Signed<'_>> = items
            .iter()
            .zip(&hashes)
            .map(|(item, deep_hash)| signature::Signed {
                signature_type: item.signature_type,
                owner: &item.owner,
                deep_hash,
                signature: &item.signature,
            })
            .collect();
        signature::verify_batch(&signed)
    }

    /// The tag bytes exactly as signed.
    pub fn raw_tags(&self) -> &[u8] {
        &self.raw_tags
    }

    /// Owner as base64url (the `key` AO shows).
    pub fn owner_b64(&self) -> String {
        b64url(&self.owner)
    }

    /// Owner address as AO's SU and gateways write it: `base64url(SHA-256(owner))`, for every
    /// signature type (see [`crate::ao::signature`]).
    pub fn owner_address(&self) -> String {
        address_of(&self.owner)
    }

    /// The address AO's CU shows a process as `Owner` and `From`: the EIP-55 Ethereum address
    /// for a 65-byte secp256k1 owner (type 3), else [`DataItem::owner_address`].
    pub fn ao_address(&self) -> String {
        signature::ao_address(&self.owner)
    }

    /// Target as a 43-character ID.
    pub fn target_id(&self) -> Option<String> {
        self.target.as_ref().map(|t| b64url(t))
    }

    /// Anchor as AO's SU shows it: its bytes as UTF-8 text, `None` when absent or not UTF-8.
    pub fn anchor_text(&self) -> Option<String> {
        self.anchor
            .as_ref()
            .and_then(|a| String::from_utf8(a.to_vec()).ok())
    }

    /// The anchor as an SU page writes it: its text when the 32 bytes are UTF-8 (AO's clients
    /// write text anchors), otherwise base64url (43 characters, never 32 bytes of text), so
    /// that [`anchor_from_field`] gives back the exact bytes either way.
    pub fn anchor_field(&self) -> Option<String> {
        self.anchor.as_ref().map(|a| match std::str::from_utf8(a) {
            Ok(text) => text.to_string(),
            Err(_) => b64url(a),
        })
    }

    /// Signature as base64url.
    pub fn signature_b64(&self) -> String {
        b64url(&self.signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wallet() -> Wallet {
        use std::sync::OnceLock;
        static W: OnceLock<Wallet> = OnceLock::new();
        W.get_or_init(|| Wallet::generate().unwrap()).clone()
    }

    #[test]
    fn sign_serialize_parse_verify() {
        let w = wallet();
        let item = DataItem::signed(
            &w,
            Some([7; 32]),
            Some(*b"00000000000000000000000000001234"),
            vec![Tag::new("Type", "Message"), Tag::new("Data-Protocol", "ao")],
            b"return 1".to_vec(),
        )
        .unwrap();
        let bytes = item.to_bytes();
        let parsed = DataItem::parse_verified(&bytes).unwrap();
        assert_eq!(parsed, item);
        assert_eq!(parsed.id().len(), 43);
        assert_eq!(parsed.owner_address(), w.address());
        assert_eq!(parsed.tags.get("Type"), Some("Message"));
        assert_eq!(
            parsed.anchor_text().as_deref(),
            Some("00000000000000000000000000001234")
        );

        // No target, no anchor, no tags, no data.
        let bare = DataItem::signed(&w, None, None, vec![], vec![]).unwrap();
        let parsed = DataItem::parse_verified(&bare.to_bytes()).unwrap();
        assert_eq!(parsed.target, None);
        assert!(parsed.tags.is_empty());
    }

    #[test]
    fn tampering_and_truncation_are_caught() {
        let w = wallet();
        let item = DataItem::signed(
            &w,
            None,
            None,
            vec![Tag::new("A", "b")],
            b"payload".to_vec(),
        )
        .unwrap();
        let bytes = item.to_bytes();
        let mut tampered = bytes.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            DataItem::parse_verified(&tampered).unwrap_err(),
            ItemError::BadSignature
        );
        // Every truncation is an error naming a field (the data may legally be shorter, but
        // then the signature fails).
        for cut in 0..bytes.len() {
            assert!(
                DataItem::parse_verified(&bytes[..cut]).is_err(),
                "cut {cut}"
            );
        }
        let err = DataItem::parse(&bytes[..600]).unwrap_err().to_string();
        assert!(
            err.contains("`owner`") && err.contains("truncated"),
            "{err}"
        );
        let mut bad_type = bytes.clone();
        bad_type[0] = 99;
        assert!(
            DataItem::parse(&bad_type)
                .unwrap_err()
                .to_string()
                .contains("signature type")
        );
        let mut bad_flag = bytes.clone();
        bad_flag[2 + 512 + 512] = 2;
        assert!(
            DataItem::parse(&bad_flag)
                .unwrap_err()
                .to_string()
                .contains("`target`")
        );
        let mut bad_count = bytes.clone();
        bad_count[2 + 1024 + 2] = 5;
        assert!(
            DataItem::parse(&bad_count)
                .unwrap_err()
                .to_string()
                .contains("tag count")
        );
    }
}
