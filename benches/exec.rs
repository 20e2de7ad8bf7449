//! Executor pool scaling: messages per second on 1..N pinned executors (N = the allowed CPUs,
//! physical cores first), and the speed-up against one executor in the same run, for two kinds
//! of work:
//!
//! - `exec/aos-return`: real AOS processes (`aos-dock.wasm`), one per executor, evaluating
//!   `return 1+1` `Eval` messages, the full path (JSON in, result parsed, fuel metering, state
//!   protected, metering recorded in a [`Meter`]).
//! - `exec/aos-bare-handle`: the calibration baseline for the one-executor figure: the same
//!   messages to one process on one pinned thread, calling only `handle`
//!   ([`Process::call_handle_only`]: fuel and epoch on, no pool, no parsing, no metering, no
//!   state protection).
//! - `exec/cpu-bound-closure`: N processes over n executors; BLAKE3 over a 64 KiB buffer that each process owns and rewrites
//!   per message: the pool's own scaling, without the process runtime.
//!
//! Each iteration sends a batch of messages round-robin over the N processes and waits for all
//! of them: throughput is what the pool sustains with every queue fed. The load generator runs
//! on the same cores as the executors, so it does as little as it can while the clock runs: AOS
//! messages are built beforehand, and it waits for the newest job first (one wake-up per
//! executor and batch).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Bench code: a panic is a failure.
#![allow(missing_docs)] // `criterion_group!` makes undocumented public functions.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::sync::Arc;

use aocu::bench::eval::spread_ids;
use aocu::exec::{CorePlan, ExecutorsSetting, Pool, Shard};
use aocu::meter::{MessageRecord, Meter};
use aocu::wasm::{
    Limits, LoadedModule, MessageInput, ModuleCache, NodeLimits, Process, WasmEngine,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};

/// Messages per batch (per criterion iteration).
const BATCH: usize = 256;
/// Bytes of state each process hashes and rewrites per message.
const STATE_BYTES: usize = 64 << 10;

/// AOS messages per batch.
const AOS_BATCH: usize = 64;

/// (total time, messages) per (work, executor count), for the scaling summary.
static MEASURED: Mutex<BTreeMap<Key, (Duration, u64)>> = Mutex::new(BTreeMap::new());

/// (kind of work, executors).
type Key = (&'static str, usize);

fn note(work: &'static str, executors: usize, took: Duration, messages: u64) {
    let mut measured = MEASURED.lock().unwrap_or_else(|p| p.into_inner());
    let entry = measured.entry((work, executors)).or_default();
    entry.0 += took;
    entry.1 += messages;
}

/// One message: hash the process' state, fold the digest back into it.
fn evaluate(shard: &mut Shard<Vec<u8>>, process: &str) -> [u8; 32] {
    let state = shard.get_or_insert_with(process, || vec![7u8; STATE_BYTES]);
    let digest = *blake3::hash(state).as_bytes();
    state[..32].copy_from_slice(&digest);
    digest
}

fn run_batch(pool: &Pool<Vec<u8>>, ids: &[String]) {
    let pending: Vec<_> = (0..BATCH)
        .map(|m| {
            let id = ids[m % ids.len()].clone();
            pool.enqueue_blocking(&ids[m % ids.len()], move |shard| evaluate(shard, &id))
                .expect("enqueue")
        })
        .collect();
    // Newest first, as in `aos_batch`: one wake-up per executor, not per message.
    for p in pending.into_iter().rev() {
        std::hint::black_box(p.wait().expect("job result"));
    }
}

fn scaling(c: &mut Criterion) {
    let cpu = aocu::hw::cpu::discover();
    let all = CorePlan::new(&ExecutorsSetting::All, &cpu).expect("plan all CPUs");
    let max = all.len();
    let mut group = c.benchmark_group("exec/cpu-bound-closure");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    for executors in 1..=max {
        let plan = CorePlan::new(&ExecutorsSetting::Count(executors), &cpu).expect("plan");
        let queue = NonZeroUsize::new(BATCH).expect("non-zero batch");
        let pool: Pool<Vec<u8>> = Pool::new(&plan, queue).expect("start pool");
        let ids = spread_ids(max, executors);
        run_batch(&pool, &ids); // create the processes' state before measuring
        group.bench_with_input(
            BenchmarkId::new("executors", executors),
            &executors,
            |b, &executors| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        run_batch(&pool, &ids);
                    }
                    let took = start.elapsed();
                    note("cpu-bound-closure", executors, took, iters * BATCH as u64);
                    took
                })
            },
        );
        let pinned = pool.stats().iter().all(|s| s.pinned);
        eprintln!("executors={executors} cpus={:?} pinned={pinned}", plan.cpus);
    }
    group.finish();
}

/// Messages per second per executor count, and the speed-up over one executor.
fn summary(_: &mut Criterion) {
    let measured = MEASURED.lock().unwrap_or_else(|p| p.into_inner());
    let rate = |(took, messages): &(Duration, u64)| *messages as f64 / took.as_secs_f64();
    if let (Some(full), Some(bare)) = (
        measured.get(&("aos-return", 1)).map(rate),
        measured.get(&("aos-bare-handle", 1)).map(rate),
    ) {
        println!(
            "\nAOS return 1+1, one executor, full path: {full:.0} msg/s; bare handle call on one \
             thread: {bare:.0} msg/s; full path at {:.1}% of the bare call",
            100.0 * full / bare
        );
    }
    for work in ["aos-return", "cpu-bound-closure"] {
        let Some(one) = measured.get(&(work, 1)).map(rate) else {
            continue;
        };
        println!("\nexecutor scaling, {work}:");
        println!("{:>10} {:>14} {:>10}", "executors", "msg/s", "speed-up");
        for ((w, executors), m) in measured.iter() {
            if *w == work {
                println!("{executors:>10} {:>14.0} {:>9.2}x", rate(m), rate(m) / one);
            }
        }
    }
}

/// The AOS module from the shared test data.
fn aos_module() -> Arc<LoadedModule> {
    let near = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    let shared = if near.join("testdata").exists() {
        near
    } else {
        std::path::PathBuf::from("/work/shared")
    };
    let bytes = std::fs::read(shared.join("testdata/wasm/aos-dock.wasm")).expect("aos-dock.wasm");
    let cache = ModuleCache::new(WasmEngine::new().expect("engine"));
    cache.load(&bytes).expect("module loads")
}

/// The messages of one batch: round-robin over the processes, built before the clock starts
/// so that the load generator, which shares the machine's cores with the executors, spends
/// nothing on JSON while they are measured.
fn aos_inputs(ids: &[String], batch: u64) -> Vec<(String, MessageInput)> {
    (0..AOS_BATCH)
        .map(|m| {
            let id = ids[m % ids.len()].clone();
            let input = aocu::bench::eval::eval_input(&id, batch * AOS_BATCH as u64 + m as u64);
            (id, input)
        })
        .collect()
}

fn aos_batch(
    pool: &Pool<Process>,
    module: &Arc<LoadedModule>,
    inputs: Vec<(String, MessageInput)>,
    meter: &Meter,
) {
    let pending: Vec<_> = inputs
        .into_iter()
        .map(|(id, input)| {
            let (module, meter) = (module.clone(), meter.clone());
            pool.enqueue_blocking(&id.clone(), move |shard| {
                let (executor, cpu) = (shard.executor(), shard.cpu());
                let process = shard.try_get_or_insert_with(&id, || {
                    Process::spawn(module, Limits::from_node(&NodeLimits::default()))
                })?;
                let evaluation = process.evaluate(input);
                meter.record(&MessageRecord::of_evaluation(
                    &id,
                    "m",
                    &evaluation,
                    executor,
                    cpu,
                ));
                Ok::<_, aocu::wasm::WasmError>(evaluation.result.has_error())
            })
            .expect("enqueue")
        })
        .collect();
    // Newest first: each executor runs its queue in order, so once the last job of every
    // executor is back the others are too, and this thread wakes about once per executor
    // instead of once per message (each wake-up would take a core from an executor).
    for p in pending.into_iter().rev() {
        let failed = p.wait().expect("job result").expect("process spawns");
        assert!(!failed, "return 1+1 failed");
    }
}

fn aos_scaling(c: &mut Criterion) {
    let cpu = aocu::hw::cpu::discover();
    let max = CorePlan::new(&ExecutorsSetting::All, &cpu)
        .expect("plan")
        .len();
    let module = aos_module();
    let mut group = c.benchmark_group("exec/aos-return");
    group.throughput(Throughput::Elements(AOS_BATCH as u64));
    group.sample_size(10);
    for executors in 1..=max {
        let plan = CorePlan::new(&ExecutorsSetting::Count(executors), &cpu).expect("plan");
        let queue = NonZeroUsize::new(AOS_BATCH).expect("non-zero batch");
        let pool: Pool<Process> = Pool::new(&plan, queue).expect("start pool");
        let meter = Meter::new(executors);
        // N processes on N executors: one each, as a process lives on one executor.
        let ids = spread_ids(executors, executors);
        aos_batch(&pool, &module, aos_inputs(&ids, 0), &meter); // spawn before measuring
        group.bench_with_input(
            BenchmarkId::new("executors", executors),
            &executors,
            |b, &executors| {
                b.iter_custom(|iters| {
                    let batches: Vec<_> = (0..iters).map(|i| aos_inputs(&ids, i + 1)).collect();
                    let start = Instant::now();
                    for inputs in batches {
                        aos_batch(&pool, &module, inputs, &meter);
                    }
                    let took = start.elapsed();
                    note("aos-return", executors, took, iters * AOS_BATCH as u64);
                    took
                })
            },
        );
        // Time inside `evaluate` (from the meter) against the pool's wall time tells whether
        // a slowdown is in the evaluation itself or in the pool around it.
        let totals = meter.node_totals();
        eprintln!(
            "executors={executors} cpus={:?} evaluate: {:.1} µs/message over {} messages",
            plan.cpus,
            totals.wall_ns as f64 / 1e3 / totals.messages.max(1) as f64,
            totals.messages
        );
    }
    group.finish();
}

/// The calibration baseline: the same `return 1+1` messages to one AOS process on this thread
/// (pinned to the first executor's CPU), calling only `handle` (strings placed, fuel and epoch
/// on, answer's length read back): no pool, no result parsing, no metering, no state
/// protection. The summary reports the full path on one executor against it.
fn aos_bare_handle(c: &mut Criterion) {
    let cpu = aocu::hw::cpu::discover();
    let plan = CorePlan::new(&ExecutorsSetting::Count(1), &cpu).expect("plan");
    if let Some(&first) = plan.cpus.first() {
        core_affinity::set_for_current(core_affinity::CoreId { id: first });
    }
    let module = aos_module();
    let ids = spread_ids(1, 1);
    let mut process =
        Process::spawn(module, Limits::from_node(&NodeLimits::default())).expect("spawn");
    let mut group = c.benchmark_group("exec/aos-bare-handle");
    group.throughput(Throughput::Elements(AOS_BATCH as u64));
    group.sample_size(10);
    group.bench_function("one-thread", |b| {
        b.iter_custom(|iters| {
            let batches: Vec<_> = (0..iters).map(|i| aos_inputs(&ids, i + 1)).collect();
            let start = Instant::now();
            for inputs in batches {
                for (_, input) in inputs {
                    let len = process.call_handle_only(&input).expect("handle answers");
                    std::hint::black_box(len);
                }
            }
            let took = start.elapsed();
            note("aos-bare-handle", 1, took, iters * AOS_BATCH as u64);
            took
        })
    });
    group.finish();
}

// The bare-handle baseline pins this thread: it runs after the benches that plan over every CPU.
criterion_group!(benches, aos_scaling, scaling, aos_bare_handle, summary);
/// `criterion_main!` with the environment of the `aocu` binary: library errors capture no Rust
/// backtraces (see [`aocu::wasm::quiet_error_backtraces`]).
#[allow(unsafe_code)] // One environment write before any thread starts: argued below.
fn main() {
    // SAFETY: first thing in `main`: no other thread has been started.
    unsafe { aocu::wasm::quiet_error_backtraces() };
    benches();
    Criterion::default().configure_from_args().final_summary();
}
