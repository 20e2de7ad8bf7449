//! RSA-PSS-4096 and ed25519 verification: aocu's CPU engine against the `rsa` crate (what aocu
//! used before) and against OpenSSL (`openssl speed -seconds 3 rsa4096`, run first so that the
//! ratio compares one machine at one time). Batches of 1, 64 and 4096 signatures (and 65536
//! with `AOCU_BENCH_LARGE=1`), on one core (a one-thread rayon pool) and on all.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Bench code: a panic is a failure.
#![allow(missing_docs)] // `criterion_group!` makes undocumented public functions.

use aocu::bench::verify::{Corpus, openssl_rsa4096_verify_per_sec};
use aocu::verify::rsa::{self, Backend, Input, Modulus, limbs};
use aocu::verify::{Engine, Scheme, Verifier};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn verify(c: &mut Criterion) {
    match openssl_rsa4096_verify_per_sec(3) {
        Ok(rate) => eprintln!("baseline: openssl speed rsa4096: {rate:.0} verify/s, one core"),
        Err(e) => eprintln!("baseline: openssl speed unavailable: {e}"),
    }
    let corpus = Corpus::new(64).unwrap();
    let verifier = Verifier::cpu();
    let one_core = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let sizes: &[usize] = if std::env::var_os("AOCU_BENCH_LARGE").is_some() {
        &[1, 64, 4096, 65536]
    } else {
        &[1, 64, 4096]
    };
    for scheme in Scheme::ALL {
        let mut group = c.benchmark_group(scheme.name());
        group.sample_size(10);
        if scheme == Scheme::RsaPss {
            let baseline = corpus.rsa_crate_verify();
            group.throughput(Throughput::Elements(1));
            group.bench_function("rsa crate, one core (baseline)", |b| {
                b.iter(|| assert!(baseline()))
            });
        }
        for &size in sizes {
            let items = corpus.items(scheme, size);
            group.throughput(Throughput::Elements(size as u64));
            group.bench_with_input(BenchmarkId::new("cpu, one core", size), &items, |b, i| {
                one_core.install(|| b.iter(|| verifier.verify_batch(i, Engine::Cpu).unwrap()))
            });
            group.bench_with_input(BenchmarkId::new("cpu, all cores", size), &items, |b, i| {
                b.iter(|| verifier.verify_batch(i, Engine::Cpu).unwrap())
            });
        }
        group.finish();
    }
}

/// The public operation alone on each CPU backend (one core, 64 signatures), and the
/// preparation of a modulus not seen before (its `R² mod n`), which a batch of distinct
/// signers pays once per key.
fn backends(c: &mut Criterion) {
    let corpus = Corpus::new(8).unwrap();
    let items = corpus.items(Scheme::RsaPss, 64);
    let prepared: Vec<(limbs::Limbs, Modulus)> = items
        .iter()
        .map(|i| match i {
            aocu::verify::Item::RsaPss {
                modulus, signature, ..
            } => (
                limbs::from_be(signature).unwrap(),
                Modulus::new(modulus).unwrap(),
            ),
            aocu::verify::Item::Ed25519 { .. } => unreachable!(),
        })
        .collect();
    let inputs: Vec<Input<'_>> = prepared
        .iter()
        .map(|(s, modulus)| Input { s, modulus })
        .collect();
    let one_core = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let mut group = c.benchmark_group("rsa-public-op");
    group.sample_size(10);
    for backend in Backend::all() {
        group.throughput(Throughput::Elements(64));
        group.bench_function(format!("{}, one core, 64", backend.name()), |b| {
            one_core.install(|| b.iter(|| rsa::public_ops_on(backend, &inputs)))
        });
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("{}, one core, 1", backend.name()), |b| {
            one_core.install(|| b.iter(|| rsa::public_ops_on(backend, &inputs[..1])))
        });
    }
    let aocu::verify::Item::RsaPss { modulus, .. } = items[0] else {
        unreachable!()
    };
    group.bench_function("prepare a new modulus", |b| {
        b.iter(|| Modulus::new(modulus).unwrap())
    });
    group.finish();
}

/// RSA on the GPU engine, on a hardware adapter (a software one too with
/// `AOCU_BENCH_SOFTWARE_GPU=1`: slow, for trying the bench itself), against every core.
fn gpu(c: &mut Criterion) {
    let options = aocu::hash::gpu::GpuOptions {
        adapter: if std::env::var_os("AOCU_BENCH_SOFTWARE_GPU").is_some() {
            aocu::hash::gpu::AdapterChoice::default()
        } else {
            aocu::hash::gpu::AdapterChoice::HardwareOnly
        },
        ..Default::default()
    };
    let hasher = match aocu::hash::gpu::GpuHasher::with_options(options) {
        Ok(h) => h,
        Err(e) => return eprintln!("no GPU rows: {e}"),
    };
    let verifier = Verifier::on_gpu(Engine::Gpu, &hasher, None).unwrap();
    eprintln!("GPU: {:?}", verifier.gpu_adapter());
    let corpus = Corpus::new(64).unwrap();
    let mut group = c.benchmark_group("rsa-pss-gpu");
    group.sample_size(10);
    for size in [4096usize, 65536] {
        let items = corpus.items(Scheme::RsaPss, size);
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::new("gpu", size), &items, |b, i| {
            b.iter(|| verifier.verify_batch(i, Engine::Gpu).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("cpu, all cores", size), &items, |b, i| {
            b.iter(|| verifier.verify_batch(i, Engine::Cpu).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, verify, backends, gpu);
criterion_main!(benches);
