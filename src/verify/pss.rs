//! EMSA-PSS-VERIFY (RFC 8017 § 9.1.2) with SHA-256 and MGF1-SHA-256, the salt length read
//! from the padding (OpenSSL's "auto" mode): the reference JavaScript signs with the longest
//! salt that fits (478 bytes for a 4096-bit key) under Node and with 32 bytes in browsers, and
//! both must verify. Every engine ends here: they differ only in how they computed `s^e mod n`.

use sha2::{Digest as _, Sha256};

use super::Failure;

/// Length of a SHA-256 digest.
pub const H_LEN: usize = 32;

/// Checks the encoded message `em` (the public operation's result, `em_bits = modBits − 1`
/// bits, big-endian, exactly `⌈em_bits / 8⌉` bytes) against the message digest `m_hash`.
pub fn check(m_hash: &[u8; H_LEN], em: &mut [u8], em_bits: usize) -> Result<(), Failure> {
    let em_len = em.len();
    if em_len < H_LEN + 2 {
        return Err(Failure::ModulusTooSmall { bits: em_bits + 1 });
    }
    if em[em_len - 1] != 0xbc {
        return Err(Failure::Padding("the encoded message does not end in 0xbc"));
    }
    let (masked_db, rest) = em.split_at_mut(em_len - H_LEN - 1);
    let h = &rest[..H_LEN];
    let unused_bits = 8 * em_len - em_bits;
    let top_mask = 0xffu8 >> unused_bits;
    if masked_db[0] & !top_mask != 0 {
        return Err(Failure::Padding("the bits above emBits are not zero"));
    }
    mgf1_xor(masked_db, h);
    masked_db[0] &= top_mask;
    let db = masked_db;
    // DB = PS (zeros) ‖ 0x01 ‖ salt.
    let Some(one) = db.iter().position(|&b| b != 0) else {
        return Err(Failure::Padding(
            "no 0x01 separates the padding from the salt",
        ));
    };
    if db[one] != 0x01 {
        return Err(Failure::Padding(
            "no 0x01 separates the padding from the salt",
        ));
    }
    let salt = &db[one + 1..];
    let mut hasher = Sha256::new();
    hasher.update([0u8; 8]);
    hasher.update(m_hash);
    hasher.update(salt);
    let h2: [u8; H_LEN] = hasher.finalize().into();
    if h2 == h {
        Ok(())
    } else {
        Err(Failure::Mismatch)
    }
}

/// `out ^= MGF1-SHA-256(seed, out.len())`.
fn mgf1_xor(out: &mut [u8], seed: &[u8]) {
    for (counter, block) in out.chunks_mut(H_LEN).enumerate() {
        let mut hasher = Sha256::new();
        hasher.update(seed);
        hasher.update((counter as u32).to_be_bytes());
        let mask: [u8; H_LEN] = hasher.finalize().into();
        for (b, m) in block.iter_mut().zip(mask) {
            *b ^= m;
        }
    }
}
