//! Merkle roots over batches of leaves, with domain separation between leaves and nodes.
//!
//! The tree is RFC 6962's Merkle Tree Hash (Certificate Transparency, section 2.1) with the
//! hash function `H` chosen by [`Algorithm`]:
//!
//! - no leaves: `MTH({}) = H("")`;
//! - one leaf: `MTH({d0}) = H(0x00 ‖ d0)`;
//! - `n > 1` leaves: `MTH(D[0..n]) = H(0x01 ‖ MTH(D[0..k]) ‖ MTH(D[k..n]))`, where `k` is the
//!   largest power of two smaller than `n`.
//!
//! The `0x00`/`0x01` prefixes keep a leaf from ever being taken for an inner node (no second
//! preimages by reinterpreting 64 bytes of node hashes as a leaf), and an odd node is carried up
//! unchanged rather than duplicated (duplication lets two different lists share a root). The
//! split at the largest power of two is the same tree as pairing nodes level by level from the
//! left and carrying the odd last one up, which is how it is computed here: one batch per level.

use std::convert::Infallible;

use super::{Algorithm, CpuEngine, Digest};

/// Prefix of a leaf's hash input.
pub const LEAF_PREFIX: u8 = 0x00;
/// Prefix of an inner node's hash input.
pub const NODE_PREFIX: u8 = 0x01;

/// The root of `leaves` with `hash` (a batch function for the chosen algorithm); `empty` is
/// `H("")`, used when there are no leaves.
pub(crate) fn root_with<E>(
    leaves: &[&[u8]],
    mut hash: impl FnMut(&[&[u8]]) -> Result<Vec<Digest>, E>,
) -> Result<Digest, E> {
    if leaves.is_empty() {
        return Ok(hash(&[&[]])?[0]);
    }
    let mut level = hash(&prefixed(LEAF_PREFIX, leaves.iter().copied()).as_refs())?;
    while level.len() > 1 {
        let pairs = level.chunks_exact(2);
        let odd = pairs.remainder().first().copied();
        let nodes = prefixed_pairs(pairs);
        let mut next = hash(&nodes.as_refs())?;
        next.extend(odd);
        level = next;
    }
    Ok(level[0])
}

/// The root on the CPU engine.
pub(crate) fn root_cpu(alg: Algorithm, leaves: &[&[u8]]) -> Digest {
    let engine = CpuEngine::new();
    let result: Result<_, Infallible> = root_with(leaves, |inputs| Ok(engine.hash(alg, inputs)));
    match result {
        Ok(v) => v,
        Err(never) => match never {},
    }
}

/// Many byte strings in one buffer.
struct Packed {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Packed {
    fn as_refs(&self) -> Vec<&[u8]> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let s = &self.bytes[start..end];
                start = end;
                s
            })
            .collect()
    }
}

/// `prefix ‖ item` for every item, in one buffer.
fn prefixed<'a>(prefix: u8, items: impl ExactSizeIterator<Item = &'a [u8]> + Clone) -> Packed {
    let total: usize = items.clone().map(|i| i.len() + 1).sum();
    let mut bytes = Vec::with_capacity(total);
    let mut ends = Vec::with_capacity(items.len());
    for item in items {
        bytes.push(prefix);
        bytes.extend_from_slice(item);
        ends.push(bytes.len());
    }
    Packed { bytes, ends }
}

/// `0x01 ‖ left ‖ right` for every pair.
fn prefixed_pairs(pairs: std::slice::ChunksExact<'_, Digest>) -> Packed {
    let mut bytes = Vec::with_capacity(pairs.len() * 65);
    let mut ends = Vec::with_capacity(pairs.len());
    for pair in pairs {
        bytes.push(NODE_PREFIX);
        bytes.extend_from_slice(&pair[0]);
        bytes.extend_from_slice(&pair[1]);
        ends.push(bytes.len());
    }
    Packed { bytes, ends }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962's definition, recursively, leaf by leaf with the reference crates.
    fn reference(alg: Algorithm, leaves: &[&[u8]]) -> Digest {
        let h = |parts: &[&[u8]]| -> Digest {
            let joined = parts.concat();
            match alg {
                Algorithm::Blake3 => *blake3::hash(&joined).as_bytes(),
                Algorithm::Sha256 => <sha2::Sha256 as sha2::Digest>::digest(&joined).into(),
            }
        };
        match leaves.len() {
            0 => h(&[]),
            1 => h(&[&[LEAF_PREFIX], leaves[0]]),
            n => {
                let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
                let (l, r) = (reference(alg, &leaves[..k]), reference(alg, &leaves[k..]));
                h(&[&[NODE_PREFIX], &l, &r])
            }
        }
    }

    #[test]
    fn matches_the_recursive_definition() {
        let data: Vec<Vec<u8>> = (0..70u32)
            .map(|i| {
                (0..(i * 37 % 300))
                    .map(|j| (i * 7 + j * 13 + 1) as u8)
                    .collect()
            })
            .collect();
        for alg in [Algorithm::Blake3, Algorithm::Sha256] {
            for n in 0..data.len() {
                let leaves: Vec<&[u8]> = data[..n].iter().map(Vec::as_slice).collect();
                assert_eq!(
                    root_cpu(alg, &leaves),
                    reference(alg, &leaves),
                    "{alg:?}, {n} leaves"
                );
            }
        }
    }

    #[test]
    fn known_sha256_roots() {
        // The empty tree is SHA-256 of nothing; one empty leaf is SHA-256(0x00) (RFC 6962).
        assert_eq!(
            hex::encode(root_cpu(Algorithm::Sha256, &[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex::encode(root_cpu(Algorithm::Sha256, &[b""])),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn leaf_order_and_content_matter() {
        let (a, b, c): (&[u8], &[u8], &[u8]) = (b"a", b"b", b"c");
        let r = |l: &[&[u8]]| root_cpu(Algorithm::Blake3, l);
        assert_ne!(r(&[a, b, c]), r(&[b, a, c]));
        assert_ne!(r(&[a, b, c]), r(&[a, b, c, c]));
        assert_ne!(r(&[a, b]), r(&[a]));
    }
}
