//! Every available instruction set against the `blake3` crate: root chunks of every length
//! 0..=1024, non-root chunks at large counters, parent nodes, and partly filled lane groups.

use blake3::hazmat::{HasherExt, Mode, merge_subtrees_non_root, merge_subtrees_root};

use super::*;

/// Deterministic non-zero bytes (an LCG), different for each `seed`.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 56) as u8 | 1
        })
        .collect()
}

fn run_all(isa: Isa, jobs: &[LaneJob<'_>]) -> Vec<[u8; 32]> {
    let mut out = vec![[0u32; 8]; jobs.len()];
    for (jobs, out) in jobs.chunks(isa.lanes()).zip(out.chunks_mut(isa.lanes())) {
        run(isa, jobs, out);
    }
    out.iter().map(cv_bytes).collect()
}

#[test]
fn root_chunks_of_every_length_match_the_crate() {
    let inputs: Vec<Vec<u8>> = (0..=CHUNK_LEN).map(|len| bytes(len, len as u64)).collect();
    for isa in Isa::all_available() {
        // In length order (groups of similar length) and reversed (mixed lengths per group).
        for order in [false, true] {
            let mut idx: Vec<usize> = (0..inputs.len()).collect();
            if order {
                idx.reverse();
                idx.rotate_left(7);
            }
            let jobs: Vec<LaneJob<'_>> = idx
                .iter()
                .map(|&i| LaneJob::root_chunk(&inputs[i]))
                .collect();
            let got = run_all(isa, &jobs);
            for (k, &i) in idx.iter().enumerate() {
                assert_eq!(
                    got[k],
                    *blake3::hash(&inputs[i]).as_bytes(),
                    "{isa:?}, len {i}"
                );
            }
        }
    }
}

#[test]
fn non_root_chunks_and_parents_match_the_crate() {
    let data = bytes(CHUNK_LEN * 40 + 5, 99);
    for isa in Isa::all_available() {
        // Chunk `c` of a long input, at counters past 2^32 too.
        let counters: Vec<u64> = (0..40u64).chain([1 << 32, (1 << 40) + 3]).collect();
        let jobs: Vec<LaneJob<'_>> = counters
            .iter()
            .enumerate()
            .map(|(k, &counter)| LaneJob {
                data: &data[k * CHUNK_LEN % (CHUNK_LEN * 39)..][..CHUNK_LEN - k % 3],
                counter,
                flags: 0,
                flags_start: CHUNK_START,
                flags_end: CHUNK_END,
            })
            .collect();
        let got = run_all(isa, &jobs);
        for (job, cv) in jobs.iter().zip(&got) {
            let mut h = blake3::Hasher::new();
            h.set_input_offset(job.counter * CHUNK_LEN as u64);
            h.update(job.data);
            assert_eq!(
                *cv,
                h.finalize_non_root(),
                "{isa:?}, counter {}",
                job.counter
            );
        }
        // Parent nodes over pairs of those chaining values, non-root and root.
        let blocks: Vec<[u8; 64]> = got
            .windows(2)
            .map(|w| {
                let mut b = [0u8; 64];
                b[..32].copy_from_slice(&w[0]);
                b[32..].copy_from_slice(&w[1]);
                b
            })
            .collect();
        for root in [false, true] {
            let jobs: Vec<LaneJob<'_>> = blocks
                .iter()
                .map(|b| LaneJob {
                    data: b,
                    counter: 0,
                    flags: PARENT,
                    flags_start: 0,
                    flags_end: if root { ROOT } else { 0 },
                })
                .collect();
            let parents = run_all(isa, &jobs);
            for (w, p) in got.windows(2).zip(&parents) {
                let want = if root {
                    *merge_subtrees_root(&w[0], &w[1], Mode::Hash).as_bytes()
                } else {
                    merge_subtrees_non_root(&w[0], &w[1], Mode::Hash)
                };
                assert_eq!(*p, want, "{isa:?}, parent root={root}");
            }
        }
    }
}

#[test]
fn detection_prefers_the_widest() {
    let best = Isa::detect();
    assert!(best.available());
    assert!(
        Isa::all_available()
            .iter()
            .all(|isa| isa.lanes() <= best.lanes())
    );
}
