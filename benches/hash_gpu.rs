//! GPU hashing throughput (GB/s and hashes/s) for batches of 64 B, 1 KiB, 16 KiB and 1 MiB
//! messages, with the data starting on the host and already resident on the device; and, in the
//! same run, the two bandwidths that bound it: host to device (`queue.write_buffer` + wait) and
//! device to device (`copy_buffer_to_buffer`). A summary table at the end gives each hashing
//! rate as a fraction of the matching bandwidth and against the CPU reference crates (rayon over
//! messages), the baseline the GPU has to beat.
//!
//! `AOCU_BENCH_GPU_BYTES` sets the bytes per batch (default 256 MiB on hardware, 4 MiB on a
//! software rasterizer, whose figures only show the engine runs, not what a GPU does).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Bench code: a panic is a failure.
#![allow(missing_docs)] // `criterion_group!` makes undocumented public functions.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aocu::hash::gpu::{BandwidthProbe, GpuHasher, ResidentBatch};
use aocu::hash::{Algorithm, Digest};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::{RngCore, SeedableRng};
use rayon::prelude::*;
use sha2::Digest as _;

const SIZES: [(usize, &str); 4] = [
    (64, "64B"),
    (1024, "1KiB"),
    (16 << 10, "16KiB"),
    (1 << 20, "1MiB"),
];
const ALGORITHMS: [Algorithm; 2] = [Algorithm::Blake3, Algorithm::Sha256];

/// One batch of equal-sized random messages, also uploaded to stay on the device.
struct Case {
    label: &'static str,
    inputs: Vec<Vec<u8>>,
    resident: ResidentBatch,
}

impl Case {
    fn new(h: &GpuHasher, size: usize, label: &'static str, batch_bytes: u64) -> Case {
        let count = (batch_bytes as usize / size).max(1);
        let mut rng = rand::rngs::StdRng::seed_from_u64(size as u64);
        let inputs: Vec<Vec<u8>> = (0..count)
            .map(|_| {
                let mut v = vec![0u8; size];
                rng.fill_bytes(&mut v);
                v
            })
            .collect();
        let resident = h.upload(&refs(&inputs)).expect("upload a resident batch");
        Case {
            label,
            inputs,
            resident,
        }
    }

    fn bytes(&self) -> u64 {
        self.resident.bytes()
    }
}

fn refs(inputs: &[Vec<u8>]) -> Vec<&[u8]> {
    inputs.iter().map(Vec::as_slice).collect()
}

fn name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::Blake3 => "blake3",
        Algorithm::Sha256 => "sha256",
    }
}

fn cpu_reference(alg: Algorithm, inputs: &[&[u8]]) -> Vec<Digest> {
    match alg {
        Algorithm::Blake3 => inputs
            .par_iter()
            .map(|i| *blake3::hash(i).as_bytes())
            .collect(),
        Algorithm::Sha256 => inputs
            .par_iter()
            .map(|i| sha2::Sha256::digest(i).into())
            .collect(),
    }
}

fn batch_bytes(h: &GpuHasher) -> u64 {
    std::env::var("AOCU_BENCH_GPU_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if h.is_software() { 4 << 20 } else { 256 << 20 })
}

fn bench(c: &mut Criterion) {
    let report = aocu::hw::gpu::discover(Duration::from_secs(60));
    if report.adapters.is_empty() {
        eprintln!(
            "hash_gpu: no GPU adapter, nothing to measure ({})",
            report.note.unwrap_or_default()
        );
        return;
    }
    let h = GpuHasher::new().expect("open the GPU hasher");
    let batch = batch_bytes(&h);
    eprintln!(
        "hash_gpu on {} ({:?}){}; {batch} bytes per batch",
        h.adapter_info().name,
        h.adapter_info().backend,
        if h.is_software() {
            " — a SOFTWARE rasterizer: figures show the engine runs, not GPU speed"
        } else {
            ""
        }
    );

    let probe = BandwidthProbe::new(&h, batch.max(16 << 20)).expect("bandwidth probe");
    let mut g = c.benchmark_group("gpu_copy");
    g.throughput(Throughput::BytesDecimal(probe.bytes()));
    g.bench_function("host_to_device", |b| {
        b.iter_custom(|iters| probe.host_to_device(iters).expect("host-to-device copy"))
    });
    g.bench_function("device_to_device", |b| {
        b.iter_custom(|iters| probe.device_copy(iters).expect("device copy"))
    });
    g.finish();

    let cases: Vec<Case> = SIZES
        .iter()
        .map(|&(size, label)| Case::new(&h, size, label, batch))
        .collect();
    for alg in ALGORITHMS {
        let mut g = c.benchmark_group(format!("gpu_{}", name(alg)));
        for case in &cases {
            let inputs = refs(&case.inputs);
            g.throughput(Throughput::BytesDecimal(case.bytes()));
            g.bench_with_input(
                BenchmarkId::new("host", case.label),
                &inputs,
                |b, inputs| b.iter(|| black_box(h.hash_batch(alg, inputs).expect("hash a batch"))),
            );
            g.bench_with_input(BenchmarkId::new("resident", case.label), case, |b, case| {
                b.iter(|| black_box(h.hash_resident(alg, &case.resident).expect("hash resident")))
            });
        }
        g.finish();
    }
    summary(&h, &probe, &cases);
}

/// Best of `runs` timings of `f`.
fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn gbps(bytes: u64, t: Duration) -> f64 {
    bytes as f64 / t.as_secs_f64() / 1e9
}

/// Prints every rate next to the bandwidth that bounds it and the CPU baseline.
fn summary(h: &GpuHasher, probe: &BandwidthProbe<'_>, cases: &[Case]) {
    const RUNS: usize = 5;
    let h2d = gbps(probe.bytes() * 4, probe.host_to_device(4).expect("copy"));
    let d2d = gbps(probe.bytes() * 16, probe.device_copy(16).expect("copy"));
    println!();
    println!(
        "summary on {} ({:?}){}",
        h.adapter_info().name,
        h.adapter_info().backend,
        if h.is_software() {
            ": SOFTWARE rasterizer, a correctness run only"
        } else {
            ""
        }
    );
    println!("host->device {h2d:.3} GB/s, device->device copy {d2d:.3} GB/s");
    println!(
        "{:<7} {:>6} {:>10} {:>12} {:>9} {:>12} {:>9} {:>10} {:>8}",
        "alg",
        "msg",
        "host GB/s",
        "hashes/s",
        "of h2d",
        "resident GB/s",
        "of d2d",
        "CPU GB/s",
        "GPU/CPU"
    );
    for alg in ALGORITHMS {
        for case in cases {
            let inputs = refs(&case.inputs);
            let n = inputs.len() as f64;
            let host = best(RUNS, || {
                black_box(h.hash_batch(alg, &inputs).expect("hash"));
            });
            let resident = best(RUNS, || {
                black_box(h.hash_resident(alg, &case.resident).expect("hash"));
            });
            let cpu = best(RUNS, || {
                black_box(cpu_reference(alg, &inputs));
            });
            let (host_rate, resident_rate) =
                (gbps(case.bytes(), host), gbps(case.bytes(), resident));
            let cpu_rate = gbps(case.bytes(), cpu);
            println!(
                "{:<7} {:>6} {:>10.3} {:>12.0} {:>8.1}% {:>12.3} {:>8.1}% {:>10.3} {:>8.2}",
                name(alg),
                case.label,
                host_rate,
                n / host.as_secs_f64(),
                100.0 * host_rate / h2d,
                resident_rate,
                100.0 * resident_rate / d2d,
                cpu_rate,
                host_rate.max(resident_rate) / cpu_rate,
            );
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
