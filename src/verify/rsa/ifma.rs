//! The AVX-512 IFMA backend: eight signatures at once, one per 64-bit lane of a 512-bit
//! vector, each lane with its own modulus. It is [`super::portable`]'s algorithm written with
//! `vpmadd52luq`/`vpmadd52huq`, which add the low or high 52 bits of a 52×52-bit product to an
//! accumulator lane: exactly the `lo`/`hi` split of the portable code, so the lanes compute
//! the same numbers.
//!
//! Chosen at run time ([`available`]); the `unsafe` is confined to this file: calling a
//! `#[target_feature]` function, sound once the features were detected, and unaligned loads
//! and stores of whole `[u64; 8]` arrays.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m512i, _mm512_add_epi64, _mm512_and_si512, _mm512_loadu_si512, _mm512_madd52hi_epu64,
    _mm512_madd52lo_epu64, _mm512_set1_epi64, _mm512_setzero_si512, _mm512_srli_epi64,
    _mm512_storeu_si512,
};

use super::limbs::{LIMBS, Limbs, MASK, Modulus};

/// Signatures per call.
pub const LANES: usize = 8;

/// Whether this CPU has the instructions (AVX-512 F and IFMA).
pub fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512ifma")
}

/// `s^65537 mod n` (at most `n`, as [`super::portable::pow65537`]) for eight pairs; `None`
/// when the CPU lacks the instructions.
pub fn pow65537(inputs: [(&Limbs, &Modulus); LANES]) -> Option<[Limbs; LANES]> {
    if !available() {
        return None;
    }
    let lanes = Lanes::gather(inputs);
    // SAFETY: `available()` just confirmed AVX-512 F and IFMA on this CPU, the only
    // precondition of a `#[target_feature]` function; its memory accesses are bounds-checked
    // array indexing and unaligned loads/stores of whole `[u64; 8]` arrays.
    Some(unsafe { run(&lanes) })
}

/// The eight lanes' numbers, limb-major: `x[i][lane]`.
struct Lanes {
    s: [[u64; LANES]; LIMBS],
    n: [[u64; LANES]; LIMBS],
    r2: [[u64; LANES]; LIMBS],
    k0: [u64; LANES],
}

impl Lanes {
    fn gather(inputs: [(&Limbs, &Modulus); LANES]) -> Lanes {
        let mut lanes = Lanes {
            s: [[0; LANES]; LIMBS],
            n: [[0; LANES]; LIMBS],
            r2: [[0; LANES]; LIMBS],
            k0: [0; LANES],
        };
        for (lane, (s, m)) in inputs.into_iter().enumerate() {
            for (i, (&s, (&n, &r2))) in s.iter().zip(m.n.iter().zip(&m.r2)).enumerate() {
                lanes.s[i][lane] = s;
                lanes.n[i][lane] = n;
                lanes.r2[i][lane] = r2;
            }
            lanes.k0[lane] = m.k0;
        }
        lanes
    }
}

type Vector = [__m512i; LIMBS];

#[target_feature(enable = "avx512f,avx512ifma")]
fn run(lanes: &Lanes) -> [Limbs; LANES] {
    let s = load(&lanes.s);
    let n = load(&lanes.n);
    let r2 = load(&lanes.r2);
    let k0 = load_lanes(&lanes.k0);
    let s_mont = mont_mul(&s, &r2, &n, k0);
    let mut x = s_mont;
    for _ in 0..16 {
        x = mont_mul(&x, &x, &n, k0);
    }
    let x = mont_mul(&x, &s_mont, &n, k0);
    let mut one = [_mm512_setzero_si512(); LIMBS];
    one[0] = _mm512_set1_epi64(1);
    let x = mont_mul(&x, &one, &n, k0);
    scatter(&x)
}

#[target_feature(enable = "avx512f")]
fn load(x: &[[u64; LANES]; LIMBS]) -> Vector {
    let mut v = [_mm512_setzero_si512(); LIMBS];
    for (dst, src) in v.iter_mut().zip(x) {
        *dst = load_lanes(src);
    }
    v
}

#[target_feature(enable = "avx512f")]
fn load_lanes(x: &[u64; LANES]) -> __m512i {
    // SAFETY: `x` is 64 readable bytes; the load has no alignment requirement.
    unsafe { _mm512_loadu_si512(x.as_ptr().cast()) }
}

#[target_feature(enable = "avx512f")]
fn scatter(v: &Vector) -> [Limbs; LANES] {
    let mut out = [[0u64; LIMBS]; LANES];
    for (i, limb) in v.iter().enumerate() {
        let mut lanes = [0u64; LANES];
        // SAFETY: `lanes` is 64 writable bytes; the store has no alignment requirement.
        unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast(), *limb) };
        for (lane, value) in lanes.into_iter().enumerate() {
            out[lane][i] = value;
        }
    }
    out
}

/// [`super::portable::mont_mul`] in eight lanes.
#[target_feature(enable = "avx512f,avx512ifma")]
fn mont_mul(a: &Vector, b: &Vector, n: &Vector, k0: __m512i) -> Vector {
    let zero = _mm512_setzero_si512();
    let mut t = [zero; LIMBS];
    for &ai in a.iter() {
        let t0 = _mm512_madd52lo_epu64(t[0], ai, b[0]);
        let q = _mm512_madd52lo_epu64(zero, t0, k0);
        let t0 = _mm512_madd52lo_epu64(t0, q, n[0]); // divisible by 2^52 now
        let mut cur = _mm512_add_epi64(t[1], _mm512_srli_epi64::<52>(t0));
        cur = _mm512_madd52hi_epu64(cur, ai, b[0]);
        cur = _mm512_madd52hi_epu64(cur, q, n[0]);
        for j in 1..LIMBS {
            let next = if j + 1 < LIMBS { t[j + 1] } else { zero };
            let low = _mm512_madd52lo_epu64(cur, ai, b[j]);
            t[j - 1] = _mm512_madd52lo_epu64(low, q, n[j]);
            let high = _mm512_madd52hi_epu64(next, ai, b[j]);
            cur = _mm512_madd52hi_epu64(high, q, n[j]);
        }
        t[LIMBS - 1] = cur;
    }
    normalize(&mut t);
    t
}

#[target_feature(enable = "avx512f")]
fn normalize(t: &mut Vector) {
    let mask = _mm512_set1_epi64(MASK as i64);
    let mut carry = _mm512_setzero_si512();
    for limb in t.iter_mut() {
        let v = _mm512_add_epi64(*limb, carry);
        *limb = _mm512_and_si512(v, mask);
        carry = _mm512_srli_epi64::<52>(v);
    }
}
