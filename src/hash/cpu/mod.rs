//! The CPU engine: BLAKE3 and SHA-256 over many messages, in parallel with rayon.
//!
//! BLAKE3: messages of at most one chunk (1024 bytes) are hashed side by side in SIMD lanes
//! ([`lanes`]), grouped by length so that the lanes of a group finish together; longer ones go
//! to the `blake3` crate (its own SIMD over the chunks of one message), and large ones to its
//! `update_rayon` so that one big message uses every core. SHA-256: the `sha2` crate, which uses
//! the SHA-NI (x86) or ARMv8 SHA instructions when the CPU has them, one message per task.
//!
//! Nothing is allocated per message: digests are written into the caller's slice, and the only
//! allocations are per batch (the length-sorted index of the short messages and their digests).

pub mod lanes;

use rayon::prelude::*;
use sha2::Digest as _;

use super::{Algorithm, Digest};
use lanes::{CHUNK_LEN, Isa, LaneJob};

/// Messages at least this long are hashed with the `blake3` crate's `update_rayon`: below it,
/// splitting one message across threads costs more than it gains.
pub const RAYON_WITHIN_MESSAGE_BYTES: usize = 256 * 1024;

/// Lane groups per rayon task: enough work per task to amortize scheduling.
const GROUPS_PER_TASK: usize = 16;

/// Bytes of input per rayon task for the per-message paths, at least (one message when longer).
const BYTES_PER_TASK: usize = 64 * 1024;

/// How the CPU engine hashes: which lane implementation BLAKE3 uses for short messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuEngine {
    isa: Option<Isa>,
}

impl Default for CpuEngine {
    fn default() -> Self {
        CpuEngine::new()
    }
}

impl CpuEngine {
    /// The best this CPU has: lane-parallel BLAKE3 with AVX-512 or AVX2; without either, each
    /// short message goes to the `blake3` crate (which is faster than portable lanes there).
    pub fn new() -> CpuEngine {
        let isa = Isa::detect();
        CpuEngine {
            isa: (isa != Isa::Portable).then_some(isa),
        }
    }

    /// Short BLAKE3 messages in lanes of `isa` (`None`: one by one with the `blake3` crate).
    /// Returns `None` when the CPU lacks `isa`.
    pub fn with_isa(isa: Option<Isa>) -> Option<CpuEngine> {
        match isa {
            Some(i) if !i.available() => None,
            _ => Some(CpuEngine { isa }),
        }
    }

    /// The lane implementation in use for short BLAKE3 messages.
    pub fn isa(&self) -> Option<Isa> {
        self.isa
    }

    /// Hashes every input into `out` (same index). `out.len()` must equal `inputs.len()`.
    pub fn hash_into(&self, alg: Algorithm, inputs: &[&[u8]], out: &mut [Digest]) {
        assert_eq!(inputs.len(), out.len(), "one digest slot per input");
        match alg {
            Algorithm::Blake3 => self.blake3_into(inputs, out),
            Algorithm::Sha256 => sha256_into(inputs, out),
        }
    }

    /// Hashes every input; digests in input order.
    pub fn hash(&self, alg: Algorithm, inputs: &[&[u8]]) -> Vec<Digest> {
        let mut out = vec![[0u8; 32]; inputs.len()];
        self.hash_into(alg, inputs, &mut out);
        out
    }

    fn blake3_into(&self, inputs: &[&[u8]], out: &mut [Digest]) {
        let Some(isa) = self.isa else {
            out.par_iter_mut()
                .zip(inputs.par_iter())
                .with_min_len(min_len_for(inputs))
                .for_each(|(o, i)| *o = blake3_one(i));
            return;
        };
        // Long messages first, in place; the short ones are skipped here.
        out.par_iter_mut()
            .zip(inputs.par_iter())
            .with_min_len(min_len_for(inputs))
            .for_each(|(o, i)| {
                if i.len() > CHUNK_LEN {
                    *o = blake3_one(i);
                }
            });
        // Short messages in lanes, grouped by block count so each group's lanes finish together.
        let mut short: Vec<u32> = (0..inputs.len() as u32)
            .filter(|&i| inputs[i as usize].len() <= CHUNK_LEN)
            .collect();
        if short.is_empty() {
            return;
        }
        short.sort_unstable_by_key(|&i| inputs[i as usize].len().div_ceil(64));
        let mut digests = vec![[0u8; 32]; short.len()];
        let per_task = isa.lanes() * GROUPS_PER_TASK;
        digests
            .par_chunks_mut(per_task)
            .zip(short.par_chunks(per_task))
            .for_each(|(digests, idx)| hash_short_groups(isa, inputs, idx, digests));
        for (&i, d) in short.iter().zip(&digests) {
            out[i as usize] = *d;
        }
    }
}

/// Hashes the short messages `idx` names, group by group of `isa.lanes()`, into `digests`.
fn hash_short_groups(isa: Isa, inputs: &[&[u8]], idx: &[u32], digests: &mut [Digest]) {
    let lanes = isa.lanes();
    let mut cvs = [[0u32; 8]; lanes::MAX_LANES];
    let empty = LaneJob::root_chunk(&[]);
    for (group, digests) in idx.chunks(lanes).zip(digests.chunks_mut(lanes)) {
        let mut jobs = [empty; lanes::MAX_LANES];
        for (job, &i) in jobs.iter_mut().zip(group) {
            *job = LaneJob::root_chunk(inputs[i as usize]);
        }
        lanes::run(isa, &jobs[..group.len()], &mut cvs);
        for (d, cv) in digests.iter_mut().zip(&cvs) {
            *d = lanes::cv_bytes(cv);
        }
    }
}

/// One BLAKE3 message with the crate, across threads when it is large.
fn blake3_one(input: &[u8]) -> Digest {
    if input.len() >= RAYON_WITHIN_MESSAGE_BYTES {
        *blake3::Hasher::new()
            .update_rayon(input)
            .finalize()
            .as_bytes()
    } else {
        *blake3::hash(input).as_bytes()
    }
}

/// SHA-256 of every input, one message per task.
fn sha256_into(inputs: &[&[u8]], out: &mut [Digest]) {
    out.par_iter_mut()
        .zip(inputs.par_iter())
        .with_min_len(min_len_for(inputs))
        .for_each(|(o, i)| *o = sha2::Sha256::digest(i).into());
}

/// Messages per rayon task for the per-message paths: about 64 KiB of input per task.
fn min_len_for(inputs: &[&[u8]]) -> usize {
    (BYTES_PER_TASK * inputs.len())
        .checked_div(total_bytes(inputs))
        .unwrap_or(inputs.len())
        .max(1)
}

fn total_bytes(inputs: &[&[u8]]) -> usize {
    inputs.iter().map(|i| i.len()).sum()
}
