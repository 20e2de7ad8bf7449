//! The hash API on both engines: official BLAKE3 test vectors, NIST SHA-256 vectors, random
//! batches against the reference crates, verification, hash chains and Merkle roots.
//!
//! The GPU half runs on whatever adapter exists (Mesa lavapipe in CI) and skips, saying why,
//! only when there is no adapter at all (under `CI=true` that fails: see `tests/prereq`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod prereq;

use std::sync::OnceLock;
use std::time::Duration;

use aocu::ao::Id;
use aocu::hash::cpu::lanes::Isa;
use aocu::hash::gpu::GpuHasher;
use aocu::hash::{Algorithm, ChainLink, CpuEngine, Digest, Engine, Hasher};
use aocu::sched::chain::{first_link, next_link};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use sha2::Digest as _;

/// The official BLAKE3 test vectors (BLAKE3-team/BLAKE3, `test_vectors/test_vectors.json`):
/// input length, first 32 bytes of the `hash` output. Inputs repeat the bytes 0, 1, ..., 250.
const BLAKE3_VECTORS: &[(usize, &str)] = &[
    (
        0,
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
    ),
    (
        1,
        "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213",
    ),
    (
        1023,
        "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11",
    ),
    (
        1024,
        "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7",
    ),
    (
        1025,
        "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444",
    ),
    (
        2048,
        "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a",
    ),
    (
        2049,
        "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030",
    ),
    (
        3072,
        "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2",
    ),
    (
        3073,
        "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3",
    ),
    (
        4096,
        "015094013f57a5277b59d8475c0501042c0b642e531b0a1c8f58d2163229e969",
    ),
    (
        4097,
        "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995",
    ),
    (
        5120,
        "9cadc15fed8b5d854562b26a9536d9707cadeda9b143978f319ab34230535833",
    ),
    (
        5121,
        "628bd2cb2004694adaab7bbd778a25df25c47b9d4155a55f8fbd79f2fe154cff",
    ),
    (
        6144,
        "3e2e5b74e048f3add6d21faab3f83aa44d3b2278afb83b80b3c35164ebeca205",
    ),
    (
        6145,
        "f1323a8631446cc50536a9f705ee5cb619424d46887f3c376c695b70e0f0507f",
    ),
    (
        7168,
        "61da957ec2499a95d6b8023e2b0e604ec7f6b50e80a9678b89d2628e99ada77a",
    ),
    (
        7169,
        "a003fc7a51754a9b3c7fae0367ab3d782dccf28855a03d435f8cfe74605e7817",
    ),
    (
        8192,
        "aae792484c8efe4f19e2ca7d371d8c467ffb10748d8a5a1ae579948f718a2a63",
    ),
    (
        8193,
        "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b",
    ),
    (
        16384,
        "f875d6646de28985646f34ee13be9a576fd515f76b5b0a26bb324735041ddde4",
    ),
    (
        31744,
        "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47",
    ),
    (
        102400,
        "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085",
    ),
];

/// NIST SHA-256 examples (FIPS 180-2 appendix B and the CAVP short messages).
const SHA256_VECTORS: &[(&str, &str)] = &[
    (
        "",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    (
        "abc",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ),
    (
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ),
    (
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
    ),
];

/// FIPS 180-2: one million repetitions of `a`.
const SHA256_MILLION_A: &str = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

/// Every CPU engine configuration this machine can run: each lane implementation, and the
/// crate-per-message path.
fn cpu_engines() -> Vec<CpuEngine> {
    let mut engines: Vec<CpuEngine> = Isa::all_available()
        .into_iter()
        .filter_map(|isa| CpuEngine::with_isa(Some(isa)))
        .flat_map(|e| [e, e.with_lane_trees(aocu::hash::cpu::LANE_TREE_MAX)])
        .collect();
    engines.extend(CpuEngine::with_isa(None));
    engines
}

/// The GPU hasher (any adapter, lavapipe included), or `None` with a printed reason when the
/// machine has no adapter at all.
fn gpu() -> Option<&'static Hasher> {
    static GPU: OnceLock<Hasher> = OnceLock::new();
    if !prereq::gpu_adapter() {
        return None;
    }
    Some(GPU.get_or_init(|| {
        let gpu = GpuHasher::new()
            .unwrap_or_else(|e| panic!("an adapter exists but the GPU hasher failed: {e}"));
        eprintln!(
            "GPU half on {} ({:?}, software: {})",
            gpu.adapter_info().name,
            gpu.adapter_info().backend,
            gpu.is_software()
        );
        Hasher::with_gpu(Engine::Gpu, gpu, None)
    }))
}

fn reference(alg: Algorithm, input: &[u8]) -> Digest {
    match alg {
        Algorithm::Blake3 => *blake3::hash(input).as_bytes(),
        Algorithm::Sha256 => sha2::Sha256::digest(input).into(),
    }
}

/// Hashes `inputs` on every CPU configuration and the GPU; each must equal `want`.
fn check_all(alg: Algorithm, inputs: &[&[u8]], want: &[Digest], context: &str) {
    for engine in cpu_engines() {
        let got = engine.hash(alg, inputs);
        compare(&got, want, &format!("{context}: CPU {engine:?}"));
    }
    let cpu = Hasher::cpu().hash_batch(alg, inputs).expect("CPU batch");
    compare(&cpu, want, &format!("{context}: Hasher::cpu"));
    if let Some(gpu) = gpu() {
        let got = gpu
            .hash_batch(alg, inputs)
            .unwrap_or_else(|e| panic!("{context}: GPU batch failed: {e}"));
        compare(&got, want, &format!("{context}: GPU"));
    }
}

fn compare(got: &[Digest], want: &[Digest], context: &str) {
    assert_eq!(got.len(), want.len(), "{context}: digest count");
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        panic!(
            "{context}: item {i}: got {} want {}",
            hex::encode(got[i]),
            hex::encode(want[i])
        );
    }
}

fn digest(hex_text: &str) -> Digest {
    let mut d = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut d).expect("vector hex");
    d
}

#[test]
fn official_blake3_vectors_on_both_engines() {
    let inputs: Vec<Vec<u8>> = BLAKE3_VECTORS
        .iter()
        .map(|&(len, _)| (0..len).map(|i| (i % 251) as u8).collect())
        .collect();
    let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
    let want: Vec<Digest> = BLAKE3_VECTORS.iter().map(|&(_, h)| digest(h)).collect();
    // The embedded data agrees with the crate, so a failure below is the engine's.
    for (input, w) in refs.iter().zip(&want) {
        assert_eq!(
            blake3::hash(input).as_bytes(),
            w,
            "vector data, len {}",
            input.len()
        );
    }
    check_all(Algorithm::Blake3, &refs, &want, "BLAKE3 vectors");
    // Each vector alone, and the batch reversed (other lane groupings).
    for (input, w) in refs.iter().zip(&want) {
        check_all(Algorithm::Blake3, &[input], &[*w], "BLAKE3 vector alone");
    }
    let rev_in: Vec<&[u8]> = refs.iter().rev().copied().collect();
    let rev_want: Vec<Digest> = want.iter().rev().copied().collect();
    check_all(
        Algorithm::Blake3,
        &rev_in,
        &rev_want,
        "BLAKE3 vectors reversed",
    );
}

#[test]
fn nist_sha256_vectors_on_both_engines() {
    let million = vec![b'a'; 1_000_000];
    let mut refs: Vec<&[u8]> = SHA256_VECTORS.iter().map(|(m, _)| m.as_bytes()).collect();
    refs.push(&million);
    let mut want: Vec<Digest> = SHA256_VECTORS.iter().map(|(_, h)| digest(h)).collect();
    want.push(digest(SHA256_MILLION_A));
    check_all(Algorithm::Sha256, &refs, &want, "SHA-256 vectors");
}

/// A random batch: random count, lengths from 0 to several chunks (most around the one-chunk
/// boundary and block boundaries), a few multi-MiB inputs when `large`; random bytes.
fn random_batch(rng: &mut StdRng, large: bool) -> Vec<Vec<u8>> {
    let count = rng.random_range(1..400);
    let mut batch: Vec<Vec<u8>> = (0..count)
        .map(|_| {
            let len = match rng.random_range(0..4) {
                0 => rng.random_range(0..=128),
                1 => rng.random_range(900..=1100),
                2 => rng.random_range(0..=1024),
                _ => rng.random_range(0..=6 * 1024),
            };
            let mut v = vec![0u8; len];
            rng.fill_bytes(&mut v);
            v
        })
        .collect();
    if large {
        for _ in 0..2 {
            let mut v = vec![0u8; rng.random_range((1 << 20)..(3 << 20))];
            rng.fill_bytes(&mut v);
            let at = rng.random_range(0..=batch.len());
            batch.insert(at, v);
        }
    }
    batch
}

#[test]
fn random_batches_match_the_reference_crates_on_both_engines() {
    let seed: u64 = rand::rng().random();
    eprintln!("random batch seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    for round in 0..4 {
        let batch = random_batch(&mut rng, round == 0);
        let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        for alg in [Algorithm::Blake3, Algorithm::Sha256] {
            let want: Vec<Digest> = refs.iter().map(|i| reference(alg, i)).collect();
            check_all(
                alg,
                &refs,
                &want,
                &format!("seed {seed} round {round} {alg:?}"),
            );
        }
    }
}

/// Batches of short messages in block-count order (a batch of one size, or sorted lengths)
/// take the engine's in-place path: same digests as the reference crates.
#[test]
fn short_batches_in_block_order_match_the_reference_crates() {
    let seed: u64 = rand::rng().random();
    eprintln!("short batch seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut batches: Vec<Vec<Vec<u8>>> = Vec::new();
    for len in [64usize, 1024, rng.random_range(1..=1024)] {
        let count = rng.random_range(1..600);
        batches.push((0..count).map(|_| random_bytes(&mut rng, len)).collect());
    }
    let mut lens: Vec<usize> = (0..rng.random_range(2..500))
        .map(|_| rng.random_range(0..=1024))
        .collect();
    lens.sort_unstable();
    batches.push(lens.iter().map(|&l| random_bytes(&mut rng, l)).collect());
    for (b, batch) in batches.iter().enumerate() {
        let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        let want: Vec<Digest> = refs
            .iter()
            .map(|i| reference(Algorithm::Blake3, i))
            .collect();
        check_all(
            Algorithm::Blake3,
            &refs,
            &want,
            &format!("seed {seed} batch {b}"),
        );
    }
}

fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

#[test]
fn empty_batches_and_empty_messages() {
    for alg in [Algorithm::Blake3, Algorithm::Sha256] {
        check_all(alg, &[], &[], "empty batch");
        let empties: Vec<&[u8]> = vec![&[]; 33];
        let want = vec![reference(alg, &[]); 33];
        check_all(alg, &empties, &want, "empty messages");
    }
}

#[test]
fn verify_batch_flags_exactly_the_wrong_items() {
    let mut rng = StdRng::seed_from_u64(rand::rng().random());
    let batch = random_batch(&mut rng, false);
    let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
    for alg in [Algorithm::Blake3, Algorithm::Sha256] {
        let mut expected: Vec<Digest> = refs.iter().map(|i| reference(alg, i)).collect();
        let bad: Vec<usize> = (0..expected.len()).filter(|i| i % 7 == 3).collect();
        for &i in &bad {
            expected[i][rng.random_range(0..32)] ^= 1 << rng.random_range(0..8);
        }
        let verdicts = aocu::hash::verify_batch(alg, &refs, &expected).expect("verify");
        for (i, ok) in verdicts.iter().enumerate() {
            assert_eq!(*ok, !bad.contains(&i), "{alg:?} item {i}");
        }
        if let Some(gpu) = gpu() {
            assert_eq!(
                gpu.verify_batch(alg, &refs, &expected).expect("GPU verify"),
                verdicts
            );
        }
    }
    assert!(aocu::hash::verify_batch(Algorithm::Sha256, &refs, &[]).is_err());
}

/// A chain of `n` entries built the way the scheduler builds it.
fn scheduler_chain(rng: &mut StdRng, n: usize) -> (Id, Vec<(Id, Id)>) {
    let mut id = || {
        let mut b = [0u8; 32];
        rng.fill_bytes(&mut b);
        Id::from(b)
    };
    let process = id();
    let mut entries = vec![(process, first_link(&process))];
    for _ in 1..n {
        let (prev_id, prev_link) = *entries.last().expect("non-empty");
        entries.push((id(), next_link(&prev_id, &prev_link)));
    }
    (process, entries)
}

#[test]
fn hash_chains_verify_link_by_link() {
    let mut rng = StdRng::seed_from_u64(rand::rng().random());
    let (process, entries) = scheduler_chain(&mut rng, 300);
    let raw: Vec<([u8; 32], [u8; 32])> = entries
        .iter()
        .map(|(id, link)| (id.into_bytes(), link.into_bytes()))
        .collect();
    let pid = process.into_bytes();
    let mut links = vec![ChainLink::genesis(&pid, raw[0].1)];
    for w in raw.windows(2) {
        links.push(ChainLink {
            prev_id: &w[0].0,
            prev_chain: &w[0].1,
            claimed: w[1].1,
        });
    }
    assert!(aocu::hash::verify_chain(&links).iter().all(|&ok| ok));
    assert!(links.iter().all(|l| l.expected() == l.claimed));
    // Tamper with two links: exactly those fail, the others still verify on their own.
    links[17].claimed[0] ^= 0x80;
    let wrong_id = [1u8; 32];
    links[200].prev_id = &wrong_id;
    let verdicts = aocu::hash::verify_chain(&links);
    for (i, ok) in verdicts.iter().enumerate() {
        assert_eq!(*ok, i != 17 && i != 200, "link {i}");
    }
    if let Some(gpu) = gpu() {
        assert_eq!(gpu.verify_chain(&links).expect("GPU chain"), verdicts);
    }
}

#[test]
fn merkle_roots_agree_across_engines() {
    let mut rng = StdRng::seed_from_u64(rand::rng().random());
    let batch = random_batch(&mut rng, false);
    let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
    for alg in [Algorithm::Blake3, Algorithm::Sha256] {
        let root = aocu::hash::merkle_root(alg, &refs);
        assert_eq!(Hasher::cpu().merkle_root(alg, &refs).expect("cpu"), root);
        if let Some(gpu) = gpu() {
            assert_eq!(gpu.merkle_root(alg, &refs).expect("GPU merkle"), root);
        }
    }
}

#[test]
fn auto_never_picks_a_software_adapter_and_respects_the_crossover() {
    let cpu_auto = Hasher::open(Engine::Auto, None).expect("auto without crossover");
    assert!(cpu_auto.gpu().is_none());
    assert_eq!(cpu_auto.choose(u64::MAX), Engine::Cpu);
    assert_eq!(Hasher::cpu().choose(u64::MAX), Engine::Cpu);
    let report = aocu::hw::gpu::discover(Duration::from_secs(60));
    let Some(adapter) = report.adapters.first() else {
        prereq::missing("no GPU adapter at all; Mesa lavapipe (mesa-vulkan-drivers) is one");
        return;
    };
    let software_only = report.adapters.iter().all(|a| a.software);
    let auto = Hasher::open(Engine::Auto, Some(1 << 20)).expect("auto");
    if software_only {
        assert!(
            auto.gpu().is_none(),
            "Auto opened a software adapter ({})",
            adapter.name
        );
        assert_eq!(auto.choose(u64::MAX), Engine::Cpu);
        // Even handed a software adapter, Auto keeps to the CPU; an explicit Gpu uses it.
        let gpu = GpuHasher::new().expect("software adapter");
        let forced = Hasher::with_gpu(Engine::Auto, gpu, Some(0));
        assert_eq!(forced.choose(u64::MAX), Engine::Cpu);
    } else {
        assert_eq!(auto.choose((1 << 20) - 1), Engine::Cpu);
        assert_eq!(auto.choose(1 << 20), Engine::Gpu);
    }
}

#[test]
fn stats_count_bytes_per_engine() {
    let h = Hasher::cpu();
    let data = [3u8; 1000];
    h.hash_batch(Algorithm::Blake3, &[&data, &data[..10]])
        .expect("batch");
    let s = h.stats();
    assert_eq!((s.cpu_bytes, s.cpu_batches, s.gpu_bytes), (1010, 1, 0));
    if gpu().is_some() {
        // A hasher of its own: the shared one counts the other tests' batches too.
        let own = GpuHasher::new().expect("GPU hasher");
        let gpu = Hasher::with_gpu(Engine::Gpu, own, None);
        gpu.hash_batch(Algorithm::Sha256, &[&data])
            .expect("GPU batch");
        let s = gpu.stats();
        assert_eq!((s.gpu_bytes, s.gpu_batches, s.cpu_bytes), (1000, 1, 0));
        assert!(s.gpu_busy_ns > 0);
    }
}
