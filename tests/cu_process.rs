//! The CU's per-process evaluation on a real AOS process (`aos-dock.wasm`), through the
//! library: a schedule written to the store, evaluated in slot order with checkpoints; a
//! process loaded again on the same store restores the latest checkpoint and goes on with
//! byte-identical results; a corrupt checkpoint is discarded and the process rebuilt by replay;
//! a dry-run leaves no trace; error results keep the state; outboxes are given once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod prereq;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aocu::ao::Tag;
use aocu::cu::{CheckpointEvery, Context, Cost, Held, MemoryBudget};
use aocu::store::{Assignment, ModuleRecord, ProcessRecord, ScheduledMessage, Store, StoredResult};
use aocu::wasm::{ModuleCache, NodeLimits, WasmEngine};
use serde_json::{Value, json};

const OWNER: &str = "OWNER000000000000000000000000000000000000000";
const MODULE: &str = "MODULE00000000000000000000000000000000000000";
const PID: &str = "PROCESS0000000000000000000000000000000000000";

fn tag(name: &str, value: &str) -> Tag {
    Tag {
        name: name.into(),
        value: value.into(),
    }
}

fn id(n: u64) -> String {
    format!("{n:0>43}")
}

/// Append slot `slot` of the test process with `code` as an Eval from the owner.
fn append(store: &Store, slot: u64, code: &str) {
    let tags = if slot == 0 {
        vec![
            tag("Data-Protocol", "ao"),
            tag("Type", "Process"),
            tag("Module", MODULE),
        ]
    } else {
        vec![
            tag("Data-Protocol", "ao"),
            tag("Type", "Message"),
            tag("Action", "Eval"),
        ]
    };
    let mid = if slot == 0 { PID.to_string() } else { id(slot) };
    let timestamp = 1_732_000_000_000 + slot * 10;
    let message = json!({
        "Id": mid, "Owner": OWNER, "From": OWNER, "Target": PID,
        "Tags": tags.iter().map(|t| json!({"name": t.name, "value": t.value})).collect::<Vec<_>>(),
        "Data": code,
    });
    store
        .append(PID, None, |current| {
            let record = ProcessRecord {
                id: PID.into(),
                owner: OWNER.into(),
                module: MODULE.into(),
                scheduler: OWNER.into(),
                tags: current
                    .as_ref()
                    .map_or(tags.clone().into(), |c| c.tags.clone()),
                next_slot: slot + 1,
                last_message_id: mid.clone(),
                last_hash_chain: String::new(),
                last_timestamp: timestamp,
            };
            let scheduled = ScheduledMessage {
                id: mid.clone(),
                assignment: Assignment {
                    process: PID.into(),
                    slot,
                    epoch: 0,
                    timestamp,
                    block_height: 1_500_000,
                    hash_chain: String::new(),
                },
                message,
            };
            Ok((record, scheduled))
        })
        .unwrap();
}

/// A store with the AOS module and a process of `n` Evals that count.
fn schedule(dir: &Path, aos: &Path, n: u64) {
    let store = Store::open(dir).unwrap();
    let wasm = std::fs::read(aos).unwrap();
    let module = ModuleRecord {
        id: MODULE.into(),
        owner: Some(OWNER.into()),
        tags: vec![
            tag("Data-Protocol", "ao"),
            tag("Type", "Module"),
            tag(
                "Module-Format",
                "wasm64-unknown-emscripten-draft_2024_02_15",
            ),
            tag("Memory-Limit", "1-gb"),
        ]
        .into(),
        size: wasm.len() as u64,
        added_at_ms: 1,
    };
    store.put_module(&module, &wasm).unwrap();
    append(&store, 0, "");
    for slot in 1..=n {
        append(&store, slot, "Counter = (Counter or 0) + 1\nreturn Counter");
    }
}

fn engine_cache() -> Arc<ModuleCache> {
    use std::sync::OnceLock;
    static CACHE: OnceLock<Arc<ModuleCache>> = OnceLock::new();
    CACHE
        .get_or_init(|| Arc::new(ModuleCache::new(WasmEngine::new().unwrap())))
        .clone()
}

fn context(store: Arc<Store>, every: u64) -> Context {
    Context {
        store,
        modules: engine_cache(),
        limits: NodeLimits::default(),
        checkpoints: CheckpointEvery {
            messages: every,
            interval: Duration::ZERO,
        },
        meter: None,
        cron: true,
        budget: Arc::new(MemoryBudget::unlimited()),
        weave: None,
        imports: None,
        publisher: None,
        blocks: None,
        price: Arc::new(aocu::price::Schedule::new(aocu::price::free())),
    }
}

/// Load the process (from its checkpoint when there is one) and evaluate up to `to`.
fn run(ctx: &Context, to: u64) -> Held {
    let mut held = Held::load(ctx, PID).unwrap();
    held.advance(ctx, PID, to, (0, None)).unwrap();
    held
}

fn results(store: &Store, n: u64) -> Vec<StoredResult> {
    store
        .results(PID, 0, n, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(_, r)| r)
        .collect()
}

fn data(result: &Value) -> String {
    result["Output"]["data"]
        .as_str()
        .map_or_else(|| result["Output"]["data"].to_string(), str::to_string)
}

#[test]
fn checkpoints_restore_byte_identical_and_bad_ones_are_replayed() {
    let Some(aos) = prereq::testdata("wasm/aos-dock.wasm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (whole, halves, corrupt) = (
        dir.path().join("whole"),
        dir.path().join("halves"),
        dir.path().join("corrupt"),
    );
    for d in [&whole, &halves, &corrupt] {
        schedule(d, &aos, 60);
    }

    // Reference: all 60 in one go, no checkpoints.
    let reference = {
        let store = Arc::new(Store::open(&whole).unwrap());
        let held = run(&context(store.clone(), 0), u64::MAX);
        assert_eq!(held.next_slot(), 61);
        assert_eq!(store.latest_checkpoint(PID, u64::MAX).unwrap(), None);
        let all = results(&store, 60);
        for (k, r) in all.iter().enumerate().skip(1) {
            assert_eq!(data(&r.result), k.to_string(), "{}", r.result);
        }
        all
    };

    // Halves: 35 with a checkpoint every 10 messages (the last at slot 29), a new CU, then the rest.
    {
        let store = Arc::new(Store::open(&halves).unwrap());
        let ctx = context(store.clone(), 10);
        assert_eq!(run(&ctx, 35).next_slot(), 36);
        let (slot, _) = store.latest_checkpoint(PID, u64::MAX).unwrap().unwrap();
        assert_eq!(slot, 29);
        let held = Held::load(&ctx, PID).unwrap();
        assert_eq!(held.next_slot(), 30, "restored after slot 29");
        run(&ctx, u64::MAX);
        assert_eq!(
            results(&store, 60),
            reference,
            "results after a restore differ"
        );
    }

    // Corrupt: a checkpoint whose bytes were damaged is discarded; replay gives the same.
    {
        let store = Arc::new(Store::open(&corrupt).unwrap());
        run(&context(store.clone(), 10), 20);
        let (slot, mut frame) = store.latest_checkpoint(PID, u64::MAX).unwrap().unwrap();
        let at = frame.len() / 2;
        frame[at] ^= 0x55;
        store.put_checkpoint(PID, slot, &frame).unwrap();
        let held = run(&context(store.clone(), 0), u64::MAX);
        assert_eq!(held.next_slot(), 61);
        assert_eq!(
            store.latest_checkpoint(PID, u64::MAX).unwrap(),
            None,
            "the bad checkpoint is removed"
        );
        assert_eq!(results(&store, 60), reference);
    }
}

#[test]
fn dry_runs_leave_no_trace_and_costs_are_metered() {
    let Some(aos) = prereq::testdata("wasm/aos-dock.wasm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    schedule(dir.path(), &aos, 5);
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let costs: Arc<Mutex<Vec<Cost>>> = Arc::default();
    let mut ctx = context(store.clone(), 0);
    let sink = costs.clone();
    ctx.meter = Some(Arc::new(move |c: &Cost| {
        sink.lock().unwrap().push(c.clone())
    }));
    ctx.price.set(aocu::hw::profile::Price {
        per_message: 3,
        ..aocu::price::free()
    });
    let mut held = run(&ctx, u64::MAX);
    assert_eq!(costs.lock().unwrap().len(), 6, "the spawn and 5 messages");
    assert!(costs.lock().unwrap().iter().all(|c| c.fuel > 0 && !c.error));
    let mut dry = |code: &str| {
        let body = serde_json::from_value(json!({
            "Id": "1234", "Owner": OWNER, "Target": PID, "Data": code,
            "Tags": [{"name": "Action", "value": "Eval"}], "Anchor": "0"
        }))
        .unwrap();
        held.dry_run(&ctx, PID, body, (0, None)).unwrap().0
    };
    assert_eq!(data(&dry("return Counter")), "5");
    assert_eq!(
        data(&dry("Counter = Counter + 1000\nreturn Counter")),
        "1005"
    );
    let failed = dry("error('dry boom')");
    assert!(failed["Error"].to_string().contains("dry boom"), "{failed}");
    assert_eq!(
        data(&dry("return Counter")),
        "5",
        "dry-runs changed the state"
    );
    // Nothing persisted, nothing metered: the results are those of the schedule only.
    assert_eq!(store.results(PID, 0, 100, 100).unwrap().len(), 6);
    assert_eq!(costs.lock().unwrap().len(), 6);
    // But the ledger charged every one, flagged: 6 messages and 4 dry-runs at 3 each.
    let node = store.account(aocu::store::AccountOf::Node).unwrap();
    assert_eq!((node.messages, node.dry_runs), (6, 4));
    assert_eq!((node.charged, node.charged_dry_runs), (30, 12));
    append(&store, 6, "return Counter");
    held.advance(&ctx, PID, 6, (0, None)).unwrap();
    let stored = store.result(PID, 6).unwrap().unwrap();
    assert_eq!(data(&stored.result), "5", "{}", stored.result);
    let (slot, memory) = held.memory();
    assert_eq!(slot, Some(6));
    assert!(memory.len() >= 64 << 10);
}

#[test]
fn an_error_result_keeps_the_state_and_the_outbox_is_given_once() {
    let Some(aos) = prereq::testdata("wasm/aos-dock.wasm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    schedule(dir.path(), &aos, 2);
    let store = Arc::new(Store::open(dir.path()).unwrap());
    append(&store, 3, "Counter = 99\nerror('boom')");
    append(
        &store,
        4,
        "Send({Target = 'T000000000000000000000000000000000000000000', Data = 'hi'})\nreturn Counter",
    );
    let ctx = context(store.clone(), 0);
    let mut held = Held::load(&ctx, PID).unwrap();
    let outboxes = held.advance(&ctx, PID, 4, (0, None)).unwrap();
    assert_eq!(outboxes.len(), 5, "one per newly evaluated slot");
    let boom = store.result(PID, 3).unwrap().unwrap().result;
    assert!(boom["Error"].to_string().contains("boom"), "{boom}");
    let sent = &outboxes[4].result;
    assert_eq!(data(sent), "2", "the error left Counter as it was: {sent}");
    assert_eq!(
        sent["Messages"][0]["Target"],
        "T000000000000000000000000000000000000000000"
    );
    // Evaluated again from scratch (as after a restart without checkpoint): same results, and
    // no outbox given a second time.
    let mut again = Held::load(&ctx, PID).unwrap();
    assert!(again.advance(&ctx, PID, 4, (0, None)).unwrap().is_empty());
    assert_eq!(store.result(PID, 4).unwrap().unwrap().result, *sent);
}
