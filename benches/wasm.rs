//! Process evaluation throughput.
//!
//! - `aos/return-1+1`: one AOS (`aos-dock.wasm`) message on one thread through the full path:
//!   message JSON built and written, `handle` called with fuel metering and the epoch guard,
//!   the result JSON parsed, metering recorded, the message logged for rollback (with the
//!   periodic checkpoints that protect the state). Reported as messages/s.
//! - `aos-threads/N`: N threads, each owning its own process, the same message: total messages/s
//!   (scaling of independent processes over cores).
//! - `echo/abi`: the ABI overhead per message with the echo kernel (JSON in, malloc, call, JSON
//!   out parsed, free).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Bench code: a panic is a failure.
#![allow(missing_docs)] // `criterion_group!` makes undocumented public functions.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aocu::wasm::{
    Limits, LoadedModule, MessageInput, ModuleCache, NodeLimits, Process, WasmEngine,
};
use criterion::{Criterion, Throughput, criterion_group};
use serde_json::{Value, json};

fn shared() -> PathBuf {
    let near = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if near.join("testdata").exists() {
        near
    } else {
        PathBuf::from("/work/shared")
    }
}

fn env() -> Value {
    json!({
        "Process": {"Id": "PROCESS-ID-00000000000000000000000000000000",
                    "Owner": "OWNER-ADDRESS-00000000000000000000000000000",
                    "Tags": [{"name": "Name", "value": "bench"}, {"name": "Type", "value": "Process"}]},
        "Module": {"Id": "MODULE-ID-000000000000000000000000000000000",
                   "Tags": [{"name": "Module-Format", "value": "wasm64-unknown-emscripten-draft_2024_02_15"}]},
    })
}

fn message(code: &str) -> Value {
    json!({
        "Id": "MSG-000000000000000000000000000000000000001",
        "Target": "PROCESS-ID-00000000000000000000000000000000",
        "Owner": "OWNER-ADDRESS-00000000000000000000000000000",
        "From": "OWNER-ADDRESS-00000000000000000000000000000",
        "Block-Height": "1500001",
        "Timestamp": "1732000001000",
        "Module": "MODULE-ID-000000000000000000000000000000000",
        "Tags": [{"name": "Action", "value": "Eval"}],
        "Data": code,
    })
}

fn spawn(module: &Arc<LoadedModule>) -> Process {
    Process::spawn(module.clone(), Limits::from_node(&NodeLimits::default())).expect("spawn")
}

/// One full-path evaluation; panics if the process did not answer `2`.
fn one(process: &mut Process, msg: &Value, env: &Value) {
    let out = process.evaluate(MessageInput::new(msg, env));
    assert!(out.failure.is_none(), "{:?}", out.failure);
    std::hint::black_box(out.metering);
}

fn bench(c: &mut Criterion) {
    let cache = ModuleCache::new(WasmEngine::new().expect("engine"));
    let aos = cache
        .load(&std::fs::read(shared().join("testdata/wasm/aos-dock.wasm")).expect("aos-dock.wasm"))
        .expect("load");
    let (msg, env) = (message("return 1+1"), env());

    let mut group = c.benchmark_group("aos");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(8));
    let mut process = spawn(&aos);
    let check = process.evaluate(MessageInput::new(&msg, &env));
    assert_eq!(check.result.output.as_ref().unwrap()["data"], "2");
    group.bench_function("return-1+1", |b| b.iter(|| one(&mut process, &msg, &env)));
    group.finish();

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut group = c.benchmark_group("aos-threads");
    group.measurement_time(Duration::from_secs(8));
    for threads in 1..=cores {
        let mut processes: Vec<Process> = (0..threads).map(|_| spawn(&aos)).collect();
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_function(format!("{threads}"), |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                std::thread::scope(|s| {
                    for p in processes.iter_mut() {
                        let (msg, env) = (&msg, &env);
                        s.spawn(move || {
                            for _ in 0..iters {
                                one(p, msg, env);
                            }
                        });
                    }
                });
                started.elapsed()
            })
        });
    }
    group.finish();

    let echo_wasm = wat::parse_file(concat!(env!("CARGO_MANIFEST_DIR"), "/kernels/echo.wat"))
        .expect("echo.wat");
    let echo = cache.load(&echo_wasm).expect("echo loads");
    let mut process = spawn(&echo);
    let mut group = c.benchmark_group("echo");
    group.throughput(Throughput::Elements(1));
    group.bench_function("abi", |b| b.iter(|| one(&mut process, &msg, &env)));
    group.finish();
}

criterion_group!(benches, bench);
/// `criterion_main!` with the environment of the `aocu` binary: library errors capture no Rust
/// backtraces (see [`aocu::wasm::quiet_error_backtraces`]).
#[allow(unsafe_code)] // One environment write before any thread starts: argued below.
fn main() {
    // SAFETY: first thing in `main`: no other thread has been started.
    unsafe { aocu::wasm::quiet_error_backtraces() };
    benches();
    Criterion::default().configure_from_args().final_summary();
}
