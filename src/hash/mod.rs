//! Batch hashing and verification with one API and two engines: CPU (SIMD lanes + rayon) and
//! GPU (wgpu compute shaders), giving bit-identical digests.
//!
//! [`Hasher`] is the entry point: it holds the CPU engine, optionally a [`gpu::GpuHasher`], and
//! picks one per batch ([`Engine::Auto`]: the GPU only for batches of at least the crossover
//! size measured by `aocu bench hash`, and never a software rasterizer). The free functions
//! ([`hash_batch`], [`verify_batch`], [`verify_chain`], [`merkle_root`]) run on the CPU engine.

use serde::{Deserialize, Serialize};

pub mod chain;
pub mod cpu;
mod dispatch;
pub mod gpu;
pub mod merkle;
pub mod shared;

pub use chain::{ChainLink, chain_link_hash};
pub use cpu::CpuEngine;
pub use dispatch::{HashStats, Hasher};
pub use shared::shared;

/// A 32-byte digest (both algorithms produce 32 bytes).
pub type Digest = [u8; 32];

/// Hash algorithms aocu computes in batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// BLAKE3: aocu's own content addressing (checkpoints, module cache, result digests).
    Blake3,
    /// SHA-256: AO message IDs and Scheduler Unit hash chains.
    Sha256,
}

impl Algorithm {
    /// The lower-case name (`blake3`, `sha256`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Blake3 => "blake3",
            Algorithm::Sha256 => "sha256",
        }
    }
}

/// Which engine hashes a batch.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// Always the CPU.
    Cpu,
    /// Always the GPU (any adapter, a software one included when it is all there is).
    Gpu,
    /// The GPU for batches of at least the measured crossover size on a hardware adapter; the
    /// CPU otherwise.
    #[default]
    Auto,
}

/// Why a batch could not be hashed or verified.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The GPU engine failed.
    #[error(transparent)]
    Gpu(#[from] gpu::GpuError),
    /// The GPU engine was asked for, but this hasher has no GPU.
    #[error("the GPU engine was asked for, but no GPU hasher is open")]
    NoGpu,
    /// Two slices that must pair up have different lengths.
    #[error("{what}: {left} items against {right}")]
    LengthMismatch {
        /// Which slices.
        what: &'static str,
        /// Length of the first.
        left: usize,
        /// Length of the second.
        right: usize,
    },
}

/// Hashes every input with `alg` on the CPU engine; digests in input order.
pub fn hash_batch(alg: Algorithm, inputs: &[&[u8]]) -> Vec<Digest> {
    CpuEngine::new().hash(alg, inputs)
}

/// Whether each input hashes to its expected digest, on the CPU engine.
pub fn verify_batch(
    alg: Algorithm,
    inputs: &[&[u8]],
    expected: &[Digest],
) -> Result<Vec<bool>, HashError> {
    Hasher::cpu().verify_batch(alg, inputs, expected)
}

/// Whether each hash-chain link holds (see [`ChainLink`]), on the CPU engine.
pub fn verify_chain(links: &[ChainLink<'_>]) -> Vec<bool> {
    chain::verify_cpu(links)
}

/// The Merkle root of `leaves` (see [`merkle`]), on the CPU engine.
pub fn merkle_root(alg: Algorithm, leaves: &[&[u8]]) -> Digest {
    merkle::root_cpu(alg, leaves)
}
