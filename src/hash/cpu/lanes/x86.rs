//! The x86_64 lanes: AVX2 (8 lanes of a 256-bit register) and AVX-512F (16 lanes of 512 bits).
//!
//! Soundness: every method of these `Vector` implementations executes AVX2 (respectively
//! AVX-512F) instructions and is reachable only through `run_avx2` / `run_avx512`, which are
//! `#[target_feature]` functions that `super::run` calls only after runtime detection showed the
//! feature. Memory is touched only through references to arrays whose sizes match the loads and
//! stores exactly (64-byte blocks, 16-word arrays), with unaligned load/store instructions.

use std::arch::x86_64::*;

use super::{BLOCK_LEN, LaneJob, MAX_LANES, Vector};

/// Eight lanes in an AVX2 register.
#[derive(Clone, Copy)]
pub(super) struct Avx2(__m256i);

impl Vector for Avx2 {
    const LANES: usize = 8;

    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        // SAFETY: AVX2 is present (module doc).
        unsafe { Avx2(_mm256_set1_epi32(x as i32)) }
    }

    #[inline(always)]
    unsafe fn load(src: &[u32; MAX_LANES]) -> Self {
        // SAFETY: AVX2 is present; reads 32 bytes from a 64-byte array.
        unsafe { Avx2(_mm256_loadu_si256(src.as_ptr().cast())) }
    }

    #[inline(always)]
    unsafe fn store(self, dst: &mut [u32; MAX_LANES]) {
        // SAFETY: AVX2 is present; writes 32 bytes into a 64-byte array.
        unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), self.0) }
    }

    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        // SAFETY: AVX2 is present.
        unsafe { Avx2(_mm256_add_epi32(self.0, other.0)) }
    }

    #[inline(always)]
    unsafe fn xor(self, other: Self) -> Self {
        // SAFETY: AVX2 is present.
        unsafe { Avx2(_mm256_xor_si256(self.0, other.0)) }
    }

    #[inline(always)]
    unsafe fn ror16(self) -> Self {
        // SAFETY: AVX2 is present. A byte shuffle within each word: bytes [2, 3, 0, 1].
        unsafe {
            let m = _mm256_setr_epi8(
                2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10,
                11, 8, 9, 14, 15, 12, 13,
            );
            Avx2(_mm256_shuffle_epi8(self.0, m))
        }
    }

    #[inline(always)]
    unsafe fn ror12(self) -> Self {
        // SAFETY: AVX2 is present.
        unsafe {
            Avx2(_mm256_or_si256(
                _mm256_srli_epi32::<12>(self.0),
                _mm256_slli_epi32::<20>(self.0),
            ))
        }
    }

    #[inline(always)]
    unsafe fn ror8(self) -> Self {
        // SAFETY: AVX2 is present. A byte shuffle within each word: bytes [1, 2, 3, 0].
        unsafe {
            let m = _mm256_setr_epi8(
                1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12, 1, 2, 3, 0, 5, 6, 7, 4, 9,
                10, 11, 8, 13, 14, 15, 12,
            );
            Avx2(_mm256_shuffle_epi8(self.0, m))
        }
    }

    #[inline(always)]
    unsafe fn ror7(self) -> Self {
        // SAFETY: AVX2 is present.
        unsafe {
            Avx2(_mm256_or_si256(
                _mm256_srli_epi32::<7>(self.0),
                _mm256_slli_epi32::<25>(self.0),
            ))
        }
    }

    #[inline(always)]
    unsafe fn load_transposed(blocks: &[&[u8; BLOCK_LEN]; MAX_LANES]) -> [Self; 16] {
        // SAFETY: AVX2 is present; each block is 64 bytes, read as two 32-byte halves.
        unsafe {
            let lo: [__m256i; 8] =
                std::array::from_fn(|l| _mm256_loadu_si256(blocks[l].as_ptr().cast()));
            let hi: [__m256i; 8] =
                std::array::from_fn(|l| _mm256_loadu_si256(blocks[l].as_ptr().add(32).cast()));
            let lo = transpose8(lo);
            let hi = transpose8(hi);
            std::array::from_fn(|w| Avx2(if w < 8 { lo[w] } else { hi[w - 8] }))
        }
    }
}

/// Transposes an 8x8 matrix of words: row `l` (lane `l`'s words) becomes column `l`.
#[inline(always)]
unsafe fn transpose8(r: [__m256i; 8]) -> [__m256i; 8] {
    // SAFETY: AVX2 is present (module doc); register operations only.
    unsafe {
        // Interleave words, then word pairs: in `b[j]`, 128-bit half `k` holds word 4k+j of
        // rows 0..4, and in `b[4 + j]` of rows 4..8.
        let a: [__m256i; 8] = std::array::from_fn(|i| {
            let (x, y) = (r[i & !1], r[i | 1]);
            if i % 2 == 0 {
                _mm256_unpacklo_epi32(x, y)
            } else {
                _mm256_unpackhi_epi32(x, y)
            }
        });
        let b: [__m256i; 8] = std::array::from_fn(|i| {
            let base = (i / 4) * 4;
            let (x, y) = (a[base + (i % 4) / 2], a[base + 2 + (i % 4) / 2]);
            if i % 2 == 0 {
                _mm256_unpacklo_epi64(x, y)
            } else {
                _mm256_unpackhi_epi64(x, y)
            }
        });
        std::array::from_fn(|w| {
            let (j, k) = (w % 4, w / 4);
            if k == 0 {
                _mm256_permute2x128_si256::<0x20>(b[j], b[4 + j])
            } else {
                _mm256_permute2x128_si256::<0x31>(b[j], b[4 + j])
            }
        })
    }
}

/// Sixteen lanes in an AVX-512 register.
#[derive(Clone, Copy)]
pub(super) struct Avx512(__m512i);

impl Vector for Avx512 {
    const LANES: usize = 16;

    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        // SAFETY: AVX-512F is present (module doc).
        unsafe { Avx512(_mm512_set1_epi32(x as i32)) }
    }

    #[inline(always)]
    unsafe fn load(src: &[u32; MAX_LANES]) -> Self {
        // SAFETY: AVX-512F is present; reads exactly the 64-byte array.
        unsafe { Avx512(_mm512_loadu_si512(src.as_ptr().cast())) }
    }

    #[inline(always)]
    unsafe fn store(self, dst: &mut [u32; MAX_LANES]) {
        // SAFETY: AVX-512F is present; writes exactly the 64-byte array.
        unsafe { _mm512_storeu_si512(dst.as_mut_ptr().cast(), self.0) }
    }

    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        // SAFETY: AVX-512F is present.
        unsafe { Avx512(_mm512_add_epi32(self.0, other.0)) }
    }

    #[inline(always)]
    unsafe fn xor(self, other: Self) -> Self {
        // SAFETY: AVX-512F is present.
        unsafe { Avx512(_mm512_xor_si512(self.0, other.0)) }
    }

    #[inline(always)]
    unsafe fn ror16(self) -> Self {
        // SAFETY: AVX-512F is present.
        unsafe { Avx512(_mm512_ror_epi32::<16>(self.0)) }
    }

    #[inline(always)]
    unsafe fn ror12(self) -> Self {
        // SAFETY: AVX-512F is present.
        unsafe { Avx512(_mm512_ror_epi32::<12>(self.0)) }
    }

    #[inline(always)]
    unsafe fn ror8(self) -> Self {
        // SAFETY: AVX-512F is present.
        unsafe { Avx512(_mm512_ror_epi32::<8>(self.0)) }
    }

    #[inline(always)]
    unsafe fn ror7(self) -> Self {
        // SAFETY: AVX-512F is present.
        unsafe { Avx512(_mm512_ror_epi32::<7>(self.0)) }
    }

    #[inline(always)]
    unsafe fn load_transposed(blocks: &[&[u8; BLOCK_LEN]; MAX_LANES]) -> [Self; 16] {
        // SAFETY: AVX-512F is present; each 64-byte block is read with one 64-byte load.
        unsafe {
            let r: [__m512i; 16] =
                std::array::from_fn(|l| _mm512_loadu_si512(blocks[l].as_ptr().cast()));
            // Interleave words, then word pairs: afterwards 128-bit quarter `k` of `b[4q + j]`
            // holds word 4k+j of rows 4q..4q+4.
            let a: [__m512i; 16] = std::array::from_fn(|i| {
                let (x, y) = (r[i & !1], r[i | 1]);
                if i % 2 == 0 {
                    _mm512_unpacklo_epi32(x, y)
                } else {
                    _mm512_unpackhi_epi32(x, y)
                }
            });
            let b: [__m512i; 16] = std::array::from_fn(|i| {
                let base = (i / 4) * 4;
                let (x, y) = (a[base + (i % 4) / 2], a[base + 2 + (i % 4) / 2]);
                if i % 2 == 0 {
                    _mm512_unpacklo_epi64(x, y)
                } else {
                    _mm512_unpackhi_epi64(x, y)
                }
            });
            // Gather quarter `k` of b[j], b[4+j], b[8+j], b[12+j] into word 4k+j.
            let mut out = [Avx512(_mm512_setzero_si512()); 16];
            for j in 0..4 {
                let (x, y, z, u) = (b[j], b[4 + j], b[8 + j], b[12 + j]);
                let c0 = _mm512_shuffle_i32x4::<0b01_00_01_00>(x, y);
                let c1 = _mm512_shuffle_i32x4::<0b11_10_11_10>(x, y);
                let c2 = _mm512_shuffle_i32x4::<0b01_00_01_00>(z, u);
                let c3 = _mm512_shuffle_i32x4::<0b11_10_11_10>(z, u);
                out[j] = Avx512(_mm512_shuffle_i32x4::<0b10_00_10_00>(c0, c2));
                out[4 + j] = Avx512(_mm512_shuffle_i32x4::<0b11_01_11_01>(c0, c2));
                out[8 + j] = Avx512(_mm512_shuffle_i32x4::<0b10_00_10_00>(c1, c3));
                out[12 + j] = Avx512(_mm512_shuffle_i32x4::<0b11_01_11_01>(c1, c3));
            }
            out
        }
    }
}

/// Runs up to 8 jobs side by side in AVX2 registers.
///
/// # Safety
/// The CPU must have AVX2; the other preconditions are those of [`super::run`].
#[target_feature(enable = "avx2")]
pub(super) unsafe fn run_avx2(jobs: &[LaneJob<'_>], out: &mut [[u32; 8]]) {
    // SAFETY: AVX2 is present (this function's contract).
    unsafe { super::run_generic::<Avx2>(jobs, out) }
}

/// Runs up to 16 jobs side by side in AVX-512 registers.
///
/// # Safety
/// The CPU must have AVX-512F; the other preconditions are those of [`super::run`].
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn run_avx512(jobs: &[LaneJob<'_>], out: &mut [[u32; 8]]) {
    // SAFETY: AVX-512F is present (this function's contract).
    unsafe { super::run_generic::<Avx512>(jobs, out) }
}
