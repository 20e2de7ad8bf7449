//! Real processes on the executor pool: messages to many processes spread over every executor
//! give, per process, exactly the results of running them one by one on a single executor;
//! and the meter counts every one of them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod prereq;
mod wasm_common;

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::Arc;

use aocu::exec::{CorePlan, ExecutorsSetting, Pending, Pool};
use aocu::meter::{MessageRecord, Meter};
use aocu::wasm::{Limits, LoadedModule, MessageInput, NodeLimits, Process, WasmError};
use serde_json::{Value, json};
use wasm_common::{OWNER, kernel, module};

fn n(v: usize) -> NonZeroUsize {
    NonZeroUsize::new(v).unwrap()
}

fn process_id(i: usize) -> String {
    format!("PROCESS-{i:035}")
}

/// Message `seq` to `process` with `data`, from the owner, as an `Eval`.
fn input(process: &str, seq: usize, data: &str) -> (String, MessageInput) {
    let id = format!("MSG-{seq:039}");
    let message = json!({
        "Id": id, "Target": process, "Owner": OWNER, "From": OWNER,
        "Block-Height": (1_500_000 + seq).to_string(),
        "Timestamp": (1_732_000_000_000u64 + seq as u64 * 1000).to_string(),
        "Module": "MODULE-ID-000000000000000000000000000000000",
        "Tags": [{"name": "Action", "value": "Eval"}],
        "Data": data,
    });
    let env = json!({
        "Process": {"Id": process, "Owner": OWNER, "Tags": [{"name": "Type", "value": "Process"}]},
        "Module": {"Id": "MODULE-ID-000000000000000000000000000000000", "Tags": []},
    });
    (id, MessageInput::new(&message, &env))
}

type Results = BTreeMap<String, Vec<Value>>;

/// Send `messages` (process, data) through `pool` in order and collect each process' results
/// in its message order. With `wait_each`, every message is waited for before the next.
fn run(
    pool: &Pool<Process>,
    module: &Arc<LoadedModule>,
    messages: &[(String, String)],
    meter: &Meter,
    wait_each: bool,
) -> Results {
    let mut pending: Vec<(String, Pending<Result<Value, WasmError>>)> = Vec::new();
    let mut results = Results::new();
    for (seq, (process, data)) in messages.iter().enumerate() {
        let (message_id, input) = input(process, seq, data);
        let (module, meter, id) = (module.clone(), meter.clone(), process.clone());
        let job = pool
            .enqueue_blocking(process, move |shard| {
                let (executor, cpu) = (shard.executor(), shard.cpu());
                let state = shard.try_get_or_insert_with(&id, || {
                    Process::spawn(module, Limits::from_node(&NodeLimits::default()))
                })?;
                let evaluation = state.evaluate(input);
                let record =
                    MessageRecord::of_evaluation(&id, &message_id, &evaluation, executor, cpu);
                meter.record(&record);
                Ok(evaluation.result.to_json())
            })
            .unwrap();
        if wait_each {
            let value = job.wait().unwrap().unwrap();
            results.entry(process.clone()).or_default().push(value);
        } else {
            pending.push((process.clone(), job));
        }
    }
    for (process, job) in pending {
        let value = job.wait().unwrap().unwrap();
        results.entry(process).or_default().push(value);
    }
    results
}

/// Parallel on every executor of the `all` plan vs one by one on a single executor.
fn compare(module: Arc<LoadedModule>, messages: &[(String, String)]) -> Results {
    let plan = CorePlan::new(&ExecutorsSetting::All, &aocu::hw::cpu::discover()).unwrap();
    let parallel_meter = Meter::new(plan.len());
    let pool: Pool<Process> = Pool::new(&plan, n(64)).unwrap();
    let parallel = run(&pool, &module, messages, &parallel_meter, false);
    let stats = pool.stats();
    drop(pool);
    let single_meter = Meter::new(1);
    let pool: Pool<Process> = Pool::unpinned(n(1), n(64)).unwrap();
    let single = run(&pool, &module, messages, &single_meter, true);
    drop(pool);

    assert_eq!(parallel.len(), single.len());
    for (process, results) in &single {
        assert_eq!(parallel.get(process), Some(results), "{process}");
    }
    // Every executor took part, and both meters counted every message of every process.
    if plan.len() > 1 {
        assert!(stats.iter().all(|s| s.jobs_done > 0), "{stats:?}");
    }
    let (p, s) = (parallel_meter.totals(), single_meter.totals());
    assert_eq!(p.node.messages, messages.len() as u64);
    assert_eq!(
        (p.node.messages, p.node.errors),
        (s.node.messages, s.node.errors)
    );
    for (process, results) in &single {
        assert_eq!(p.processes[process].messages, results.len() as u64);
        // Fuel is deterministic: the same messages cost the same wherever they ran.
        assert_eq!(
            p.processes[process].fuel, s.processes[process].fuel,
            "{process}"
        );
    }
    single
}

#[test]
fn thousand_messages_to_64_counter_processes() {
    let ids: Vec<String> = (0..64).map(process_id).collect();
    // A fixed pseudo-random order of processes; every 9th message traps (and is rolled back).
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let messages: Vec<(String, String)> = (0..1000)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let data = if i % 9 == 0 { "trap!" } else { "count" };
            (ids[(x % 64) as usize].clone(), data.to_string())
        })
        .collect();
    let results = compare(kernel("counter"), &messages);
    assert_eq!(results.values().map(Vec::len).sum::<usize>(), 1000);
    // The counter's state carried across messages: the last good answer of each process is
    // the number of its messages that did not trap.
    for (process, results) in &results {
        let good = messages
            .iter()
            .filter(|(p, d)| p == process && d == "count")
            .count();
        let last = results
            .iter()
            .rev()
            .find(|r| r.get("Error").is_none())
            .map(|r| r["Output"]["data"].clone());
        if good > 0 {
            assert_eq!(last, Some(json!(good.to_string())), "{process}");
        }
    }
}

#[test]
fn aos_processes_keep_their_own_state_across_executors() {
    if prereq::testdata("wasm/aos-dock.wasm").is_none() {
        return;
    }
    let ids: Vec<String> = (0..8).map(process_id).collect();
    let messages: Vec<(String, String)> = (0..48)
        .map(|i| {
            let process = ids[(i * 5) % 8].clone();
            let code = match i % 4 {
                0 => format!("n = (n or 0) + {i}; return n"),
                1 => "return 1+1".to_string(),
                2 => format!("error('boom {i}')"),
                _ => "return n".to_string(),
            };
            (process, code)
        })
        .collect();
    let results = compare(module("aos-dock.wasm"), &messages);
    let all: Vec<&Value> = results.values().flatten().collect();
    assert!(
        all.iter().any(|r| r["Output"]["data"] == json!("2")),
        "{all:?}"
    );
    assert!(all.iter().any(|r| r.get("Error").is_some()));
}
