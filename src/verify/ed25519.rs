//! Ed25519 (ANS-104 types 2 and 4), one rule set for every engine: RFC 8032's cofactorless
//! equation `[S]B = R + [k]A` with `S` canonical, as `ed25519-dalek`'s `verify` checks it.
//!
//! Why not `ed25519-dalek`'s batch equation: it is a random linear combination that is not
//! the single equation: with crafted small-order components a batch can pass where one of
//! its signatures alone fails, so its verdicts would depend on the batch. aocu's verdict for
//! an item must not depend on its neighbours; batches are spread over the cores instead.
//! AO's JavaScript reference (`@noble/ed25519`, through arbundles) accepts every honest
//! signature this accepts; it may also accept crafted ones with small-order parts, which no
//! honest signer makes and this refuses.

use ed25519_dalek::{Verifier as _, VerifyingKey};

use super::Failure;

/// Owner (public key) length.
pub const KEY_LEN: usize = 32;
/// Signature length.
pub const SIGNATURE_LEN: usize = 64;

/// Whether `signature` by the key `key` signs `message`.
pub fn verify(key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), Failure> {
    let key = <[u8; KEY_LEN]>::try_from(key).map_err(|_| Failure::KeyLength {
        found: key.len(),
        expected: KEY_LEN,
    })?;
    let signature =
        <[u8; SIGNATURE_LEN]>::try_from(signature).map_err(|_| Failure::SignatureLength {
            found: signature.len(),
            expected: SIGNATURE_LEN,
        })?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| Failure::BadKey)?;
    key.verify(message, &ed25519_dalek::Signature::from_bytes(&signature))
        .map_err(|_| Failure::Mismatch)
}
