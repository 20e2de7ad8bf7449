//! Batch signature verification: one API ([`Verifier::verify_batch`]) over a batch of
//! (scheme, key, message digest, signature), engines that differ only in their arithmetic, and
//! one verdict per item that never depends on the other items of the batch.
//!
//! - **RSA-PSS-SHA256** (Arweave, ANS-104 type 1): [`rsa_pss`] checks lengths and decodes the
//!   padding for every engine; the public operation `s^65537 mod n` runs in [`rsa`] on the CPU
//!   (AVX-512 IFMA lanes or portable code, every core), or on the GPU.
//! - **Ed25519** (types 2 and 4): [`ed25519`], single verification on every core (why not the
//!   batch equation: see there).
//!
//! The signed *message* of an ANS-104 item and the types that are not batched (secp256k1) stay
//! in [`crate::ao::signature`], which builds [`Item`]s from data items.

mod batch;
pub mod ed25519;
pub mod gpu;
pub mod pss;
pub mod rsa;
pub mod rsa_pss;
mod shared;
mod stats;
mod verifier;

use serde::Serialize;

pub use crate::hash::Engine;
pub use shared::{install, shared};
pub use stats::{EngineStats, SchemeStats, VerifyStats};
pub use verifier::Verifier;

/// One signature to check.
#[derive(Debug, Clone, Copy)]
pub enum Item<'a> {
    /// RSASSA-PSS with SHA-256 and MGF1-SHA-256, exponent 65537, any salt length.
    RsaPss {
        /// The modulus, big-endian (the owner of a type 1 item).
        modulus: &'a [u8],
        /// SHA-256 of the signed message (for an ANS-104 item: of its deep hash).
        digest: [u8; 32],
        /// The signature, big-endian.
        signature: &'a [u8],
    },
    /// Ed25519 over `message`.
    Ed25519 {
        /// The 32-byte public key.
        key: &'a [u8],
        /// The signed message.
        message: &'a [u8],
        /// The 64-byte signature.
        signature: &'a [u8],
    },
}

impl Item<'_> {
    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        match self {
            Item::RsaPss { .. } => Scheme::RsaPss,
            Item::Ed25519 { .. } => Scheme::Ed25519,
        }
    }
}

/// The signature schemes verified in batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// RSA-PSS-SHA256 (4096-bit Arweave keys).
    RsaPss,
    /// Ed25519.
    Ed25519,
}

impl Scheme {
    /// Every scheme.
    pub const ALL: [Scheme; 2] = [Scheme::RsaPss, Scheme::Ed25519];

    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::RsaPss => "rsa-pss",
            Scheme::Ed25519 => "ed25519",
        }
    }
}

/// The verdict on one item: `Ok` when the signature holds.
pub type Verdict = Result<(), Failure>;

/// Why a signature does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The key has the wrong length.
    #[error("the key is {found} bytes, not {expected}")]
    KeyLength {
        /// Its length.
        found: usize,
        /// The scheme's.
        expected: usize,
    },
    /// The signature has the wrong length.
    #[error("the signature is {found} bytes, not {expected}")]
    SignatureLength {
        /// Its length.
        found: usize,
        /// What the key calls for.
        expected: usize,
    },
    /// The modulus is too short for PSS with SHA-256.
    #[error("the modulus has {bits} bits, too few for PSS with SHA-256")]
    ModulusTooSmall {
        /// Its bits.
        bits: usize,
    },
    /// The RSA signature is not below the modulus.
    #[error("the signature is not below the modulus")]
    SignatureNotBelowModulus,
    /// The ed25519 key is not a point of the curve.
    #[error("the key is not a valid ed25519 point")]
    BadKey,
    /// The PSS encoding is malformed.
    #[error("bad PSS padding: {0}")]
    Padding(&'static str),
    /// Well-formed, but the signature does not sign this message with this key.
    #[error("the signature does not match the message and key")]
    Mismatch,
}

/// Why a batch could not be verified at all (a verdict per item is the normal outcome).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The GPU engine was asked for, but this verifier has no GPU.
    #[error("the GPU engine was asked for, but no GPU verifier is open")]
    NoGpu,
    /// Opening the GPU failed.
    #[error("opening the GPU for verification: {0}")]
    Open(#[from] crate::hash::gpu::GpuError),
    /// The GPU engine failed on this batch.
    #[error(transparent)]
    Gpu(#[from] gpu::GpuRsaError),
}
