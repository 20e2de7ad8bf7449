//! CPU engine throughput (criterion): batches of 64 B, 1 KiB, 16 KiB and 1 MiB messages, BLAKE3
//! and SHA-256, on one core and on all cores, each next to its baseline measured in the same run
//! (a per-message `blake3::hash` / `sha2` loop for small messages, the `blake3` crate's
//! `update_rayon` for 1 MiB ones). Criterion reports GB/s; the summary printed at the end adds
//! hashes/s and the ratio to the baseline (the same measurements as `aocu bench hash`).
//!
//! `cargo bench --bench hash_cpu`
#![allow(clippy::unwrap_used, clippy::expect_used)] // Bench code: a panic is a failure.
#![allow(missing_docs)] // `criterion_group!` makes undocumented public functions.

use std::time::Duration;

use aocu::bench::hash::{self as hb, HashBenchOptions, Threads, Workload};
use aocu::hash::{Algorithm, CpuEngine};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const BATCH_BYTES: usize = 8 << 20;

fn bench(c: &mut Criterion) {
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("one-thread pool");
    let engine = CpuEngine::new();
    for alg in [Algorithm::Blake3, Algorithm::Sha256] {
        for &len in &hb::MESSAGE_SIZES {
            let work = Workload::new(len, BATCH_BYTES, len as u64);
            let msgs = work.messages();
            let mut out = vec![[0u8; 32]; msgs.len()];
            let mut group = c.benchmark_group(format!("{}/{}B", alg.name(), len));
            group.throughput(Throughput::Bytes(work.bytes() as u64));
            group.sample_size(10);
            group.measurement_time(Duration::from_secs(2));
            group.warm_up_time(Duration::from_millis(500));
            for threads in [Threads::One, Threads::All] {
                let t = match threads {
                    Threads::One => "1-thread",
                    Threads::All => "all-cores",
                };
                group.bench_function(BenchmarkId::new("baseline", t), |b| match threads {
                    Threads::One => one.install(|| b.iter(|| hb::baseline(alg, &msgs, &mut out))),
                    Threads::All => b.iter(|| hb::baseline(alg, &msgs, &mut out)),
                });
                group.bench_function(BenchmarkId::new("aocu-cpu", t), |b| match threads {
                    Threads::One => {
                        one.install(|| b.iter(|| engine.hash_into(alg, &msgs, &mut out)))
                    }
                    Threads::All => b.iter(|| engine.hash_into(alg, &msgs, &mut out)),
                });
            }
            group.finish();
        }
    }
    // Ratios and hashes/s, measured again in this run.
    let options = HashBenchOptions {
        cpu_batch_bytes: BATCH_BYTES,
        min_time: Duration::from_millis(300),
        ..HashBenchOptions::default()
    };
    match hb::run(&options, None) {
        Ok(report) => print!("\n{}", aocu::cli::bench::render(&report)),
        Err(e) => eprintln!("summary failed: {e}"),
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
