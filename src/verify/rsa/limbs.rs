//! Numbers of up to 4096 bits as 79 limbs of 52 bits, least significant first: the radix of
//! AVX-512 IFMA (`vpmadd52luq`/`vpmadd52huq` multiply the low 52 bits of two 64-bit lanes),
//! used by every CPU backend so that one prepared modulus serves them all.
//!
//! `R = 2^(52·79) = 2^4108` is the Montgomery radix. It exceeds four times any 4096-bit
//! modulus, which lets the multiplication keep its values below `2n` without a subtraction
//! per step (see `rsa/portable.rs`).

use rsa::BigUint;

/// Bits per limb.
pub const LIMB_BITS: u32 = 52;
/// Limbs per number: `52 · 79 = 4108 ≥ 4096 + 2` bits.
pub const LIMBS: usize = 79;
/// The low 52 bits.
pub const MASK: u64 = (1 << LIMB_BITS) - 1;
/// The longest modulus, in bytes.
pub const MAX_BYTES: usize = 512;

/// A number in limbs.
pub type Limbs = [u64; LIMBS];

/// Bytes of the little-endian image the limbs are cut from: the number's bytes, then zeros
/// so that an 8-byte read at the last limb's offset stays inside.
const LE_BYTES: usize = (LIMBS * LIMB_BITS as usize).div_ceil(8) + 8;

/// The limbs of a big-endian number of at most [`MAX_BYTES`] bytes (`None` when longer).
pub fn from_be(bytes: &[u8]) -> Option<Limbs> {
    if bytes.len() > MAX_BYTES {
        return None;
    }
    let mut le = [0u8; LE_BYTES];
    for (dst, src) in le.iter_mut().zip(bytes.iter().rev()) {
        *dst = *src;
    }
    let mut limbs = [0u64; LIMBS];
    for (i, limb) in limbs.iter_mut().enumerate() {
        let bit = i * LIMB_BITS as usize;
        let word = read_u64(&le, bit / 8);
        *limb = (word >> (bit % 8)) & MASK;
    }
    Some(limbs)
}

/// The 512 big-endian bytes of normalized limbs whose value is below `2^4096`.
pub fn to_be(limbs: &Limbs) -> [u8; MAX_BYTES] {
    let mut le = [0u8; LE_BYTES];
    for (i, &limb) in limbs.iter().enumerate() {
        let bit = i * LIMB_BITS as usize;
        let at = bit / 8;
        let word = read_u64(&le, at) | (limb << (bit % 8));
        le[at..at + 8].copy_from_slice(&word.to_le_bytes());
    }
    let mut be = [0u8; MAX_BYTES];
    for (dst, src) in be.iter_mut().rev().zip(le.iter()) {
        *dst = *src;
    }
    be
}

fn read_u64(le: &[u8; LE_BYTES], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&le[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Whether `a ≥ b`.
pub fn ge(a: &Limbs, b: &Limbs) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x > y;
        }
    }
    true
}

/// `a - b` for `a ≥ b`, normalized.
pub fn sub(a: &Limbs, b: &Limbs) -> Limbs {
    let mut out = [0u64; LIMBS];
    let mut borrow = 0u64;
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        let d = x.wrapping_sub(y).wrapping_sub(borrow);
        borrow = d >> 63;
        *o = d & MASK;
    }
    out
}

/// A modulus prepared for Montgomery arithmetic in this radix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modulus {
    /// `n`, odd, below `2^4096`.
    pub n: Limbs,
    /// `-n⁻¹ mod 2^52`.
    pub k0: u64,
    /// `R² mod n`, to bring a number into Montgomery form with one multiplication.
    pub r2: Limbs,
}

impl Modulus {
    /// `None` for an even modulus (Montgomery needs `gcd(n, R) = 1`), for 0 and 1, and for
    /// moduli over 4096 bits.
    pub fn new(n_be: &[u8]) -> Option<Modulus> {
        let n = from_be(n_be)?;
        let big = BigUint::from_bytes_be(n_be);
        if n[0] & 1 == 0 || big.bits() < 2 {
            return None;
        }
        let r2 = (BigUint::from(1u32) << (2 * LIMBS * LIMB_BITS as usize)) % &big;
        Some(Modulus {
            k0: neg_inverse(n[0]),
            r2: from_be(&r2.to_bytes_be())?,
            n,
        })
    }
}

/// `-x⁻¹ mod 2^52` for odd `x`, by Newton's iteration (each step doubles the correct bits:
/// 3 → 6 → 12 → 24 → 48 → 96).
fn neg_inverse(x: u64) -> u64 {
    let mut inv = x.wrapping_mul(3) ^ 2; // correct to 5 bits for odd x
    for _ in 0..4 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(x.wrapping_mul(inv)));
    }
    inv.wrapping_neg() & MASK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_through_limbs() {
        let mut bytes = [0u8; MAX_BYTES];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(151).wrapping_add(7);
        }
        let limbs = from_be(&bytes).unwrap();
        assert!(limbs.iter().all(|&l| l <= MASK));
        assert_eq!(to_be(&limbs), bytes);
        assert_eq!(to_be(&from_be(&[1, 2]).unwrap())[MAX_BYTES - 2..], [1, 2]);
        assert!(from_be(&[0; MAX_BYTES + 1]).is_none());
    }

    #[test]
    fn the_inverse_is_exact() {
        for x in [
            1u64,
            3,
            0xf_ffff_ffff_ffff,
            0x8_0000_0000_0001,
            0x1234_5678_9abd,
        ] {
            let k0 = neg_inverse(x);
            assert_eq!(x.wrapping_mul(k0) & MASK, MASK, "{x:#x}"); // x·k0 ≡ -1
        }
    }

    #[test]
    fn even_tiny_and_long_moduli_are_not_prepared() {
        assert!(Modulus::new(&[4]).is_none());
        assert!(Modulus::new(&[1]).is_none());
        assert!(Modulus::new(&[0; 8]).is_none());
        assert!(Modulus::new(&[3; MAX_BYTES + 1]).is_none());
        let m = Modulus::new(&[0xff; MAX_BYTES]).unwrap();
        assert_eq!(m.n, from_be(&[0xff; MAX_BYTES]).unwrap());
    }
}
