//! The portable backend: one signature at a time in plain 64-bit integer arithmetic, the same
//! algorithm as the SIMD backends lane for lane.
//!
//! **Montgomery multiplication** (CIOS, radix `2^52`, lazy carries): for each limb `a_i`, add
//! `a_i·b` and `m·n` (with `m` chosen so the lowest limb becomes divisible by `2^52`) and drop
//! the lowest limb. Products are split into their low and high 52 bits and added to 64-bit
//! accumulators without propagating carries: an accumulator lives at most 79 rounds and takes
//! at most four values below `2^52` per round, `316 · 2^52 < 2^61`, so it never overflows.
//! Carries are propagated once, at the end ([`normalize`]).
//!
//! **No subtraction per step:** with `a, b < 2n` and `4n < R` the result `(a·b + m·n)/R` is
//! below `2n` again, so values stay below `2n` through the exponentiation and one comparison
//! at the end ([`super::finish`]) gives the canonical result.

use super::limbs::{LIMB_BITS, LIMBS, Limbs, MASK, Modulus};

/// `a·b·R⁻¹` modulo `n`, below `2n` (inputs below `2n`, normalized).
pub fn mont_mul(a: &Limbs, b: &Limbs, m: &Modulus) -> Limbs {
    let n = &m.n;
    let mut t = [0u64; LIMBS];
    for &ai in a.iter() {
        let ai = u128::from(ai);
        let p = ai * u128::from(b[0]);
        let t0 = t[0] + lo(p);
        let q_factor = t0.wrapping_mul(m.k0) & MASK;
        let q = u128::from(q_factor) * u128::from(n[0]);
        let t0 = t0 + lo(q); // divisible by 2^52 now
        let mut cur = t[1] + (t0 >> LIMB_BITS) + hi(p) + hi(q);
        for j in 1..LIMBS {
            let next = if j + 1 < LIMBS { t[j + 1] } else { 0 };
            let p = ai * u128::from(b[j]);
            let q = u128::from(q_factor) * u128::from(n[j]);
            t[j - 1] = cur + lo(p) + lo(q);
            cur = next + hi(p) + hi(q);
        }
        t[LIMBS - 1] = cur;
    }
    normalize(&mut t);
    t
}

/// Low 52 bits of a product.
fn lo(p: u128) -> u64 {
    (p as u64) & MASK
}

/// Bits 52 and up of a product of two 52-bit numbers (below `2^52`).
fn hi(p: u128) -> u64 {
    (p >> LIMB_BITS) as u64
}

/// Propagates the carries of lazy accumulators; the value must fit the 79 limbs.
pub fn normalize(t: &mut Limbs) {
    let mut carry = 0u64;
    for limb in t.iter_mut() {
        let v = *limb + carry;
        *limb = v & MASK;
        carry = v >> LIMB_BITS;
    }
}

/// `s^65537 mod n` for `s < n`, at most `n` (the caller's [`super::canonical`] maps `n` to 0):
/// into Montgomery form with `R²`, 16 squarings and one multiplication for the exponent
/// `2^16 + 1`, and out of it with a multiplication by 1.
pub fn pow65537(s: &Limbs, m: &Modulus) -> Limbs {
    let s_mont = mont_mul(s, &m.r2, m);
    let mut x = s_mont;
    for _ in 0..16 {
        x = mont_mul(&x, &x, m);
    }
    let x = mont_mul(&x, &s_mont, m);
    let mut one = [0u64; LIMBS];
    one[0] = 1;
    mont_mul(&x, &one, m)
}
