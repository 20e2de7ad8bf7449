//! AO Scheduler Unit hash chains: every link checked on its own, so a page verifies in parallel.
//!
//! The legacy SU (`servers/su/src/domain/core/scheduler.rs` in permaweb/ao) gives each scheduled
//! entry `Hash-Chain_n = b64url(SHA-256(raw(id_{n-1}) ‖ raw(Hash-Chain_{n-1})))`, and the first
//! entry of a process `b64url(SHA-256(raw(process_id)))`. Which ID is "the previous one" is the
//! caller's business (the SU uses the previous *assignment*'s ID): a [`ChainLink`] takes the
//! bytes it is given. Text IDs and links become bytes by parsing them as [`crate::ao::Id`].

use std::convert::Infallible;

use sha2::Digest as _;

use super::{Algorithm, CpuEngine, Digest};

/// One link of a hash chain to verify: `claimed == SHA-256(prev_id ‖ prev_chain)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainLink<'a> {
    /// The raw bytes of the previous entry's ID (32 bytes for AO IDs); the process ID for the
    /// first link.
    pub prev_id: &'a [u8],
    /// The raw bytes of the previous entry's hash chain (32 bytes); empty for the first link.
    pub prev_chain: &'a [u8],
    /// The hash chain this entry claims.
    pub claimed: Digest,
}

impl<'a> ChainLink<'a> {
    /// The first link of a process: `claimed == SHA-256(raw(process_id))`.
    pub fn genesis(process_id: &'a [u8], claimed: Digest) -> ChainLink<'a> {
        ChainLink {
            prev_id: process_id,
            prev_chain: &[],
            claimed,
        }
    }

    /// The hash chain this link should carry.
    pub fn expected(&self) -> Digest {
        chain_link_hash(self.prev_id, self.prev_chain)
    }
}

/// `SHA-256(prev_id ‖ prev_chain)`: the next hash-chain value after an entry.
pub fn chain_link_hash(prev_id: &[u8], prev_chain: &[u8]) -> Digest {
    sha2::Sha256::new()
        .chain_update(prev_id)
        .chain_update(prev_chain)
        .finalize()
        .into()
}

/// Verifies every link with `hash` (a SHA-256 batch function): one batch of concatenations.
pub(crate) fn verify_with<E>(
    links: &[ChainLink<'_>],
    hash: impl FnOnce(&[&[u8]]) -> Result<Vec<Digest>, E>,
) -> Result<Vec<bool>, E> {
    // One buffer for the whole batch: no allocation per link.
    let total: usize = links
        .iter()
        .map(|l| l.prev_id.len() + l.prev_chain.len())
        .sum();
    let mut packed = Vec::with_capacity(total);
    let mut ends = Vec::with_capacity(links.len());
    for link in links {
        packed.extend_from_slice(link.prev_id);
        packed.extend_from_slice(link.prev_chain);
        ends.push(packed.len());
    }
    let mut start = 0;
    let inputs: Vec<&[u8]> = ends
        .iter()
        .map(|&end| {
            let input = &packed[start..end];
            start = end;
            input
        })
        .collect();
    let digests = hash(&inputs)?;
    Ok(digests
        .iter()
        .zip(links)
        .map(|(d, l)| *d == l.claimed)
        .collect())
}

/// [`verify_with`] on the CPU engine.
pub(crate) fn verify_cpu(links: &[ChainLink<'_>]) -> Vec<bool> {
    let engine = CpuEngine::new();
    let result: Result<_, Infallible> =
        verify_with(links, |inputs| Ok(engine.hash(Algorithm::Sha256, inputs)));
    match result {
        Ok(v) => v,
        Err(never) => match never {},
    }
}
