//! Type 2, ed25519: the owner is the 32-byte public key and the signature signs the deep hash
//! itself (arbundles' `Curve25519`, which its `SolanaSigner` extends; verification with
//! `@noble/ed25519`). [`crate::ao::signature::solana`] signs a different message with the same
//! keys.
//!
//! Verification is [`crate::verify::ed25519`]'s (RFC 8032's cofactorless equation, where the
//! rule set is argued), through the node's batch verifier.

use ed25519_dalek::{Signer as _, SigningKey};
use rsa::rand_core::{OsRng, RngCore as _};

use crate::verify::Item;

/// Owner length.
pub const OWNER_LEN: usize = crate::verify::ed25519::KEY_LEN;
/// Signature length.
pub const SIGNATURE_LEN: usize = crate::verify::ed25519::SIGNATURE_LEN;

/// The item of the batch verifier for `signature` by the key `owner` over `message`.
pub fn item<'a>(owner: &'a [u8], message: &'a [u8], signature: &'a [u8]) -> Item<'a> {
    Item::Ed25519 {
        key: owner,
        message,
        signature,
    }
}

/// Whether `signature` by the key `owner` signs `message`. `false` for malformed input.
pub fn verify(owner: &[u8], message: &[u8], signature: &[u8]) -> bool {
    crate::verify::shared()
        .verify(&[item(owner, message, signature)])
        .iter()
        .all(Result::is_ok)
}

/// An ed25519 signing key.
#[derive(Clone)]
pub struct Key(SigningKey);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret half.
        f.debug_tuple("ed25519::Key")
            .field(&crate::ao::b64url(&self.public()))
            .finish()
    }
}

impl Key {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Key {
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        Key::from_seed(&seed)
    }

    /// The key of a 32-byte seed (the private half as Solana and RFC 8032 write it).
    pub fn from_seed(seed: &[u8; 32]) -> Key {
        Key(SigningKey::from_bytes(seed))
    }

    /// The public key (the owner field).
    pub fn public(&self) -> [u8; OWNER_LEN] {
        self.0.verifying_key().to_bytes()
    }

    /// The signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(message).to_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8032_test_vector_1() {
        // RFC 8032 section 7.1, TEST 1 (empty message).
        let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap();
        let key = Key::from_seed(&seed.try_into().unwrap());
        assert_eq!(
            hex::encode(key.public()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let sig = key.sign(b"");
        assert_eq!(
            hex::encode(sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        assert!(verify(&key.public(), b"", &sig));
        assert!(!verify(&key.public(), b"x", &sig));
        assert!(!verify(&key.public()[1..], b"", &sig));
        assert!(!verify(&key.public(), b"", &sig[1..]));
        assert!(!format!("{key:?}").contains("9d61b1"));
    }
}
