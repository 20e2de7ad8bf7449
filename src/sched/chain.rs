//! The Scheduler Unit hash chain, exactly as AO's legacy SU computes it
//! (`servers/su/src/domain/core/scheduler.rs`, `gen_hash_chain`).
//!
//! First entry of a process (its spawn): `b64url(SHA-256(raw(process_id)))`.
//! Entry n: `b64url(SHA-256(raw(assignment_id_{n-1}) ‖ raw(Hash-Chain_{n-1})))`: the ID of the
//! previous slot's *assignment* (not of its message), then the previous link; `raw()` is the
//! 32 bytes behind a 43-character base64url ID. AO's CU checks links the same way.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::hash::{Algorithm, shared};

/// An ID or link is not 43 characters of base64url encoding 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a 43-character base64url ID of 32 bytes")]
pub struct BadId {
    /// The offending text.
    pub value: String,
}

/// The 32 bytes behind a 43-character base64url ID.
pub fn raw_id(id: &str) -> Result<[u8; 32], BadId> {
    let bad = || BadId {
        value: id.to_string(),
    };
    if id.len() != 43 {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(id).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

/// Encode 32 bytes as a 43-character base64url ID.
pub fn encode_id(bytes: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The link of a process' first entry.
pub fn first_link(process_id: &str) -> Result<String, BadId> {
    let digest = shared().digest(Algorithm::Sha256, &raw_id(process_id)?);
    Ok(encode_id(&digest))
}

/// The link of the entry after the one whose assignment ID is `prev_id` and link `prev_link`.
pub fn next_link(prev_id: &str, prev_link: &str) -> Result<String, BadId> {
    let mut input = [0u8; 64];
    input[..32].copy_from_slice(&raw_id(prev_id)?);
    input[32..].copy_from_slice(&raw_id(prev_link)?);
    Ok(encode_id(&shared().digest(Algorithm::Sha256, &input)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest as _, Sha256};

    #[test]
    fn links_follow_the_formula() {
        let pid = encode_id(&[7u8; 32]);
        let first = first_link(&pid).unwrap();
        let expected: [u8; 32] = Sha256::digest([7u8; 32]).into();
        assert_eq!(raw_id(&first).unwrap(), expected);

        let msg = encode_id(&[9u8; 32]);
        let second = next_link(&msg, &first).unwrap();
        let mut input = [9u8; 32].to_vec();
        input.extend_from_slice(&expected);
        let expected: [u8; 32] = Sha256::digest(&input).into();
        assert_eq!(raw_id(&second).unwrap(), expected);
    }

    #[test]
    fn bad_ids_are_refused() {
        assert!(raw_id("short").is_err());
        assert!(raw_id(&"!".repeat(43)).is_err());
        assert!(first_link(&"A".repeat(44)).is_err());
    }
}
