//! Executor pool scaling: messages per second on 1..N pinned executors with N processes
//! (N = the allowed CPUs, physical cores first), and the speed-up against one executor in the
//! same run, for two kinds of work:
//!
//! - `exec/aos-return`: real AOS processes (`aos-dock.wasm`) evaluating `return 1+1` `Eval`
//!   messages, the full path (JSON in, result parsed, fuel metering, state protected, metering
//!   recorded in a [`Meter`]).
//! - `exec/cpu-bound-closure`: BLAKE3 over a 64 KiB buffer that each process owns and rewrites
//!   per message: the pool's own scaling, without the process runtime.
//!
//! Each iteration sends a batch of messages round-robin over the N processes and waits for all
//! of them: throughput is what the pool sustains with every queue fed.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::sync::Arc;

use aocu::exec::{CorePlan, ExecutorsSetting, Pool, Shard, executor_for};
use aocu::meter::{MessageRecord, Meter};
use aocu::wasm::{
    Limits, LoadedModule, MessageInput, ModuleCache, NodeLimits, Process, WasmEngine,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;

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

/// One process ID per executor slot so that the N processes spread evenly over `executors`
/// (placement is by hash; the bench measures the pool, not the luck of N IDs).
fn spread_ids(processes: usize, executors: usize) -> Vec<String> {
    let mut per_executor = vec![0usize; executors];
    let quota = processes.div_ceil(executors);
    let mut ids = Vec::with_capacity(processes);
    let mut i = 0u64;
    while ids.len() < processes {
        let id = format!("bench-process-{i}");
        let e = executor_for(&id, executors);
        if per_executor[e] < quota {
            per_executor[e] += 1;
            ids.push(id);
        }
        i += 1;
    }
    ids
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
    for p in pending {
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

/// One `Eval` of `return 1+1` to `process`.
fn aos_eval(process: &str, seq: u64) -> MessageInput {
    let owner = "OWNER-ADDRESS-00000000000000000000000000000";
    let message = json!({
        "Id": format!("MSG-{seq:039}"), "Target": process, "Owner": owner, "From": owner,
        "Block-Height": "1500000", "Timestamp": (1_732_000_000_000u64 + seq).to_string(),
        "Module": "MODULE", "Tags": [{"name": "Action", "value": "Eval"}], "Data": "return 1+1",
    });
    let env = json!({"Process": {"Id": process, "Owner": owner, "Tags": []},
        "Module": {"Id": "MODULE", "Tags": []}});
    MessageInput::new(&message, &env)
}

fn aos_batch(pool: &Pool<Process>, module: &Arc<LoadedModule>, ids: &[String], meter: &Meter) {
    let pending: Vec<_> = (0..AOS_BATCH)
        .map(|m| {
            let id = ids[m % ids.len()].clone();
            let input = aos_eval(&id, m as u64);
            let (module, meter) = (module.clone(), meter.clone());
            pool.enqueue_blocking(&ids[m % ids.len()], move |shard| {
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
    for p in pending {
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
        let ids = spread_ids(max, executors);
        aos_batch(&pool, &module, &ids, &meter); // spawn the processes before measuring
        group.bench_with_input(
            BenchmarkId::new("executors", executors),
            &executors,
            |b, &executors| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        aos_batch(&pool, &module, &ids, &meter);
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

criterion_group!(benches, aos_scaling, scaling, summary);
criterion_main!(benches);
