//! Lane-parallel BLAKE3: one independent chain of compressions per SIMD lane.
//!
//! Hashing a short message with the `blake3` crate compresses one 64-byte block at a time, so
//! only one lane of the vector unit does work. BLAKE3's compression is the same arithmetic for
//! every input, so 8 (AVX2) or 16 (AVX-512) unrelated chains — the chunks of different messages —
//! can run side by side, one per lane, exactly as the crate does for the chunks of one long
//! message. A `LaneJob` is one such chain: the blocks of one chunk (at most 1024 bytes) with
//! its chunk counter and flags, or one parent node (a single 64-byte block). The result of a job
//! is its chaining value; with the `ROOT` flag it is the first 32 bytes of the root output, i.e.
//! the digest of a message of at most one chunk.
//!
//! The arithmetic is written once, generic over a `Vector` of `LANES` 32-bit words; each
//! instruction set supplies the vector operations and the transposition of message blocks into
//! word vectors. The entry points choose the instruction set at run time (like the `blake3`
//! crate), with a portable implementation that any target runs.

mod portable;
#[cfg(target_arch = "x86_64")]
mod x86;

/// BLAKE3's initialization vector (also SHA-256's), the key of the plain hash mode.
pub(crate) const IV: [u32; 8] = [
    0x6A09_E667,
    0xBB67_AE85,
    0x3C6E_F372,
    0xA54F_F53A,
    0x510E_527F,
    0x9B05_688C,
    0x1F83_D9AB,
    0x5BE0_CD19,
];

/// Flag of a chunk's first block.
pub(crate) const CHUNK_START: u32 = 1;
/// Flag of a chunk's last block.
pub(crate) const CHUNK_END: u32 = 2;
/// Flag of a parent node's compression.
pub(crate) const PARENT: u32 = 4;
/// Flag of the root node's compression.
pub(crate) const ROOT: u32 = 8;

/// Bytes in one compression block.
pub(crate) const BLOCK_LEN: usize = 64;
/// Bytes in one chunk (a leaf of the tree).
pub(crate) const CHUNK_LEN: usize = 1024;
/// The most lanes any implementation has (AVX-512: 16 words of 32 bits).
pub(crate) const MAX_LANES: usize = 16;

/// The message word order of each of the seven rounds: the permutation of the BLAKE3
/// specification applied 0..6 times.
const SCHEDULE: [[usize; 16]; 7] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8],
    [3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1],
    [10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6],
    [12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4],
    [9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7],
    [11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13],
];

/// One chain of compressions to run in one lane.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LaneJob<'a> {
    /// The bytes: at most [`CHUNK_LEN`]; the empty input is one empty block.
    pub data: &'a [u8],
    /// The chunk counter (0 for parent nodes).
    pub counter: u64,
    /// Flags on every block (`PARENT`, or 0 for chunks).
    pub flags: u32,
    /// Flags added on the first block (`CHUNK_START` for chunks).
    pub flags_start: u32,
    /// Flags added on the last block (`CHUNK_END` for chunks; `ROOT` for the root node).
    pub flags_end: u32,
}

impl<'a> LaneJob<'a> {
    /// The whole of a message of at most one chunk, as the root: its result is the digest.
    pub(crate) fn root_chunk(data: &'a [u8]) -> LaneJob<'a> {
        LaneJob {
            data,
            counter: 0,
            flags: 0,
            flags_start: CHUNK_START,
            flags_end: CHUNK_END | ROOT,
        }
    }

    /// Blocks this job compresses.
    fn blocks(&self) -> usize {
        self.data.len().div_ceil(BLOCK_LEN).max(1)
    }
}

/// The vector instruction sets with a lane-parallel implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isa {
    /// Plain Rust on 8 lanes of arrays (the compiler vectorizes what it can); every target.
    Portable,
    /// AVX2: 8 lanes.
    Avx2,
    /// AVX-512F: 16 lanes.
    Avx512,
}

impl Isa {
    /// The best instruction set this CPU has.
    pub fn detect() -> Isa {
        [Isa::Avx512, Isa::Avx2]
            .into_iter()
            .find(|isa| isa.available())
            .unwrap_or(Isa::Portable)
    }

    /// Whether this CPU can run the implementation.
    pub fn available(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx2 | Isa::Avx512 => false,
        }
    }

    /// How many jobs run side by side.
    pub fn lanes(self) -> usize {
        match self {
            Isa::Portable | Isa::Avx2 => 8,
            Isa::Avx512 => 16,
        }
    }

    /// Every instruction set this CPU can run, portable first.
    pub fn all_available() -> Vec<Isa> {
        [Isa::Portable, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|isa| isa.available())
            .collect()
    }
}

/// Runs up to `isa.lanes()` jobs side by side, writing each job's chaining value into `out`
/// (same index), as little-endian words.
///
/// # Panics
/// When `isa` is not available on this CPU, when there are more jobs than lanes, when `out` is
/// shorter than `jobs`, or when a job holds more than one chunk: all are bugs of the caller,
/// never consequences of input data.
pub(crate) fn run(isa: Isa, jobs: &[LaneJob<'_>], out: &mut [[u32; 8]]) {
    assert!(isa.available(), "{isa:?} is not available on this CPU");
    assert!(jobs.len() <= isa.lanes() && out.len() >= jobs.len());
    assert!(jobs.iter().all(|j| j.data.len() <= CHUNK_LEN));
    match isa {
        Isa::Portable => portable::run(jobs, out),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            // SAFETY: `isa.available()` was asserted above: the CPU has AVX2, the only
            // requirement of `x86::run_avx2`.
            unsafe { x86::run_avx2(jobs, out) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            // SAFETY: as above, the CPU has AVX-512F, the only requirement of `run_avx512`.
            unsafe { x86::run_avx512(jobs, out) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Isa::Avx2 | Isa::Avx512 => unreachable!("not available off x86_64"),
    }
}

/// The 32-byte form of a chaining value.
pub(crate) fn cv_bytes(cv: &[u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (dst, word) in out.chunks_exact_mut(4).zip(cv) {
        dst.copy_from_slice(&word.to_le_bytes());
    }
    out
}

/// `LANES` 32-bit words, one per lane, and the operations BLAKE3's compression needs.
///
/// The methods are `unsafe` because an implementation may use instructions the CPU must have:
/// callers guarantee that (each implementation says which).
pub(crate) trait Vector: Copy {
    /// Lanes in one vector (at most [`MAX_LANES`]).
    const LANES: usize;
    /// Every lane `x`.
    unsafe fn splat(x: u32) -> Self;
    /// Lane `i` from `src[i]`, `i < LANES` (`src` has at least `LANES` words).
    unsafe fn load(src: &[u32; MAX_LANES]) -> Self;
    /// Lane `i` into `dst[i]`, `i < LANES`.
    unsafe fn store(self, dst: &mut [u32; MAX_LANES]);
    /// Lane-wise wrapping addition.
    unsafe fn add(self, other: Self) -> Self;
    /// Lane-wise exclusive or.
    unsafe fn xor(self, other: Self) -> Self;
    /// Lane-wise rotation right by 16 bits.
    unsafe fn ror16(self) -> Self;
    /// Lane-wise rotation right by 12 bits.
    unsafe fn ror12(self) -> Self;
    /// Lane-wise rotation right by 8 bits.
    unsafe fn ror8(self) -> Self;
    /// Lane-wise rotation right by 7 bits.
    unsafe fn ror7(self) -> Self;
    /// Message word `w` of every lane: vector `w` holds word `w` of `blocks[lane]` (little-endian).
    /// `blocks` has at least `LANES` entries.
    unsafe fn load_transposed(blocks: &[&[u8; BLOCK_LEN]; MAX_LANES]) -> [Self; 16];
}

/// The quarter-round G on columns or diagonals of the state.
#[inline(always)]
unsafe fn g<V: Vector>(v: &mut [V; 16], a: usize, b: usize, c: usize, d: usize, x: V, y: V) {
    // SAFETY: the caller guarantees the CPU features `V` needs (see `Vector`).
    unsafe {
        v[a] = v[a].add(v[b]).add(x);
        v[d] = v[d].xor(v[a]).ror16();
        v[c] = v[c].add(v[d]);
        v[b] = v[b].xor(v[c]).ror12();
        v[a] = v[a].add(v[b]).add(y);
        v[d] = v[d].xor(v[a]).ror8();
        v[c] = v[c].add(v[d]);
        v[b] = v[b].xor(v[c]).ror7();
    }
}

/// One of the seven rounds, with the message words in round `r`'s order.
#[inline(always)]
unsafe fn round<V: Vector>(v: &mut [V; 16], m: &[V; 16], r: usize) {
    let s = &SCHEDULE[r];
    // SAFETY: the caller guarantees the CPU features `V` needs.
    unsafe {
        g(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
        g(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
        g(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
        g(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
        g(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
        g(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
        g(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
        g(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
}

/// The compression function in every lane: the new chaining values (the first half of the
/// output, which is also the first 32 bytes of a root output block with counter 0).
#[inline(always)]
unsafe fn compress<V: Vector>(
    cv: &[V; 8],
    m: &[V; 16],
    counter: [V; 2],
    len: V,
    flags: V,
) -> [V; 8] {
    // SAFETY: the caller guarantees the CPU features `V` needs.
    unsafe {
        let mut v = [
            cv[0],
            cv[1],
            cv[2],
            cv[3],
            cv[4],
            cv[5],
            cv[6],
            cv[7],
            V::splat(IV[0]),
            V::splat(IV[1]),
            V::splat(IV[2]),
            V::splat(IV[3]),
            counter[0],
            counter[1],
            len,
            flags,
        ];
        round(&mut v, m, 0);
        round(&mut v, m, 1);
        round(&mut v, m, 2);
        round(&mut v, m, 3);
        round(&mut v, m, 4);
        round(&mut v, m, 5);
        round(&mut v, m, 6);
        [
            v[0].xor(v[8]),
            v[1].xor(v[9]),
            v[2].xor(v[10]),
            v[3].xor(v[11]),
            v[4].xor(v[12]),
            v[5].xor(v[13]),
            v[6].xor(v[14]),
            v[7].xor(v[15]),
        ]
    }
}

/// The lane-parallel driver, generic over the vector type: lanes step through their blocks
/// together; a lane whose job has fewer blocks than the longest compresses a zero block that
/// nobody reads (callers group jobs of similar length to keep that waste small).
///
/// Preconditions (checked by [`run`]): `jobs.len() <= V::LANES`, `out.len() >= jobs.len()`,
/// every job at most one chunk, and the CPU has what `V` needs.
#[inline(always)]
unsafe fn run_generic<V: Vector>(jobs: &[LaneJob<'_>], out: &mut [[u32; 8]]) {
    const ZERO: [u8; BLOCK_LEN] = [0; BLOCK_LEN];
    debug_assert!(jobs.len() <= V::LANES);
    let mut blocks = [0usize; MAX_LANES];
    let mut counter_lo = [0u32; MAX_LANES];
    let mut counter_hi = [0u32; MAX_LANES];
    for (i, job) in jobs.iter().enumerate() {
        blocks[i] = job.blocks();
        counter_lo[i] = job.counter as u32;
        counter_hi[i] = (job.counter >> 32) as u32;
    }
    let steps = blocks.iter().copied().max().unwrap_or(0);
    // SAFETY (for every vector operation below): the caller guarantees the CPU features `V`
    // needs; all other accesses are bounds-checked slices and arrays.
    // SAFETY: as said above.
    let counter = unsafe { [V::load(&counter_lo), V::load(&counter_hi)] };
    // SAFETY: as said above.
    let mut cv: [V; 8] = unsafe { IV.map(|w| V::splat(w)) };
    // Zero-padded copies of partial last blocks, one per lane.
    let mut pads = [[0u8; BLOCK_LEN]; MAX_LANES];
    let mut words = [[0u32; MAX_LANES]; 8];
    for step in 0..steps {
        let mut lens = [0u32; MAX_LANES];
        let mut flags = [0u32; MAX_LANES];
        let mut finishing = false;
        for (i, job) in jobs.iter().enumerate() {
            if step >= blocks[i] {
                continue;
            }
            let rest = job.data.get(step * BLOCK_LEN..).unwrap_or_default();
            let len = rest.len().min(BLOCK_LEN);
            if len < BLOCK_LEN {
                pads[i] = ZERO;
                pads[i][..len].copy_from_slice(&rest[..len]);
            }
            lens[i] = len as u32;
            flags[i] = job.flags
                | if step == 0 { job.flags_start } else { 0 }
                | if step + 1 == blocks[i] {
                    finishing = true;
                    job.flags_end
                } else {
                    0
                };
        }
        let mut ptrs: [&[u8; BLOCK_LEN]; MAX_LANES] = [&ZERO; MAX_LANES];
        for (i, job) in jobs.iter().enumerate() {
            if step >= blocks[i] {
                continue;
            }
            ptrs[i] = match job
                .data
                .get(step * BLOCK_LEN..)
                .and_then(|r| r.first_chunk())
            {
                Some(full) => full,
                None => &pads[i],
            };
        }
        // SAFETY: as said above; every pointer in `ptrs` is a whole block (a full one or a pad).
        unsafe {
            let m = V::load_transposed(&ptrs);
            cv = compress(&cv, &m, counter, V::load(&lens), V::load(&flags));
        }
        if finishing {
            for (k, vector) in cv.iter().enumerate() {
                // SAFETY: as said above.
                unsafe { vector.store(&mut words[k]) };
            }
            for (i, cv_out) in out.iter_mut().enumerate().take(jobs.len()) {
                if step + 1 == blocks[i] {
                    *cv_out = std::array::from_fn(|k| words[k][i]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
