//! Batch hashing and verification with one API and two engines: CPU (SIMD + rayon) and GPU
//! (wgpu compute shaders), giving bit-identical digests.

use serde::{Deserialize, Serialize};

pub mod gpu;

/// A 32-byte digest (both algorithms produce 32 bytes).
pub type Digest = [u8; 32];

/// Hash algorithms aocu computes in batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// BLAKE3: aocu's own content addressing (checkpoints, module cache, result digests).
    Blake3,
    /// SHA-256: AO message IDs and Scheduler Unit hash chains.
    Sha256,
}
