//! Batch hashing throughput per engine against the best baseline measured in the same run, and
//! the batch size from which the GPU beats the CPU (the hardware profile's crossover).
//!
//! Baselines, as the issue fixes them: for messages up to 16 KiB a plain per-message loop over
//! `blake3::hash` (or `sha2::Sha256::digest`), spread over rayon for all cores; for 1 MiB
//! messages the `blake3` crate's `Hasher::update_rayon` per message (SHA-256 cannot split a
//! message, so its large baseline is the per-message loop too). "One core" runs inside a rayon
//! pool of one thread, so the engine's own parallelism collapses to one core as well.

use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;
use sha2::Digest as _;

use crate::hash::gpu::{BandwidthProbe, GpuHasher};
use crate::hash::{Algorithm, CpuEngine, Digest};

/// The message sizes every run measures.
pub const MESSAGE_SIZES: [usize; 4] = [64, 1024, 16 * 1024, 1 << 20];

/// Batch totals (bytes of 1 KiB messages) tried when looking for the GPU crossover.
pub const CROSSOVER_TOTALS: [usize; 6] =
    [64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20];

/// Many messages of one length in one buffer, filled with non-zero pseudo-random bytes.
#[derive(Debug, Clone)]
pub struct Workload {
    data: Vec<u8>,
    msg_len: usize,
}

impl Workload {
    /// `total / msg_len` messages (at least one) of `msg_len` bytes, from `seed`.
    pub fn new(msg_len: usize, total: usize, seed: u64) -> Workload {
        let count = (total / msg_len.max(1)).max(1);
        let mut data = vec![0u8; count * msg_len];
        fill(&mut data, seed);
        Workload { data, msg_len }
    }

    /// The messages.
    pub fn messages(&self) -> Vec<&[u8]> {
        if self.msg_len == 0 {
            return vec![&[]];
        }
        self.data.chunks(self.msg_len).collect()
    }

    /// Bytes in all messages.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// Length of each message.
    pub fn msg_len(&self) -> usize {
        self.msg_len
    }
}

/// Fills `buf` with pseudo-random bytes, none of them zero (xorshift64*).
pub fn fill(buf: &mut [u8], seed: u64) {
    let mut x = seed | 1;
    for chunk in buf.chunks_mut(8) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let word = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        for (b, w) in chunk.iter_mut().zip(word) {
            *b = w | 0x01;
        }
    }
}

/// The per-message baseline for `alg` on `msgs` (see the module documentation).
pub fn baseline(alg: Algorithm, msgs: &[&[u8]], out: &mut [Digest]) {
    let large = msgs.first().is_some_and(|m| m.len() >= 1 << 20);
    match alg {
        Algorithm::Blake3 if large => {
            for (o, m) in out.iter_mut().zip(msgs) {
                *o = *blake3::Hasher::new().update_rayon(m).finalize().as_bytes();
            }
        }
        Algorithm::Blake3 => out
            .par_iter_mut()
            .zip(msgs.par_iter())
            .with_min_len(64)
            .for_each(|(o, m)| *o = *blake3::hash(m).as_bytes()),
        Algorithm::Sha256 => out
            .par_iter_mut()
            .zip(msgs.par_iter())
            .with_min_len(if large { 1 } else { 64 })
            .for_each(|(o, m)| *o = sha2::Sha256::digest(m).into()),
    }
}

/// How many threads a measurement used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Threads {
    /// A rayon pool of one thread.
    One,
    /// The global rayon pool (every core).
    All,
}

/// One measured throughput.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Measurement {
    /// Algorithm.
    pub alg: Algorithm,
    /// What ran: `baseline`, `cpu`, `gpu` (data from the host) or `gpu-resident`.
    pub engine: String,
    /// Threads (for the CPU rows).
    pub threads: Threads,
    /// Bytes per message.
    pub msg_len: usize,
    /// Messages per batch.
    pub batch: usize,
    /// Best time of one batch, in seconds.
    pub seconds: f64,
    /// Input bytes per second.
    pub bytes_per_s: f64,
    /// Messages per second.
    pub hashes_per_s: f64,
    /// Throughput over the baseline's in the same run, same threads and sizes.
    pub vs_baseline: Option<f64>,
}

/// Runs `f` until `min_time` has passed (at least twice, after one warm-up run) and returns the
/// best time of one run: on a shared machine the best run is the least disturbed one.
pub fn best_time(min_time: Duration, mut f: impl FnMut()) -> Duration {
    f();
    let start = Instant::now();
    let mut best = Duration::MAX;
    let mut runs = 0;
    while runs < 2 || start.elapsed() < min_time {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed());
        runs += 1;
    }
    best
}

/// What `aocu bench hash` measured.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct HashBenchReport {
    /// The lane implementation of the CPU engine (`None`: the `blake3` crate per message).
    pub cpu_lanes: Option<crate::hash::cpu::lanes::Isa>,
    /// Threads in the global rayon pool.
    pub cores: usize,
    /// The GPU adapter, when one was measured.
    pub gpu: Option<GpuSummary>,
    /// Every throughput.
    pub measurements: Vec<Measurement>,
    /// Per algorithm: the smallest batch (bytes of 1 KiB messages) from which the GPU was faster
    /// than the CPU at every larger size tried; `None`: never (or no GPU).
    pub crossover: Vec<(Algorithm, Option<u64>)>,
    /// The value for the hardware profile: the larger of the two crossovers; `None` when the GPU
    /// never won, or when the adapter is a software rasterizer (never chosen automatically).
    pub profile_crossover: Option<u64>,
}

/// The GPU side of a run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct GpuSummary {
    /// `name (backend)`.
    pub adapter: String,
    /// Whether it is a software rasterizer (its figures are a correctness run, not a result).
    pub software: bool,
    /// Measured host-to-device copy bandwidth, bytes/s.
    pub host_to_device_bytes_per_s: f64,
    /// Measured device-to-device copy bandwidth, bytes/s (read + write counted once).
    pub device_copy_bytes_per_s: f64,
}

/// Options of a run.
#[derive(Debug, Clone, Copy)]
pub struct HashBenchOptions {
    /// Bytes per CPU batch.
    pub cpu_batch_bytes: usize,
    /// Bytes per GPU batch.
    pub gpu_batch_bytes: usize,
    /// Minimum time per measurement.
    pub min_time: Duration,
}

impl Default for HashBenchOptions {
    fn default() -> Self {
        HashBenchOptions {
            cpu_batch_bytes: 16 << 20,
            gpu_batch_bytes: 16 << 20,
            min_time: Duration::from_millis(250),
        }
    }
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A one-thread rayon pool could not be built.
    #[error("building a one-thread pool: {0}")]
    Pool(String),
    /// The GPU engine failed mid-run.
    #[error("GPU engine: {0}")]
    Gpu(#[from] crate::hash::gpu::GpuError),
}

/// Measures every engine on every message size; `gpu` adds the GPU rows and the crossover.
pub fn run(
    options: &HashBenchOptions,
    gpu: Option<&GpuHasher>,
) -> Result<HashBenchReport, BenchError> {
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| BenchError::Pool(e.to_string()))?;
    let engine = CpuEngine::new();
    let mut measurements = Vec::new();
    for alg in [Algorithm::Blake3, Algorithm::Sha256] {
        for &msg_len in &MESSAGE_SIZES {
            let work = Workload::new(msg_len, options.cpu_batch_bytes, msg_len as u64 + 7);
            let msgs = work.messages();
            let mut out = vec![[0u8; 32]; msgs.len()];
            for threads in [Threads::One, Threads::All] {
                let in_pool = |f: &mut (dyn FnMut() + Send)| match threads {
                    Threads::One => one.install(|| best_time(options.min_time, f)),
                    Threads::All => best_time(options.min_time, f),
                };
                let base = in_pool(&mut || baseline(alg, &msgs, &mut out));
                let ours = in_pool(&mut || engine.hash_into(alg, &msgs, &mut out));
                let row = |engine: &str, t: Duration, vs: Option<f64>| {
                    measurement(alg, engine, threads, &work, t, vs)
                };
                measurements.push(row("baseline", base, None));
                measurements.push(row(
                    "cpu",
                    ours,
                    Some(base.as_secs_f64() / ours.as_secs_f64()),
                ));
            }
        }
    }
    let mut report = HashBenchReport {
        cpu_lanes: engine.isa(),
        cores: rayon::current_num_threads(),
        gpu: None,
        measurements,
        crossover: Vec::new(),
        profile_crossover: None,
    };
    if let Some(gpu) = gpu {
        gpu_rows(options, gpu, &engine, &mut report)?;
    }
    Ok(report)
}

fn measurement(
    alg: Algorithm,
    engine: &str,
    threads: Threads,
    work: &Workload,
    t: Duration,
    vs_baseline: Option<f64>,
) -> Measurement {
    let secs = t.as_secs_f64().max(1e-9);
    let batch = work.bytes() / work.msg_len().max(1);
    Measurement {
        alg,
        engine: engine.to_string(),
        threads,
        msg_len: work.msg_len(),
        batch,
        seconds: secs,
        bytes_per_s: work.bytes() as f64 / secs,
        hashes_per_s: batch as f64 / secs,
        vs_baseline,
    }
}

/// The GPU rows (from the host and resident, against the all-core CPU engine), the copy
/// bandwidths, and the crossover.
fn gpu_rows(
    options: &HashBenchOptions,
    gpu: &GpuHasher,
    engine: &CpuEngine,
    report: &mut HashBenchReport,
) -> Result<(), BenchError> {
    let probe = BandwidthProbe::new(gpu, 64 << 20)?;
    let h2d = probe.bytes() as f64 / probe.host_to_device(4)?.as_secs_f64().max(1e-9) * 4.0;
    let copy = probe.bytes() as f64 / probe.device_copy(4)?.as_secs_f64().max(1e-9) * 4.0;
    report.gpu = Some(GpuSummary {
        adapter: format!(
            "{} ({:?})",
            gpu.adapter_info().name,
            gpu.adapter_info().backend
        ),
        software: gpu.is_software(),
        host_to_device_bytes_per_s: h2d,
        device_copy_bytes_per_s: copy,
    });
    // Software rasterizers are slow: keep their correctness run short.
    let min_time = if gpu.is_software() {
        Duration::ZERO
    } else {
        options.min_time
    };
    for alg in [Algorithm::Blake3, Algorithm::Sha256] {
        for &msg_len in &MESSAGE_SIZES {
            let work = Workload::new(msg_len, options.gpu_batch_bytes, msg_len as u64 + 11);
            let msgs = work.messages();
            let cpu = best_time(min_time, || {
                engine.hash_into(alg, &msgs, &mut vec![[0; 32]; msgs.len()])
            });
            let mut failed = None;
            let host = best_time(min_time, || {
                if let Err(e) = gpu.hash_batch(alg, &msgs) {
                    failed.get_or_insert(e);
                }
            });
            let resident = gpu.upload(&msgs)?;
            let on_device = best_time(min_time, || {
                if let Err(e) = gpu.hash_resident(alg, &resident) {
                    failed.get_or_insert(e);
                }
            });
            if let Some(e) = failed {
                return Err(e.into());
            }
            let vs = |t: Duration| Some(cpu.as_secs_f64() / t.as_secs_f64().max(1e-9));
            for (name, t) in [("gpu", host), ("gpu-resident", on_device)] {
                report
                    .measurements
                    .push(measurement(alg, name, Threads::All, &work, t, vs(t)));
            }
        }
        // A software rasterizer is never chosen automatically: no crossover to look for.
        let crossover = if gpu.is_software() {
            None
        } else {
            find_crossover(alg, gpu, engine, min_time)?
        };
        report.crossover.push((alg, crossover));
    }
    let all: Option<Vec<u64>> = report.crossover.iter().map(|(_, c)| *c).collect();
    report.profile_crossover = match all {
        Some(c) if !gpu.is_software() => c.into_iter().max(),
        _ => None,
    };
    Ok(())
}

/// The smallest batch of 1 KiB messages from which the GPU beats the CPU at every larger total.
fn find_crossover(
    alg: Algorithm,
    gpu: &GpuHasher,
    engine: &CpuEngine,
    min_time: Duration,
) -> Result<Option<u64>, BenchError> {
    let mut crossover = None;
    for &total in CROSSOVER_TOTALS.iter().rev() {
        let work = Workload::new(1024, total, total as u64);
        let msgs = work.messages();
        let cpu = best_time(min_time, || {
            engine.hash_into(alg, &msgs, &mut vec![[0; 32]; msgs.len()])
        });
        let mut failed = None;
        let on_gpu = best_time(min_time, || {
            if let Err(e) = gpu.hash_batch(alg, &msgs) {
                failed.get_or_insert(e);
            }
        });
        if let Some(e) = failed {
            return Err(e.into());
        }
        if on_gpu >= cpu {
            break;
        }
        crossover = Some(total as u64);
    }
    Ok(crossover)
}
