//! EMSA-PSS-VERIFY (RFC 8017 § 9.1.2) with SHA-256 and MGF1-SHA-256 (any digest through
//! [`check_with`]: HTTP message signatures use SHA-512), the salt length read
//! from the padding (OpenSSL's "auto" mode): the reference JavaScript signs with the longest
//! salt that fits (478 bytes for a 4096-bit key) under Node and with 32 bytes in browsers, and
//! both must verify. Every engine ends here: they differ only in how they computed `s^e mod n`.

use sha2::{Digest, Sha256};

use super::Failure;

/// Length of a SHA-256 digest.
pub const H_LEN: usize = 32;

/// Checks the encoded message `em` (the public operation's result, `em_bits = modBits − 1`
/// bits, big-endian, exactly `⌈em_bits / 8⌉` bytes) against the message digest `m_hash`.
pub fn check(m_hash: &[u8; H_LEN], em: &mut [u8], em_bits: usize) -> Result<(), Failure> {
    check_with::<Sha256>(m_hash, em, em_bits)
}

/// [`check`] with digest `D` for both the message hash and MGF1.
pub fn check_with<D: Digest>(m_hash: &[u8], em: &mut [u8], em_bits: usize) -> Result<(), Failure> {
    let h_len = <D as Digest>::output_size();
    let em_len = em.len();
    if em_len < h_len + 2 || m_hash.len() != h_len {
        return Err(Failure::ModulusTooSmall { bits: em_bits + 1 });
    }
    if em[em_len - 1] != 0xbc {
        return Err(Failure::Padding("the encoded message does not end in 0xbc"));
    }
    let (masked_db, rest) = em.split_at_mut(em_len - h_len - 1);
    let h = &rest[..h_len];
    let unused_bits = 8 * em_len - em_bits;
    let top_mask = 0xffu8 >> unused_bits;
    if masked_db[0] & !top_mask != 0 {
        return Err(Failure::Padding("the bits above emBits are not zero"));
    }
    mgf1_xor::<D>(masked_db, h);
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
    let mut hasher = D::new();
    hasher.update([0u8; 8]);
    hasher.update(m_hash);
    hasher.update(salt);
    if hasher.finalize().as_slice() == h {
        Ok(())
    } else {
        Err(Failure::Mismatch)
    }
}

/// `out ^= MGF1-D(seed, out.len())`.
fn mgf1_xor<D: Digest>(out: &mut [u8], seed: &[u8]) {
    for (counter, block) in out.chunks_mut(<D as Digest>::output_size()).enumerate() {
        let mut hasher = D::new();
        hasher.update(seed);
        hasher.update((counter as u32).to_be_bytes());
        let mask = hasher.finalize();
        for (b, m) in block.iter_mut().zip(mask.iter()) {
            *b ^= m;
        }
    }
}
