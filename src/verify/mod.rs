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

mod cpu;
pub mod ed25519;
pub mod gpu;
pub mod pss;
pub mod rsa;
pub mod rsa_pss;
mod shared;

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

pub use crate::hash::Engine;
pub use shared::{install, shared};

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
}

/// The CPU engine, with counters. (The GPU engine joins it in `Verifier::with_gpu`.)
#[derive(Debug, Default)]
pub struct Verifier {
    counters: Counters,
}

impl Verifier {
    /// A verifier with the CPU engine only.
    pub fn cpu() -> Verifier {
        Verifier::default()
    }

    /// One verdict per item, in order, on `engine`.
    pub fn verify_batch(
        &self,
        items: &[Item<'_>],
        engine: Engine,
    ) -> Result<Vec<Verdict>, VerifyError> {
        match engine {
            Engine::Gpu => Err(VerifyError::NoGpu),
            Engine::Cpu | Engine::Auto => Ok(self.on_cpu(items)),
        }
    }

    /// One verdict per item on the engine [`Engine::Auto`] picks; never fails (a GPU failure
    /// is answered by the CPU, whose verdicts are identical).
    pub fn verify(&self, items: &[Item<'_>]) -> Vec<Verdict> {
        self.on_cpu(items)
    }

    fn on_cpu(&self, items: &[Item<'_>]) -> Vec<Verdict> {
        let verdicts = match cpu::verify(items, |w| {
            Ok::<_, std::convert::Infallible>(cpu::cpu_public_ops(w))
        }) {
            Ok(v) => v,
            Err(never) => match never {},
        };
        self.counters.count(EngineKind::Cpu, items, &verdicts);
        verdicts
    }

    /// What this verifier has done since it was made.
    pub fn stats(&self) -> VerifyStats {
        self.counters.snapshot()
    }
}

/// The engine that gave a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EngineKind {
    Cpu,
    Gpu,
}

/// Signatures verified and failed, per engine and scheme; GPU busy time.
#[derive(Debug, Default)]
struct Counters {
    /// `[engine][scheme]`: (checked, failed).
    signatures: [[(AtomicU64, AtomicU64); 2]; 2],
    batches: [AtomicU64; 2],
    gpu_busy_ns: AtomicU64,
}

impl Counters {
    fn count(&self, engine: EngineKind, items: &[Item<'_>], verdicts: &[Verdict]) {
        let e = engine as usize;
        self.batches[e].fetch_add(1, Ordering::Relaxed);
        for (item, verdict) in items.iter().zip(verdicts) {
            let (checked, failed) = &self.signatures[e][item.scheme() as usize];
            checked.fetch_add(1, Ordering::Relaxed);
            if verdict.is_err() {
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn snapshot(&self) -> VerifyStats {
        let engine = |e: EngineKind| {
            let per_scheme = Scheme::ALL
                .iter()
                .map(|&s| {
                    let (checked, failed) = &self.signatures[e as usize][s as usize];
                    SchemeStats {
                        scheme: s,
                        checked: checked.load(Ordering::Relaxed),
                        failed: failed.load(Ordering::Relaxed),
                    }
                })
                .collect();
            EngineStats {
                batches: self.batches[e as usize].load(Ordering::Relaxed),
                schemes: per_scheme,
            }
        };
        VerifyStats {
            cpu: engine(EngineKind::Cpu),
            gpu: engine(EngineKind::Gpu),
            gpu_busy_ms: self.gpu_busy_ns.load(Ordering::Relaxed) as f64 / 1e6,
            rsa_backend: rsa::Backend::detect(),
        }
    }
}

/// What a verifier has done (`~meta@1.0/info/metering/verification`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct VerifyStats {
    /// The CPU engine.
    pub cpu: EngineStats,
    /// The GPU engine.
    pub gpu: EngineStats,
    /// Time the GPU spent on verification batches, in milliseconds.
    pub gpu_busy_ms: f64,
    /// The CPU code that runs RSA.
    pub rsa_backend: rsa::Backend,
}

/// One engine's counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct EngineStats {
    /// Batches it verified.
    pub batches: u64,
    /// Per scheme.
    pub schemes: Vec<SchemeStats>,
}

/// One scheme's counts on one engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SchemeStats {
    /// The scheme.
    pub scheme: Scheme,
    /// Signatures checked.
    pub checked: u64,
    /// Of which did not hold.
    pub failed: u64,
}
