//! The AO data model on the wire: ANS-104 data items (parse, serialize, IDs, deep hash), the
//! signature types AO uses (`signature`: Arweave, ed25519, Ethereum, Solana, typed Ethereum),
//! tags and IDs, the message fields a process sees, bundles, module items, and Arweave JWK
//! wallets. Everything above builds on this vocabulary; it builds only on
//! [`crate::hash`] and [`crate::clock`].
//!
//! IDs are `base64url(SHA-256(signature))`: every SHA-256 this module takes goes through
//! [`sha256`], that is through the node's hasher ([`crate::hash::shared()`]), which meters it.

pub mod avro;
pub mod bundle;
pub mod checkpoint_item;
pub mod cron;
pub mod deephash;
pub mod fields;
pub mod id;
pub mod item;
pub mod module_item;
pub mod signature;
pub mod tag;
pub mod wallet;

pub use id::{Id, IdError};
pub use item::{DataItem, ItemError, anchor_from_field};
pub use signature::{SignatureType, Signer};
pub use tag::{Tag, Tags};
pub use wallet::{Jwk, Wallet, WalletError};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// SHA-256 of `data` (IDs, addresses).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    crate::hash::shared().digest(crate::hash::Algorithm::Sha256, data)
}

/// Base64url without padding, as Arweave writes IDs, owners and signatures.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decode base64url (padding tolerated, as Arweave tooling sometimes writes it).
pub fn b64url_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('='))
}
