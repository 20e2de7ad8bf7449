//! Type 1, Arweave: RSASSA-PSS with SHA-256 and MGF1-SHA-256. The signed message is the
//! item's deep hash, so the PSS input is `SHA-256(deep_hash)` (arbundles' `Rsa4096Pss`).
//!
//! Verification recovers the salt length from the encoded message (like OpenSSL's "auto"
//! mode): the reference JavaScript signs with the longest salt that fits (478 bytes for a
//! 4096-bit key) under Node and with 32 bytes in browsers, and both must verify. Signing (in
//! [`crate::ao::Wallet`]) uses 32 bytes, which every verifier accepts.

use rsa::BigUint;
use sha2::{Digest as _, Sha256};

/// Length of a SHA-256 digest.
const H_LEN: usize = 32;

/// Verify `signature` by the RSA key with modulus `n` (big-endian bytes) and exponent 65537
/// over `message` (the deep hash). `false` for any mismatch or malformed input.
pub fn verify(n: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let m_hash: [u8; 32] = Sha256::digest(message).into();
    let n = BigUint::from_bytes_be(n);
    let s = BigUint::from_bytes_be(signature);
    let mod_bits = n.bits();
    if mod_bits < 8 * (H_LEN + 2) || s >= n || signature.len() != n.to_bytes_be().len() {
        return false;
    }
    let m = s.modpow(&BigUint::from(65_537u32), &n);
    let em_bits = mod_bits - 1;
    let em_len = em_bits.div_ceil(8);
    let m_bytes = m.to_bytes_be();
    if m_bytes.len() > em_len {
        return false;
    }
    let mut em = vec![0u8; em_len - m_bytes.len()];
    em.extend_from_slice(&m_bytes);
    pss_decode_auto(&m_hash, &mut em, em_bits)
}

/// EMSA-PSS-VERIFY (RFC 8017 § 9.1.2) with the salt length read from the padding.
fn pss_decode_auto(m_hash: &[u8; 32], em: &mut [u8], em_bits: usize) -> bool {
    let em_len = em.len();
    if em_len < H_LEN + 2 || em[em_len - 1] != 0xbc {
        return false;
    }
    let (masked_db, rest) = em.split_at_mut(em_len - H_LEN - 1);
    let h = &rest[..H_LEN];
    let unused_bits = 8 * em_len - em_bits;
    let top_mask = 0xffu8 >> unused_bits;
    if masked_db[0] & !top_mask != 0 {
        return false;
    }
    mgf1_xor(masked_db, h);
    masked_db[0] &= top_mask;
    let db = masked_db;
    // DB = PS (zeros) ‖ 0x01 ‖ salt.
    let Some(one) = db.iter().position(|&b| b != 0) else {
        return false;
    };
    if db[one] != 0x01 {
        return false;
    }
    let salt = &db[one + 1..];
    let mut hasher = Sha256::new();
    hasher.update([0u8; 8]);
    hasher.update(m_hash);
    hasher.update(salt);
    let h2: [u8; 32] = hasher.finalize().into();
    h2 == h
}

/// `out ^= MGF1-SHA-256(seed, out.len())`.
fn mgf1_xor(out: &mut [u8], seed: &[u8]) {
    for (counter, block) in out.chunks_mut(H_LEN).enumerate() {
        let mut hasher = Sha256::new();
        hasher.update(seed);
        hasher.update((counter as u32).to_be_bytes());
        let mask: [u8; 32] = hasher.finalize().into();
        for (b, m) in block.iter_mut().zip(mask) {
            *b ^= m;
        }
    }
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
        let max_salt = 128 - H_LEN - 2;
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
