//! Executor pool scaling: messages per second on 1..N pinned executors with N processes
//! (N = the allowed CPUs, physical cores first), and the speed-up against one executor in the
//! same run.
//!
//! The work per message is a CPU-bound closure (BLAKE3 over a 64 KiB buffer that the process
//! owns and rewrites each message, about 40-60 µs on one core): it has the shape of a process
//! evaluation (state owned by the executor, changed in place, result sent back) without the
//! process runtime.
//!
//! Each iteration sends a batch of messages round-robin over the N processes and waits for all
//! of them: throughput is what the pool sustains with every queue fed.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aocu::exec::{CorePlan, ExecutorsSetting, Pool, Shard, executor_for};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Messages per batch (per criterion iteration).
const BATCH: usize = 256;
/// Bytes of state each process hashes and rewrites per message.
const STATE_BYTES: usize = 64 << 10;

/// (total time, messages) per executor count, for the scaling summary.
static MEASURED: Mutex<BTreeMap<usize, (Duration, u64)>> = Mutex::new(BTreeMap::new());

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
                    let mut measured = MEASURED.lock().unwrap_or_else(|p| p.into_inner());
                    let entry = measured.entry(executors).or_default();
                    entry.0 += took;
                    entry.1 += iters * BATCH as u64;
                    took
                })
            },
        );
        let pinned = pool.stats().iter().all(|s| s.pinned);
        eprintln!("executors={executors} cpus={:?} pinned={pinned}", plan.cpus);
    }
    group.finish();
    summary();
}

/// Messages per second per executor count, and the speed-up over one executor.
fn summary() {
    let measured = MEASURED.lock().unwrap_or_else(|p| p.into_inner());
    let rate = |(took, messages): &(Duration, u64)| *messages as f64 / took.as_secs_f64();
    let Some(one) = measured.get(&1).map(rate) else {
        return;
    };
    println!("\nexecutor scaling (cpu-bound closure, {BATCH}-message batches):");
    println!("{:>10} {:>14} {:>10}", "executors", "msg/s", "speed-up");
    for (executors, m) in measured.iter() {
        println!("{executors:>10} {:>14.0} {:>9.2}x", rate(m), rate(m) / one);
    }
}

criterion_group!(benches, scaling);
criterion_main!(benches);
