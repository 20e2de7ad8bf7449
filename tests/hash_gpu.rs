//! The GPU hash engine against the reference crates (`blake3`, `sha2`), on whatever adapter the
//! machine has: in CI that is Mesa lavapipe, a software Vulkan driver on 2 cores, so batches are
//! sized to keep the whole file within a minute or two there.
//!
//! The tests skip, saying why, only when the machine has no adapter at all (under `CI=true`
//! that fails: see `tests/prereq`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod prereq;

use std::sync::OnceLock;
use std::time::Duration;

use aocu::hash::gpu::{GpuError, GpuHasher, GpuOptions};
use aocu::hash::{Algorithm, Digest};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use sha2::Digest as _;

const ALGORITHMS: [Algorithm; 2] = [Algorithm::Blake3, Algorithm::Sha256];

/// Whether any adapter exists (else the test skips, or fails under CI).
fn have_adapter() -> bool {
    prereq::gpu_adapter()
}

/// The hasher with default options, shared by the tests (building pipelines on lavapipe is slow).
fn hasher() -> Option<&'static GpuHasher> {
    static HASHER: OnceLock<GpuHasher> = OnceLock::new();
    if !have_adapter() {
        return None;
    }
    Some(HASHER.get_or_init(|| {
        let h = GpuHasher::new()
            .unwrap_or_else(|e| panic!("an adapter exists but the GPU hasher failed: {e}"));
        eprintln!(
            "GPU hasher on {} ({:?}, software: {})",
            h.adapter_info().name,
            h.adapter_info().backend,
            h.is_software()
        );
        h
    }))
}

/// A second hasher with tiny sub-batches, so that batches cross many sub-batches and both
/// buffer slots, and buffers grow mid-batch.
fn tiny_hasher() -> Option<&'static GpuHasher> {
    static HASHER: OnceLock<GpuHasher> = OnceLock::new();
    if !have_adapter() {
        return None;
    }
    Some(HASHER.get_or_init(|| {
        GpuHasher::with_options(GpuOptions {
            sub_batch_bytes: 4096,
            ..GpuOptions::default()
        })
        .unwrap_or_else(|e| panic!("an adapter exists but the GPU hasher failed: {e}"))
    }))
}

fn reference(alg: Algorithm, input: &[u8]) -> Digest {
    match alg {
        Algorithm::Blake3 => *blake3::hash(input).as_bytes(),
        Algorithm::Sha256 => sha2::Sha256::digest(input).into(),
    }
}

/// Hashes on the GPU and compares every digest with the reference, naming the first mismatch.
fn check(h: &GpuHasher, alg: Algorithm, inputs: &[Vec<u8>], context: &str) {
    let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
    let got = h
        .hash_batch(alg, &refs)
        .unwrap_or_else(|e| panic!("{context}: {alg:?} batch failed: {e}"));
    assert_eq!(got.len(), inputs.len(), "{context}");
    for (i, (input, digest)) in inputs.iter().zip(&got).enumerate() {
        assert_eq!(
            hex::encode(digest),
            hex::encode(reference(alg, input)),
            "{context}: {alg:?} item {i} of {} ({} bytes)",
            inputs.len(),
            input.len()
        );
    }
}

/// Random bytes, never all zero.
fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    if let Some(first) = v.first_mut() {
        *first |= 1;
    }
    v
}

/// A fresh seed, printed so a failure can be replayed with `AOCU_TEST_SEED`.
fn seeded_rng(test: &str) -> StdRng {
    let seed = std::env::var("AOCU_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("{test}: AOCU_TEST_SEED={seed}");
    StdRng::seed_from_u64(seed)
}

#[test]
fn blake3_official_vector_inputs() {
    let Some(h) = hasher() else { return };
    // The lengths of BLAKE3's test_vectors.json, input byte i = i % 251.
    let lens = [
        0, 1, 1023, 1024, 1025, 2048, 2049, 3072, 3073, 4096, 4097, 5120, 5121, 6144, 6145, 7168,
        7169, 8192, 8193, 16384, 31744, 102400,
    ];
    let inputs: Vec<Vec<u8>> = lens
        .iter()
        .map(|&n| (0..n).map(|i| (i % 251) as u8).collect())
        .collect();
    check(h, Algorithm::Blake3, &inputs, "official lengths, one batch");
    // Each alone too: a batch of one multi-chunk message has its own tree only.
    for input in &inputs {
        check(
            h,
            Algorithm::Blake3,
            std::slice::from_ref(input),
            "official lengths, alone",
        );
    }
    let empty = h.hash_batch(Algorithm::Blake3, &[b""]).unwrap();
    assert_eq!(
        hex::encode(empty[0]),
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    );
}

#[test]
fn blake3_tree_shapes_around_chunk_counts() {
    let Some(h) = hasher() else { return };
    let mut rng = seeded_rng("blake3_tree_shapes_around_chunk_counts");
    let mut inputs = Vec::new();
    for chunks in [1usize, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33] {
        for delta in [-65i64, -1, 0, 1, 64, 511] {
            let len = (chunks as i64 * 1024 + delta).max(0) as usize;
            inputs.push(random_bytes(&mut rng, len));
        }
    }
    check(h, Algorithm::Blake3, &inputs, "chunk-count boundaries");
}

#[test]
fn sha256_nist_vectors() {
    let Some(h) = hasher() else { return };
    let vectors: [(&[u8], &str); 4] = [
        (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
        (
            b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
        ),
    ];
    let million_a = vec![b'a'; 1_000_000];
    let mut inputs: Vec<&[u8]> = vectors.iter().map(|(m, _)| *m).collect();
    inputs.push(&million_a);
    let got = h.hash_batch(Algorithm::Sha256, &inputs).unwrap();
    for ((_, want), digest) in vectors.iter().zip(&got) {
        assert_eq!(hex::encode(digest), *want);
    }
    assert_eq!(
        hex::encode(got[4]),
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
        "one million 'a'"
    );
}

#[test]
fn sha256_padding_boundaries() {
    let Some(h) = hasher() else { return };
    let mut rng = seeded_rng("sha256_padding_boundaries");
    // Around the one- and two-block padding limits and the word boundaries inside them.
    let inputs: Vec<Vec<u8>> = (0..=200)
        .chain([447, 448, 449, 511, 512, 513, 1000])
        .map(|n| random_bytes(&mut rng, n))
        .collect();
    check(h, Algorithm::Sha256, &inputs, "padding boundaries");
}

#[test]
fn random_batches_match_the_reference_crates() {
    let Some(h) = hasher() else { return };
    let mut rng = seeded_rng("random_batches_match_the_reference_crates");
    for round in 0..4 {
        let count = rng.random_range(1..400);
        let mut inputs: Vec<Vec<u8>> = (0..count)
            .map(|_| {
                let len = rng.random_range(0..=6 * 1024);
                random_bytes(&mut rng, len)
            })
            .collect();
        if round == 0 {
            // A few multi-MiB inputs among the small ones (SHA-256 takes them 1 MiB per dispatch).
            for _ in 0..2 {
                let len = rng.random_range((2 << 20)..(5 << 20));
                let at = rng.random_range(0..=inputs.len());
                inputs.insert(at, random_bytes(&mut rng, len));
            }
        }
        for alg in ALGORITHMS {
            check(h, alg, &inputs, &format!("round {round}"));
        }
    }
}

#[test]
fn large_batch_of_small_messages_packs_in_parallel_pieces() {
    let Some(h) = hasher() else { return };
    let mut rng = seeded_rng("large_batch_of_small_messages_packs_in_parallel_pieces");
    // About 9 MiB: the host packs it in several pieces, cut at message boundaries.
    let inputs: Vec<Vec<u8>> = (0..3000)
        .map(|_| {
            let len = rng.random_range(0..=6 * 1024);
            random_bytes(&mut rng, len)
        })
        .collect();
    for alg in ALGORITHMS {
        check(h, alg, &inputs, "3000 messages");
    }
}

#[test]
fn the_hasher_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<GpuHasher>();
    let Some(h) = hasher() else { return };
    let mut rng = seeded_rng("the_hasher_can_be_shared_between_threads");
    let batches: Vec<Vec<Vec<u8>>> = (0..4)
        .map(|_| {
            (0..50)
                .map(|_| {
                    let len = rng.random_range(0..=3000);
                    random_bytes(&mut rng, len)
                })
                .collect()
        })
        .collect();
    std::thread::scope(|scope| {
        for (i, batch) in batches.iter().enumerate() {
            scope.spawn(move || check(h, ALGORITHMS[i % 2], batch, &format!("thread {i}")));
        }
    });
}

#[test]
fn many_sub_batches_and_growing_buffers() {
    let Some(h) = tiny_hasher() else { return };
    let mut rng = seeded_rng("many_sub_batches_and_growing_buffers");
    // Small, then large (buffers grow while the other slot is in flight), then small again.
    for (count, max_len) in [(50, 100), (120, 9000), (300, 700)] {
        let inputs: Vec<Vec<u8>> = (0..count)
            .map(|_| {
                let len = rng.random_range(0..=max_len);
                random_bytes(&mut rng, len)
            })
            .collect();
        for alg in ALGORITHMS {
            check(
                h,
                alg,
                &inputs,
                &format!("{count} inputs up to {max_len} bytes"),
            );
        }
    }
}

#[test]
fn no_buffer_is_allocated_after_warm_up() {
    // Its own hasher: the shared ones see other tests' batches concurrently.
    if !have_adapter() {
        return;
    }
    let h = GpuHasher::new().unwrap();
    let mut rng = seeded_rng("no_buffer_is_allocated_after_warm_up");
    // The warm-up batch bounds every later one in every buffer: more messages, more bytes, more
    // chunks and tree levels.
    let warm_up: Vec<Vec<u8>> = (0..400).map(|_| random_bytes(&mut rng, 5000)).collect();
    let mut batch = |count: usize, max_len: usize| -> Vec<Vec<u8>> {
        (0..count)
            .map(|_| {
                let len = rng.random_range(0..=max_len);
                random_bytes(&mut rng, len)
            })
            .collect()
    };
    for alg in ALGORITHMS {
        check(&h, alg, &warm_up, "warm-up");
    }
    let grown = h.buffer_growths();
    assert!(grown > 0, "the first batch must have grown the buffers");
    for round in 0..3 {
        let smaller = batch(300, 4000);
        for alg in ALGORITHMS {
            check(&h, alg, &smaller, &format!("after warm-up, round {round}"));
        }
    }
    assert_eq!(
        h.buffer_growths(),
        grown,
        "buffers were reallocated after warm-up"
    );
}

#[test]
fn resident_batches_hash_repeatedly() {
    let (Some(h), Some(tiny)) = (hasher(), tiny_hasher()) else {
        return;
    };
    let mut rng = seeded_rng("resident_batches_hash_repeatedly");
    let inputs: Vec<Vec<u8>> = (0..100)
        .map(|_| {
            let len = rng.random_range(0..=5000);
            random_bytes(&mut rng, len)
        })
        .collect();
    let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
    for hasher in [h, tiny] {
        let resident = hasher.upload(&refs).unwrap();
        assert_eq!(resident.len(), inputs.len());
        for alg in ALGORITHMS {
            let want: Vec<Digest> = inputs.iter().map(|i| reference(alg, i)).collect();
            for _ in 0..2 {
                assert_eq!(
                    hasher.hash_resident(alg, &resident).unwrap(),
                    want,
                    "{alg:?}"
                );
            }
        }
    }
    let resident = h.upload(&refs).unwrap();
    assert!(matches!(
        tiny.hash_resident(Algorithm::Blake3, &resident),
        Err(GpuError::ForeignBatch)
    ));
}

#[test]
fn empty_batches_and_empty_messages() {
    let Some(h) = hasher() else { return };
    for alg in ALGORITHMS {
        assert!(h.hash_batch(alg, &[]).unwrap().is_empty());
        check(h, alg, &[Vec::new(), Vec::new(), vec![7]], "empty messages");
    }
}

#[test]
fn an_item_too_large_for_the_device_is_named() {
    let Some(h) = hasher() else { return };
    let limits = h.limits();
    let limit = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size)
        .min(1 << 31);
    if limit > 256 << 20 {
        eprintln!(
            "SKIP an_item_too_large: the device binds {limit} bytes, too much to allocate here"
        );
        return;
    }
    let big = vec![1u8; limit as usize + 4];
    let small = [1u8; 10];
    let err = h
        .hash_batch(Algorithm::Blake3, &[&small, &big, &small])
        .unwrap_err();
    match &err {
        GpuError::ItemTooLarge { index, len, .. } => {
            assert_eq!((*index, *len), (1, big.len() as u64))
        }
        other => panic!("unexpected error {other}"),
    }
    assert!(err.to_string().contains("item 1"), "{err}");
    // The hasher still works afterwards.
    check(
        h,
        Algorithm::Sha256,
        &[small.to_vec()],
        "after a rejected batch",
    );
}

#[test]
fn bandwidth_probe_measures_copies() {
    let Some(h) = hasher() else { return };
    let probe = aocu::hash::gpu::BandwidthProbe::new(h, 4 << 20).unwrap();
    assert_eq!(probe.bytes(), 4 << 20);
    assert!(probe.host_to_device(2).unwrap() > Duration::ZERO);
    assert!(probe.device_copy(2).unwrap() > Duration::ZERO);
}
