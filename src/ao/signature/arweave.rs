//! Type 1, Arweave: RSASSA-PSS with SHA-256 and MGF1-SHA-256. The signed message is the
//! item's deep hash, so the PSS input is `SHA-256(deep_hash)` (arbundles' `Rsa4096Pss`).
//!
//! Verification recovers the salt length from the encoded message (like OpenSSL's "auto"
//! mode): the reference JavaScript signs with the longest salt that fits (478 bytes for a
//! 4096-bit key) under Node and with 32 bytes in browsers, and both must verify. Signing (in
//! [`crate::ao::Wallet`]) uses 32 bytes, which every verifier accepts.

use sha2::{Digest as _, Sha256};

use crate::verify::{self, Item};

/// The item of the batch verifier for `signature` by the RSA key with modulus `n` (big-endian
/// bytes) over `message` (the deep hash): the PSS digest is `SHA-256(message)`.
pub fn item<'a>(n: &'a [u8], message: &[u8], signature: &'a [u8]) -> Item<'a> {
    Item::RsaPss {
        modulus: n,
        digest: Sha256::digest(message).into(),
        signature,
    }
}

/// Verify `signature` by the RSA key with modulus `n` (big-endian bytes) and exponent 65537
/// over `message` (the deep hash). `false` for any mismatch or malformed input.
pub fn verify(n: &[u8], message: &[u8], signature: &[u8]) -> bool {
    verify::shared()
        .verify(&[item(n, message, signature)])
        .iter()
        .all(Result::is_ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::traits::PublicKeyParts as _;
    use rsa::{Pss, RsaPrivateKey};

    #[test]
    fn any_salt_length_verifies_and_tampering_fails() {
        // A small key keeps the test fast; the padding logic does not depend on the size.
        let mut rng = rsa::rand_core::OsRng;
        let key = RsaPrivateKey::new(&mut rng, 1024).unwrap();
        let n = key.n().to_bytes_be();
        let message = b"deep hash stand-in";
        let hashed = Sha256::digest(message);
        let max_salt = 128 - 32 - 2;
        for salt in [0, 20, 32, max_salt] {
            let sig = key
                .sign_with_rng(&mut rng, Pss::new_with_salt::<Sha256>(salt), &hashed)
                .unwrap();
            assert!(verify(&n, message, &sig), "salt {salt}");
            assert!(!verify(&n, b"other message", &sig));
            let mut bad = sig.clone();
            bad[40] ^= 1;
            assert!(!verify(&n, message, &bad));
            assert!(!verify(&n, message, &sig[1..]));
        }
        assert!(!verify(&n, message, &[0xff; 128]));
        assert!(!verify(&[], message, &[]));
    }
}
