//! The portable lanes: 8 words in a plain array. Every operation is a loop the compiler may
//! vectorize with whatever the target has (SSE2 on any x86_64, NEON on aarch64).

use super::{BLOCK_LEN, LaneJob, MAX_LANES, Vector};

/// Eight lanes in an array.
#[derive(Debug, Clone, Copy)]
pub(super) struct Lanes8([u32; 8]);

impl Lanes8 {
    #[inline(always)]
    fn map2(self, other: Self, f: impl Fn(u32, u32) -> u32) -> Self {
        Lanes8(std::array::from_fn(|i| f(self.0[i], other.0[i])))
    }

    #[inline(always)]
    fn map(self, f: impl Fn(u32) -> u32) -> Self {
        Lanes8(self.0.map(f))
    }
}

// Nothing here needs a CPU feature: the methods are `unsafe` only because the trait says so.
impl Vector for Lanes8 {
    const LANES: usize = 8;

    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        Lanes8([x; 8])
    }

    #[inline(always)]
    unsafe fn load(src: &[u32; MAX_LANES]) -> Self {
        Lanes8(std::array::from_fn(|i| src[i]))
    }

    #[inline(always)]
    unsafe fn store(self, dst: &mut [u32; MAX_LANES]) {
        dst[..8].copy_from_slice(&self.0);
    }

    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        self.map2(other, u32::wrapping_add)
    }

    #[inline(always)]
    unsafe fn xor(self, other: Self) -> Self {
        self.map2(other, |a, b| a ^ b)
    }

    #[inline(always)]
    unsafe fn ror16(self) -> Self {
        self.map(|x| x.rotate_right(16))
    }

    #[inline(always)]
    unsafe fn ror12(self) -> Self {
        self.map(|x| x.rotate_right(12))
    }

    #[inline(always)]
    unsafe fn ror8(self) -> Self {
        self.map(|x| x.rotate_right(8))
    }

    #[inline(always)]
    unsafe fn ror7(self) -> Self {
        self.map(|x| x.rotate_right(7))
    }

    #[inline(always)]
    unsafe fn load_transposed(blocks: &[&[u8; BLOCK_LEN]; MAX_LANES]) -> [Self; 16] {
        std::array::from_fn(|w| {
            Lanes8(std::array::from_fn(|lane| {
                let b = &blocks[lane][4 * w..4 * w + 4];
                u32::from_le_bytes([b[0], b[1], b[2], b[3]])
            }))
        })
    }
}

/// Runs up to 8 jobs side by side (preconditions as [`super::run`]).
pub(super) fn run(jobs: &[LaneJob<'_>], out: &mut [[u32; 8]]) {
    // SAFETY: `Lanes8` needs no CPU feature; `super::run` checked the other preconditions.
    unsafe { super::run_generic::<Lanes8>(jobs, out) }
}
