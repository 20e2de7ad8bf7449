//! The GPU RSA public operation (`aocu::verify::gpu`) against `rsa::BigUint::modpow`, on fresh
//! random inputs each run (the seed is printed; set `AOCU_TEST_SEED` to replay one), the edge
//! cases of the Montgomery arithmetic, sub-batches, and the errors.
//!
//! In CI the adapter is Mesa lavapipe (software Vulkan on 2 cores), so batches are small. The
//! tests skip, saying why, only when the machine has no adapter at all (under `CI=true` that
//! fails: see `tests/prereq`). The shader's translation is checked with naga, with no adapter.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod prereq;

use std::sync::OnceLock;
use std::time::Instant;

use aocu::hash::gpu::GpuHasher;
use aocu::verify::gpu::{GpuRsa, GpuRsaError, RsaInput};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use rsa::BigUint;

/// The hasher whose device the engines share (building pipelines on lavapipe is slow).
fn hasher() -> Option<&'static GpuHasher> {
    static HASHER: OnceLock<GpuHasher> = OnceLock::new();
    if !prereq::gpu_adapter() {
        return None;
    }
    Some(HASHER.get_or_init(|| {
        let h = GpuHasher::new()
            .unwrap_or_else(|e| panic!("an adapter exists but the GPU hasher failed: {e}"));
        eprintln!(
            "GPU on {} ({:?}, software: {})",
            h.adapter_info().name,
            h.adapter_info().backend,
            h.is_software()
        );
        h
    }))
}

/// The engine with default options.
fn engine() -> Option<&'static GpuRsa> {
    static ENGINE: OnceLock<GpuRsa> = OnceLock::new();
    let h = hasher()?;
    Some(ENGINE.get_or_init(|| {
        let e = GpuRsa::on_hasher(h).unwrap_or_else(|e| panic!("GpuRsa::on_hasher: {e}"));
        eprintln!("GPU RSA engine: max_batch {}", e.max_batch());
        e
    }))
}

/// A random generator, its seed printed (or taken from `AOCU_TEST_SEED`).
fn rng(test: &str) -> StdRng {
    let seed = std::env::var("AOCU_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("{test}: seed {seed} (AOCU_TEST_SEED={seed} replays it)");
    StdRng::seed_from_u64(seed)
}

/// One case: modulus and signature bytes as given to the engine.
#[derive(Clone)]
struct Case {
    modulus: Vec<u8>,
    signature: Vec<u8>,
    what: String,
}

/// `v` as exactly `len` big-endian bytes (`v` must fit).
fn be(v: &BigUint, len: usize) -> Vec<u8> {
    let bytes = v.to_bytes_be();
    assert!(bytes.len() <= len);
    let mut out = vec![0u8; len - bytes.len()];
    out.extend_from_slice(&bytes);
    out
}

/// A random odd modulus of exactly `bits` bits.
fn random_modulus(rng: &mut StdRng, bits: usize) -> BigUint {
    let mut bytes = vec![0u8; bits.div_ceil(8)];
    rng.fill_bytes(&mut bytes);
    let top_bits = bits - 8 * (bytes.len() - 1);
    bytes[0] &= 0xffu8 >> (8 - top_bits);
    bytes[0] |= 1 << (top_bits - 1);
    *bytes.last_mut().unwrap() |= 1;
    BigUint::from_bytes_be(&bytes)
}

/// A random number below `n`.
fn random_below(rng: &mut StdRng, n: &BigUint) -> BigUint {
    let mut bytes = vec![0u8; n.to_bytes_be().len() + 8];
    rng.fill_bytes(&mut bytes);
    BigUint::from_bytes_be(&bytes) % n
}

/// Cases for modulus `n`: a random signature, 0, 1 and n−1, all as `len`-byte buffers.
fn cases_for(rng: &mut StdRng, n: &BigUint, len: usize, what: &str) -> Vec<Case> {
    let one = BigUint::from(1u32);
    let sigs = [
        ("random s", random_below(rng, n)),
        ("s = 0", BigUint::from(0u32)),
        ("s = 1", one.clone()),
        ("s = n-1", n - &one),
    ];
    sigs.into_iter()
        .map(|(s_what, s)| Case {
            modulus: be(n, len),
            signature: be(&s, len),
            what: format!("{what}, {s_what}"),
        })
        .collect()
}

/// The reference: s^65537 mod n, left-padded to 512 bytes.
fn reference(case: &Case) -> [u8; 512] {
    let n = BigUint::from_bytes_be(&case.modulus);
    let s = BigUint::from_bytes_be(&case.signature);
    let r = s.modpow(&BigUint::from(65537u32), &n);
    be(&r, 512).try_into().unwrap()
}

/// Runs `cases` on `engine` as one batch and compares every result with the reference.
fn check(engine: &GpuRsa, cases: &[Case], context: &str) {
    let inputs: Vec<RsaInput<'_>> = cases
        .iter()
        .map(|c| RsaInput {
            modulus: &c.modulus,
            signature: &c.signature,
        })
        .collect();
    let start = Instant::now();
    let got = engine
        .public_op(&inputs)
        .unwrap_or_else(|e| panic!("{context}: public_op failed: {e}"));
    eprintln!(
        "{context}: {} public ops in {:?}",
        cases.len(),
        start.elapsed()
    );
    assert_eq!(got.len(), cases.len(), "{context}");
    for (i, (case, result)) in cases.iter().zip(&got).enumerate() {
        assert!(
            result[..] == reference(case)[..],
            "{context}: item {i} ({}) differs:\n got {}\nwant {}\n   n {}\n   s {}",
            case.what,
            hex::encode(result),
            hex::encode(reference(case)),
            hex::encode(&case.modulus),
            hex::encode(&case.signature),
        );
    }
}

#[test]
fn random_4096_bit_moduli() {
    let Some(engine) = engine() else { return };
    let mut rng = rng("random_4096_bit_moduli");
    let mut cases = Vec::new();
    for k in 0..32 {
        let n = random_modulus(&mut rng, 4096);
        cases.extend(cases_for(&mut rng, &n, 512, &format!("random modulus {k}")));
    }
    // More random signatures on fresh moduli.
    for k in 0..64 {
        let n = random_modulus(&mut rng, 4096);
        let s = random_below(&mut rng, &n);
        cases.push(Case {
            modulus: be(&n, 512),
            signature: be(&s, 512),
            what: format!("random pair {k}"),
        });
    }
    check(engine, &cases, "random 4096-bit");
}

/// 4096-bit moduli that push the arithmetic to its bounds: all ones, 2^4095 + 1, top limbs all
/// ones or all zeros but the top bit (values close to R, and to a power of two, where a missing
/// final subtraction or carry shows).
#[test]
fn edge_moduli() {
    let Some(engine) = engine() else { return };
    let mut rng = rng("edge_moduli");
    let one = BigUint::from(1u32);
    let top = &one << 4095usize;
    let mut moduli = vec![
        ("0xffff…ff", (&one << 4096usize) - &one),
        ("0x8000…0001", &top + &one),
    ];
    for ones in [32usize, 1024, 4000] {
        // The top `ones` bits set, the rest random, odd.
        let low = random_below(&mut rng, &(&one << (4096 - ones)));
        let high = ((&one << ones) - &one) << (4096 - ones);
        moduli.push(("top bits all ones", (high + low) | one.clone()));
    }
    for zeros in [32usize, 1024, 4000] {
        // The top bit, then `zeros` zero bits, the rest random, odd.
        let low = random_below(&mut rng, &(&one << (4095 - zeros)));
        moduli.push(("top bit then zeros", (&top + low) | one.clone()));
    }
    let mut cases = Vec::new();
    for (what, n) in &moduli {
        assert_eq!(n.bits(), 4096, "{what}");
        cases.extend(cases_for(&mut rng, n, 512, what));
    }
    check(engine, &cases, "edge moduli");
}

/// Moduli shorter than 4096 bits, in 512-byte buffers (leading zero bytes) and in buffers of
/// their own length, signatures likewise.
#[test]
fn shorter_moduli() {
    let Some(engine) = engine() else { return };
    let mut rng = rng("shorter_moduli");
    let mut cases = Vec::new();
    for bits in [4095usize, 4064, 4033, 2048, 1000, 512, 64, 33, 32, 17, 2] {
        let n = random_modulus(&mut rng, bits);
        let own = n.to_bytes_be().len();
        cases.extend(cases_for(
            &mut rng,
            &n,
            512,
            &format!("{bits}-bit in 512 bytes"),
        ));
        cases.extend(cases_for(
            &mut rng,
            &n,
            own,
            &format!("{bits}-bit in {own} bytes"),
        ));
    }
    // 2048-bit modulus in 256 bytes, signature in 512 bytes (and the other way round).
    let n = random_modulus(&mut rng, 2048);
    let s = random_below(&mut rng, &n);
    cases.push(Case {
        modulus: be(&n, 256),
        signature: be(&s, 512),
        what: "mixed buffer lengths".into(),
    });
    cases.push(Case {
        modulus: be(&n, 512),
        signature: be(&s, 250.max(s.to_bytes_be().len())),
        what: "mixed buffer lengths, short signature".into(),
    });
    // The smallest odd moduli.
    for n in [3u32, 5, 0xffff_ffff] {
        let n = BigUint::from(n);
        cases.extend(cases_for(&mut rng, &n, 4, &format!("modulus {n}")));
    }
    check(engine, &cases, "shorter moduli");
}

/// Random bit lengths from 2 to 4096, buffers padded with a random number of leading zero
/// bytes (up to 512 in all), random signatures below the modulus, in one mixed batch.
#[test]
fn random_lengths_and_padding() {
    let Some(engine) = engine() else { return };
    let mut rng = rng("random_lengths_and_padding");
    let cases: Vec<Case> = (0..96)
        .map(|k| {
            let bits = rng.random_range(2..=4096usize);
            let n = random_modulus(&mut rng, bits);
            let s = random_below(&mut rng, &n);
            let own = n.to_bytes_be().len();
            let n_len = rng.random_range(own..=512);
            let s_len = rng.random_range(s.to_bytes_be().len().max(1)..=512);
            Case {
                modulus: be(&n, n_len),
                signature: be(&s, s_len),
                what: format!("item {k}: {bits} bits in {n_len} bytes, signature in {s_len}"),
            }
        })
        .collect();
    check(engine, &cases, "random lengths");
}

/// A batch over several sub-batches of an engine capped at 3 inputs per dispatch (the last one
/// partial), then a larger batch reusing its grown buffers on the default engine.
#[test]
fn sub_batches() {
    let Some(h) = hasher() else { return };
    let mut rng = rng("sub_batches");
    let small = GpuRsa::with_max_batch(h.device().clone(), h.queue().clone(), 3).unwrap();
    assert_eq!(small.max_batch(), 3);
    let mut cases = Vec::new();
    for (k, bits) in [4096usize, 2048, 4096, 1000, 4096, 3000, 4096]
        .iter()
        .enumerate()
    {
        let n = random_modulus(&mut rng, *bits);
        let s = random_below(&mut rng, &n);
        cases.push(Case {
            modulus: be(&n, 512),
            signature: be(&s, 512),
            what: format!("item {k}, {bits} bits"),
        });
    }
    check(&small, &cases, "7 items, 3 per sub-batch");
    check(&small, &cases[..2], "2 items, again on grown buffers");
    let zero_cap = GpuRsa::with_max_batch(h.device().clone(), h.queue().clone(), 0).unwrap();
    assert_eq!(zero_cap.max_batch(), 1, "a cap of 0 means 1");
    check(&zero_cap, &cases[..2], "2 items, 1 per sub-batch");
    let engine = engine().unwrap();
    assert!(
        engine.max_batch() >= 256,
        "max_batch {}",
        engine.max_batch()
    );
}

/// A batch of 256 4096-bit operations matches the reference (its rate is printed, not asserted:
/// `cargo bench --bench verify` measures).
#[test]
fn a_batch_of_256_matches() {
    let Some(engine) = engine() else { return };
    let mut rng = rng("throughput_256");
    let cases: Vec<Case> = (0..256)
        .map(|k| {
            let n = random_modulus(&mut rng, 4096);
            let s = random_below(&mut rng, &n);
            Case {
                modulus: be(&n, 512),
                signature: be(&s, 512),
                what: format!("item {k}"),
            }
        })
        .collect();
    let inputs: Vec<RsaInput<'_>> = cases
        .iter()
        .map(|c| RsaInput {
            modulus: &c.modulus,
            signature: &c.signature,
        })
        .collect();
    engine.public_op(&inputs[..8]).unwrap(); // warm-up
    let start = Instant::now();
    let got = engine.public_op(&inputs).unwrap();
    let took = start.elapsed();
    eprintln!(
        "throughput: 256 4096-bit public ops in {took:?}: {:.0} per second",
        256.0 / took.as_secs_f64()
    );
    for (i, (case, result)) in cases.iter().zip(&got).enumerate() {
        assert!(result[..] == reference(case)[..], "item {i} differs");
    }
}

#[test]
fn errors_name_the_item() {
    let Some(engine) = engine() else { return };
    let good_n = {
        let mut n = vec![0xc5u8; 512];
        n[511] |= 1;
        n
    };
    let good_s = vec![0x17u8; 511];
    let ok = RsaInput {
        modulus: &good_n,
        signature: &good_s,
    };
    let run = |bad: RsaInput<'_>| {
        let batch = [ok, ok, bad, ok];
        engine.public_op(&batch)
    };
    let mut even = good_n.clone();
    even[511] &= 0xfe;
    let long = vec![0u8; 513];
    let long_n = {
        let mut n = vec![0u8; 513];
        n[512] = 0x0b;
        n
    };
    let n_plus_one = {
        let mut s = good_n.clone();
        s[511] += 1;
        s
    };
    let zeros = vec![0u8; 512];
    let mut one = vec![0u8; 512];
    one[511] = 1;

    let e = run(RsaInput {
        modulus: &even,
        signature: &good_s,
    });
    assert!(
        matches!(e, Err(GpuRsaError::ModulusEven { index: 2 })),
        "{e:?}"
    );
    let e = run(RsaInput {
        modulus: &good_n,
        signature: &good_n,
    });
    assert!(
        matches!(e, Err(GpuRsaError::SignatureNotBelowModulus { index: 2 })),
        "s = n: {e:?}"
    );
    let e = run(RsaInput {
        modulus: &good_n,
        signature: &n_plus_one,
    });
    assert!(
        matches!(e, Err(GpuRsaError::SignatureNotBelowModulus { index: 2 })),
        "s = n + 1: {e:?}"
    );
    let e = run(RsaInput {
        modulus: &long_n,
        signature: &good_s,
    });
    assert!(
        matches!(e, Err(GpuRsaError::ModulusTooLong { index: 2, len: 513 })),
        "{e:?}"
    );
    let e = run(RsaInput {
        modulus: &good_n,
        signature: &long,
    });
    assert!(
        matches!(e, Err(GpuRsaError::SignatureTooLong { index: 2, len: 513 })),
        "{e:?}"
    );
    for (n, what) in [(&zeros[..], "0"), (&[][..], "empty"), (&one[..], "1")] {
        let e = run(RsaInput {
            modulus: n,
            signature: &[],
        });
        assert!(
            matches!(e, Err(GpuRsaError::ModulusTooSmall { index: 2 })),
            "modulus {what}: {e:?}"
        );
    }
    let msg = run(RsaInput {
        modulus: &even,
        signature: &good_s,
    })
    .unwrap_err()
    .to_string();
    assert!(msg.contains("item 2"), "{msg}");
    assert!(engine.public_op(&[]).unwrap().is_empty());
    // The engine still works after the refusals.
    let got = engine.public_op(&[ok]).unwrap();
    let case = Case {
        modulus: good_n.clone(),
        signature: good_s.clone(),
        what: String::new(),
    };
    assert!(got[0][..] == reference(&case)[..]);
}

/// The shader must translate for every backend we run on, with no optional capability (no
/// 64-bit integers, no subgroups): checked with naga directly, no adapter needed.
#[test]
fn shader_translates_for_vulkan_and_gl() {
    use wgpu::naga;
    let source = include_str!("../shaders/rsa.wgsl");
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{}", e.emit_to_string(source)));
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{}", e.emit_to_string(source)));
    let mut constants = naga::back::PipelineConstants::default();
    constants.insert("WG".to_string(), 64.0);
    let entry = "rsa_public";
    let stage = Some((naga::ShaderStage::Compute, entry));
    let (module, info) =
        naga::back::pipeline_constants::process_overrides(&module, &info, stage, &constants)
            .unwrap();
    let spv = naga::back::spv::write_vec(
        &module,
        &info,
        &naga::back::spv::Options::default(),
        Some(&naga::back::spv::PipelineOptions {
            shader_stage: naga::ShaderStage::Compute,
            entry_point: entry.to_string(),
        }),
    );
    assert!(spv.is_ok(), "to SPIR-V: {spv:?}");
    let mut glsl = String::new();
    let pipeline = naga::back::glsl::PipelineOptions {
        shader_stage: naga::ShaderStage::Compute,
        entry_point: entry.to_string(),
        multiview: None,
    };
    let written = naga::back::glsl::Writer::new(
        &mut glsl,
        &module,
        &info,
        &naga::back::glsl::Options::default(),
        &pipeline,
        naga::proc::BoundsCheckPolicies::default(),
    )
    .and_then(|mut w| w.write());
    assert!(written.is_ok(), "to GLSL: {written:?}");
}
