//! The Scheduler Unit hash chain, exactly as AO's legacy SU computes it
//! (`servers/su/src/domain/core/scheduler.rs`, `gen_hash_chain`).
//!
//! First entry of a process (its spawn): `b64url(SHA-256(raw(process_id)))`.
//! Entry n: `b64url(SHA-256(raw(assignment_id_{n-1}) ‖ raw(Hash-Chain_{n-1})))`: the ID of the
//! previous slot's *assignment* (not of its message), then the previous link; `raw()` is the
//! 32 bytes behind a 43-character base64url ID ([`Id`]). AO's CU checks links the same way.

use crate::ao::Id;
use crate::hash::{Algorithm, shared};

/// The link of a process' first entry.
pub fn first_link(process: &Id) -> Id {
    Id::from(shared().digest(Algorithm::Sha256, process.as_bytes()))
}

/// The link of the entry after the one whose assignment ID is `prev_id` and link `prev_link`.
pub fn next_link(prev_id: &Id, prev_link: &Id) -> Id {
    let mut input = [0u8; 64];
    input[..32].copy_from_slice(prev_id.as_bytes());
    input[32..].copy_from_slice(prev_link.as_bytes());
    Id::from(shared().digest(Algorithm::Sha256, &input))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest as _, Sha256};

    #[test]
    fn links_follow_the_formula() {
        let pid = Id::from([7u8; 32]);
        let first = first_link(&pid);
        let expected: [u8; 32] = Sha256::digest([7u8; 32]).into();
        assert_eq!(first.into_bytes(), expected);

        let msg = Id::from([9u8; 32]);
        let second = next_link(&msg, &first);
        let mut input = [9u8; 32].to_vec();
        input.extend_from_slice(&expected);
        let expected: [u8; 32] = Sha256::digest(&input).into();
        assert_eq!(second.into_bytes(), expected);
    }
}
