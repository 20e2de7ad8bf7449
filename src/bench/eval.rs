//! AOS message evaluation on the executor pool: `Eval` messages of `return 1+1` to real AOS
//! processes, one process per executor, the full path an evaluation takes in the node (JSON
//! in, result parsed, fuel and epoch limits on). Measured on one pinned executor, on every
//! planned executor pinned, and on as many unpinned threads, so that `aocu bench` shows what
//! pinning buys on this machine.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use crate::exec::{CorePlan, Pool, executor_for};
use crate::meter::MessageRecord;
use crate::wasm::{Limits, LoadedModule, MessageInput, NodeLimits, Process};

/// How the executors run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Each executor thread pinned to its planned CPU.
    Pinned,
    /// The same number of threads, left to the OS scheduler.
    Unpinned,
}

/// A pool of AOS processes, one per executor, ready to evaluate.
pub struct EvalRig {
    pool: Pool<Process>,
    module: Arc<LoadedModule>,
    ids: Vec<String>,
    sent: u64,
    last: Option<MessageRecord>,
}

impl EvalRig {
    /// Executors of `plan`, placed as `placement`, each holding one process of `module`
    /// (spawned and warmed by one message before anything is measured).
    pub fn new(
        module: Arc<LoadedModule>,
        plan: &CorePlan,
        placement: Placement,
    ) -> Result<EvalRig, String> {
        let depth = NonZeroUsize::new(1024).unwrap_or(NonZeroUsize::MIN);
        let pool = match placement {
            Placement::Pinned => Pool::new(plan, depth),
            Placement::Unpinned => Pool::unpinned(
                NonZeroUsize::new(plan.len()).unwrap_or(NonZeroUsize::MIN),
                depth,
            ),
        }
        .map_err(|e| e.to_string())?;
        let ids = spread_ids(plan.len(), plan.len());
        let mut rig = EvalRig {
            pool,
            module,
            ids,
            sent: 0,
            last: None,
        };
        let warm = rig.ids.len();
        rig.run(warm)?;
        Ok(rig)
    }

    /// Evaluate `messages` messages, round-robin over the processes; messages per second.
    pub fn run(&mut self, messages: usize) -> Result<f64, String> {
        let inputs: Vec<(String, MessageInput)> = (0..messages)
            .map(|m| {
                let id = self.ids[m % self.ids.len()].clone();
                let input = eval_input(&id, self.sent + m as u64);
                (id, input)
            })
            .collect();
        self.sent += messages as u64;
        let started = Instant::now();
        let pending: Vec<_> = inputs
            .into_iter()
            .map(|(id, input)| {
                let module = self.module.clone();
                self.pool.enqueue_blocking(&id.clone(), move |shard| {
                    let (executor, cpu) = (shard.executor(), shard.cpu());
                    let process = shard.try_get_or_insert_with(&id, || {
                        Process::spawn(module, Limits::from_node(&NodeLimits::default()))
                    })?;
                    let evaluation = process.evaluate(input);
                    let record =
                        MessageRecord::of_evaluation(&id, "bench", &evaluation, executor, cpu);
                    Ok::<_, crate::wasm::WasmError>(record)
                })
            })
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        // Newest first: one wake-up per executor rather than per message.
        let mut newest = None;
        for pending in pending.into_iter().rev() {
            let record = pending
                .wait()
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("the process does not run: {e}"))?;
            if record.error {
                return Err("`return 1+1` answered an error: is this an AOS module?".into());
            }
            newest.get_or_insert(record);
        }
        self.last = newest.or(self.last.take());
        let rate = messages as f64 / started.elapsed().as_secs_f64();
        Ok(rate)
    }

    /// The metering of the newest message of the last run (fuel, memory, wall time).
    pub fn last_record(&self) -> Option<&MessageRecord> {
        self.last.as_ref()
    }

    /// Whether every executor thread is pinned.
    pub fn pinned(&self) -> bool {
        self.pool.stats().iter().all(|s| s.pinned)
    }
}

/// `processes` process IDs spread evenly over `executors` (placement is by hash: a rig
/// measures the pool, not the luck of N IDs).
pub fn spread_ids(processes: usize, executors: usize) -> Vec<String> {
    let mut per_executor = vec![0usize; executors];
    let quota = processes.div_ceil(executors.max(1));
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

/// The `seq`-th `Eval` of `return 1+1` to `process`.
pub fn eval_input(process: &str, seq: u64) -> MessageInput {
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
