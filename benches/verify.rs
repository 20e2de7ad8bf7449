//! RSA-PSS-4096 and ed25519 verification: aocu's CPU engine against the `rsa` crate (what aocu
//! used before) and against OpenSSL (`openssl speed -seconds 3 rsa4096`, run first so that the
//! ratio compares one machine at one time). Batches of 1, 64 and 4096 signatures (and 65536
//! with `AOCU_BENCH_LARGE=1`), on one core (a one-thread rayon pool) and on all.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Bench code: a panic is a failure.
#![allow(missing_docs)] // `criterion_group!` makes undocumented public functions.

use aocu::bench::verify::{Corpus, openssl_rsa4096_verify_per_sec};
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

criterion_group!(benches, verify);
criterion_main!(benches);
