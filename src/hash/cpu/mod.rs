//! The CPU engine: BLAKE3 and SHA-256 over many messages, in parallel with rayon.
//!
//! BLAKE3: messages of at most one chunk (1024 bytes) are hashed side by side in SIMD lanes
//! ([`lanes`]), grouped by length so that the lanes of a group finish together (optionally,
//! messages of up to 16 chunks have their chunks, then their parent nodes level by level, run in
//! lanes together with those of other messages); longer ones go to the `blake3` crate (its own SIMD over the
//! chunks of one message), and large ones to its `update_rayon` so that one big message uses
//! every core. SHA-256: the `sha2` crate, which uses
//! the SHA-NI (x86) or ARMv8 SHA instructions when the CPU has them, one message per task.
//!
//! Nothing is allocated per message: digests are written into the caller's slice, and the only
//! allocations are per batch (the length-sorted index of the short messages and their digests).

// The one place where aocu writes SIMD intrinsics: every `unsafe` there says why it is sound.
#[allow(unsafe_code)]
pub mod lanes;

use rayon::prelude::*;
use sha2::Digest as _;

use super::{Algorithm, Digest};
use lanes::{CHUNK_LEN, Isa, LaneJob};

/// Messages at least this long are hashed with the `blake3` crate's `update_rayon`: below it,
/// splitting one message across threads costs more than it gains.
pub const RAYON_WITHIN_MESSAGE_BYTES: usize = 256 * 1024;

/// The most a BLAKE3 message may hold to be hashed chunk by chunk in lanes, when that is turned
/// on ([`CpuEngine::with_lane_trees`]). Off by default: measured on this project's 2-core AVX-512
/// machine it was slower than the `blake3` crate per message for 16 KiB messages.
pub const LANE_TREE_MAX: usize = 16 * CHUNK_LEN;

/// Multi-chunk messages per rayon task (at most 256 KiB of input).
const TREE_MESSAGES_PER_TASK: usize = 16;

/// Lane groups per rayon task: enough work per task to amortize scheduling.
const GROUPS_PER_TASK: usize = 16;

/// Bytes of input per rayon task for the per-message paths, at least (one message when longer).
const BYTES_PER_TASK: usize = 64 * 1024;

/// How the CPU engine hashes: which lane implementation BLAKE3 uses for short messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuEngine {
    isa: Option<Isa>,
    /// Multi-chunk messages up to this long go through the lanes (0: none).
    lane_tree_max: usize,
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
            lane_tree_max: 0,
        }
    }

    /// Short BLAKE3 messages in lanes of `isa` (`None`: one by one with the `blake3` crate).
    /// Returns `None` when the CPU lacks `isa`.
    pub fn with_isa(isa: Option<Isa>) -> Option<CpuEngine> {
        match isa {
            Some(i) if !i.available() => None,
            _ => Some(CpuEngine {
                isa,
                lane_tree_max: 0,
            }),
        }
    }

    /// Also hashes BLAKE3 messages of 2 to `max_bytes / 1024` chunks in lanes: their chunks, then
    /// their parent nodes level by level, together with those of other messages (capped at
    /// [`LANE_TREE_MAX`]; 0 turns it off, the default). Only with a lane implementation.
    pub fn with_lane_trees(mut self, max_bytes: usize) -> CpuEngine {
        self.lane_tree_max = max_bytes.min(LANE_TREE_MAX);
        self
    }

    /// The lane implementation in use for short BLAKE3 messages.
    pub fn isa(&self) -> Option<Isa> {
        self.isa
    }

    /// Hashes every input into `out` (same index). `out.len()` must equal `inputs.len()`.
    pub fn hash_into(&self, alg: Algorithm, inputs: &[&[u8]], out: &mut [Digest]) {
        assert_eq!(inputs.len(), out.len(), "one digest slot per input");
        // One message (an ID, a chain link, a module or checkpoint digest: what the node hashes
        // most often) on the calling thread: handing it to the rayon pool from outside would
        // cost a cross-thread round trip, more than hashing a short message. A large one still
        // spreads over the cores inside the `blake3` crate.
        if let ([input], [digest]) = (inputs, &mut *out) {
            *digest = match alg {
                Algorithm::Blake3 => blake3_one(input),
                Algorithm::Sha256 => sha2::Sha256::digest(input).into(),
            };
            return;
        }
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
        let per_task = isa.lanes() * GROUPS_PER_TASK;
        // A batch of short messages already in block-count order (a batch of one size, the
        // common case): hashed in place, with no index to build, sort and scatter back, which
        // were serial work that kept all-core throughput from scaling.
        let blocks = |i: &&[u8]| i.len().div_ceil(lanes::BLOCK_LEN);
        if inputs.iter().all(|i| i.len() <= CHUNK_LEN) && inputs.is_sorted_by_key(blocks) {
            out.par_chunks_mut(per_task)
                .zip(inputs.par_chunks(per_task))
                .for_each(|(digests, msgs)| hash_short_groups(isa, msgs.iter().copied(), digests));
            return;
        }
        let tree_max = self.lane_tree_max;
        // Long messages first, in place; the others are skipped here.
        out.par_iter_mut()
            .zip(inputs.par_iter())
            .with_min_len(min_len_for(inputs))
            .for_each(|(o, i)| {
                if i.len() > CHUNK_LEN.max(tree_max) {
                    *o = blake3_one(i);
                }
            });
        // Messages of a few chunks: their chunks and parent nodes in lanes.
        let tree: Vec<u32> = (0..inputs.len() as u32)
            .filter(|&i| (CHUNK_LEN + 1..=tree_max).contains(&inputs[i as usize].len()))
            .collect();
        if !tree.is_empty() {
            let mut digests = vec![[0u8; 32]; tree.len()];
            digests
                .par_chunks_mut(TREE_MESSAGES_PER_TASK)
                .zip(tree.par_chunks(TREE_MESSAGES_PER_TASK))
                .for_each(|(digests, idx)| hash_tree_group(isa, inputs, idx, digests));
            for (&i, d) in tree.iter().zip(&digests) {
                out[i as usize] = *d;
            }
        }
        // Short messages in lanes, grouped by block count so each group's lanes finish together.
        let mut short: Vec<u32> = (0..inputs.len() as u32)
            .filter(|&i| inputs[i as usize].len() <= CHUNK_LEN)
            .collect();
        if short.is_empty() {
            return;
        }
        short.sort_unstable_by_key(|&i| blocks(&inputs[i as usize]));
        let mut digests = vec![[0u8; 32]; short.len()];
        digests
            .par_chunks_mut(per_task)
            .zip(short.par_chunks(per_task))
            .for_each(|(digests, idx)| {
                hash_short_groups(isa, idx.iter().map(|&i| inputs[i as usize]), digests)
            });
        for (&i, d) in short.iter().zip(&digests) {
            out[i as usize] = *d;
        }
    }
}

/// Hashes short messages (one per digest slot, in order), group by group of `isa.lanes()`,
/// into `digests`.
fn hash_short_groups<'a>(
    isa: Isa,
    mut messages: impl Iterator<Item = &'a [u8]>,
    digests: &mut [Digest],
) {
    let lanes = isa.lanes();
    let mut cvs = [[0u32; 8]; lanes::MAX_LANES];
    let empty = LaneJob::root_chunk(&[]);
    for digests in digests.chunks_mut(lanes) {
        let mut jobs = [empty; lanes::MAX_LANES];
        for job in jobs.iter_mut().take(digests.len()) {
            *job = LaneJob::root_chunk(messages.next().unwrap_or_default());
        }
        lanes::run(isa, &jobs[..digests.len()], &mut cvs);
        for (d, cv) in digests.iter_mut().zip(&cvs) {
            *d = lanes::cv_bytes(cv);
        }
    }
}

/// Hashes the multi-chunk messages `idx` names into `digests`: every chunk of every message in
/// lanes, then the parent nodes level by level, the parents of all messages at one level in
/// lanes together. Pairing nodes from the left at each level and carrying an odd last node up
/// builds exactly BLAKE3's tree (whose left subtree always holds the largest power of two of
/// chunks that leaves at least one byte on the right).
fn hash_tree_group(isa: Isa, inputs: &[&[u8]], idx: &[u32], digests: &mut [Digest]) {
    let mut jobs = Vec::new();
    // Per message: where its nodes start in `cvs`, and how many nodes its current level has.
    let mut spans: Vec<(usize, usize)> = Vec::with_capacity(idx.len());
    for &i in idx {
        let message = inputs[i as usize];
        spans.push((jobs.len(), message.len().div_ceil(CHUNK_LEN)));
        jobs.extend(
            message
                .chunks(CHUNK_LEN)
                .enumerate()
                .map(|(c, data)| LaneJob {
                    data,
                    counter: c as u64,
                    flags: 0,
                    flags_start: lanes::CHUNK_START,
                    flags_end: lanes::CHUNK_END,
                }),
        );
    }
    let mut cvs = vec![[0u32; 8]; jobs.len()];
    run_in_groups(isa, &jobs, &mut cvs);
    let mut blocks: Vec<[u8; 64]> = Vec::new();
    let mut outs: Vec<[u32; 8]> = Vec::new();
    loop {
        blocks.clear();
        let mut roots = Vec::new();
        for &(start, count) in spans.iter().filter(|(_, count)| *count > 1) {
            for pair in cvs[start..start + count].chunks_exact(2) {
                let mut block = [0u8; 64];
                block[..32].copy_from_slice(&lanes::cv_bytes(&pair[0]));
                block[32..].copy_from_slice(&lanes::cv_bytes(&pair[1]));
                blocks.push(block);
                roots.push(count == 2);
            }
        }
        if blocks.is_empty() {
            break;
        }
        let parents: Vec<LaneJob<'_>> = blocks
            .iter()
            .zip(&roots)
            .map(|(block, &root)| LaneJob {
                data: block,
                counter: 0,
                flags: lanes::PARENT,
                flags_start: 0,
                flags_end: if root { lanes::ROOT } else { 0 },
            })
            .collect();
        outs.clear();
        outs.resize(parents.len(), [0; 8]);
        run_in_groups(isa, &parents, &mut outs);
        let mut next = outs.iter();
        for (start, count) in spans.iter_mut().filter(|(_, count)| *count > 1) {
            let pairs = *count / 2;
            for (slot, cv) in cvs[*start..*start + pairs].iter_mut().zip(next.by_ref()) {
                *slot = *cv;
            }
            if *count % 2 == 1 {
                cvs[*start + pairs] = cvs[*start + *count - 1];
            }
            *count = pairs + *count % 2;
        }
    }
    for (d, &(start, _)) in digests.iter_mut().zip(&spans) {
        *d = lanes::cv_bytes(&cvs[start]);
    }
}

/// Runs `jobs` through the lanes, `isa.lanes()` at a time, results into `out` (same index).
fn run_in_groups(isa: Isa, jobs: &[LaneJob<'_>], out: &mut [[u32; 8]]) {
    for (jobs, out) in jobs.chunks(isa.lanes()).zip(out.chunks_mut(isa.lanes())) {
        lanes::run(isa, jobs, out);
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
