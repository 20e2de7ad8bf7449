//! The AO process ABI, limits and state protection, exercised with the small WAT kernels in
//! `kernels/` (compiled at test time).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod prereq;
mod wasm_common;

use aocu::wasm::{CheckpointPolicy, Failure, MessageInput, Process, Snapshot};
use serde_json::json;
use wasm_common::{data, env, kernel, message, spawn};

fn msg(n: u64, data: &str) -> MessageInput {
    MessageInput::new(&message(n, &[("Action", "Test")], data), &env(&[]))
}

#[test]
fn echo_returns_the_message_json() {
    let mut p = spawn(kernel("echo"), None, None, 5_000);
    for n in 1..=3 {
        let m = message(
            n,
            &[("Action", "Echo"), ("X", "y")],
            &"z".repeat(n as usize * 100),
        );
        let out = p.evaluate(MessageInput::new(&m, &env(&[])));
        assert!(out.failure.is_none(), "{:?}", out.failure);
        assert_eq!(out.result.output.as_ref(), Some(&m));
        assert_eq!(out.result.messages, Some(json!([])));
        assert!(out.metering.fuel > 0 && out.metering.memory_bytes >= 2 * 65_536);
    }
}

#[test]
fn counter_state_persists_and_a_trap_is_undone() {
    let mut p = spawn(kernel("counter"), None, None, 5_000);
    for n in 1..=3 {
        let out = p.evaluate(msg(n, "count"));
        assert_eq!(data(&out.result), n.to_string());
        assert_eq!(out.result.output.as_ref().unwrap()["global"], n.to_string());
    }
    // The kernel counts, then traps: both counters must be back.
    let out = p.evaluate(msg(4, "trap!"));
    assert!(
        matches!(out.failure, Some(Failure::Trap(_))),
        "{:?}",
        out.failure
    );
    assert!(out.reverted && out.result.has_error());
    let out = p.evaluate(msg(5, "count"));
    assert_eq!(data(&out.result), "4");
    assert_eq!(out.result.output.as_ref().unwrap()["global"], "4");
}

#[test]
fn rollback_replays_from_a_snapshot_checkpoint() {
    let mut p = spawn(kernel("counter"), None, None, 5_000);
    p.set_checkpoint_policy(CheckpointPolicy {
        max_messages: 3,
        ..CheckpointPolicy::default()
    });
    for n in 1..=7 {
        assert_eq!(data(&p.evaluate(msg(n, "count")).result), n.to_string());
    }
    assert_eq!(p.stats().checkpoints, 2);
    assert!(p.evaluate(msg(8, "!")).reverted);
    assert_eq!(p.stats().replayed, 1);
    assert_eq!(data(&p.evaluate(msg(9, "count")).result), "8");
    assert!(p.evaluate(msg(10, "!")).reverted);
    assert_eq!(p.stats().replayed, 2);
    // Failures in a row restore the new checkpoint without replaying again.
    assert!(p.evaluate(msg(12, "!")).reverted);
    assert_eq!(p.stats().replayed, 2);
    assert_eq!(data(&p.evaluate(msg(11, "count")).result), "9");
}

#[test]
fn snapshots_round_trip_through_bytes() {
    let module = kernel("counter");
    let mut p = spawn(module.clone(), None, None, 5_000);
    for n in 1..=5 {
        p.evaluate(msg(n, "count"));
    }
    let bytes = p.snapshot().to_bytes();
    let snapshot = Snapshot::from_bytes(&bytes).unwrap();
    let mut q = Process::restore(module, p.limits(), &snapshot).unwrap();
    let out = q.evaluate(msg(6, "count"));
    assert_eq!(data(&out.result), "6");
    assert_eq!(out.result.output.as_ref().unwrap()["global"], "6");
    // A snapshot of another module is refused.
    let other = kernel("echo");
    assert!(Process::restore(other, p.limits(), &snapshot).is_err());
}

#[test]
fn fuel_limit_ends_an_endless_loop_and_the_process_goes_on() {
    let mut p = spawn(kernel("spin"), None, Some("50000000"), 60_000);
    let first = p.evaluate(msg(1, "spin"));
    assert!(first.failure.is_none(), "{:?}", first.failure);
    let out = p.evaluate(msg(2, "forever!"));
    assert_eq!(out.failure, Some(Failure::OutOfFuel { limit: 50_000_000 }));
    assert!(out.metering.fuel >= 50_000_000);
    let again = p.evaluate(msg(3, "spin"));
    assert_eq!(data(&again.result), data(&first.result));
    // Fuel is deterministic: the same message costs the same.
    assert_eq!(again.metering.fuel, first.metering.fuel);
}

#[test]
fn timeout_ends_an_endless_loop_and_the_process_goes_on() {
    let mut p = spawn(kernel("spin"), None, None, 200);
    let started = std::time::Instant::now();
    let out = p.evaluate(msg(1, "forever!"));
    assert!(
        matches!(out.failure, Some(Failure::Timeout { .. })),
        "{:?}",
        out.failure
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(p.evaluate(msg(2, "spin")).failure.is_none());
}

#[test]
fn memory_limit_stops_growth_and_restores_the_size() {
    let mut p = spawn(kernel("grow"), Some("4-mb"), None, 5_000);
    for (n, pages) in [(1, "18"), (2, "34"), (3, "50")] {
        assert_eq!(data(&p.evaluate(msg(n, "grow")).result), pages);
    }
    let before = p.memory_bytes();
    let out = p.evaluate(msg(4, "grow"));
    assert_eq!(out.failure, Some(Failure::MemoryLimit { limit: 4 << 20 }));
    assert_eq!(p.memory_bytes(), before);
    // Still usable (and still at the limit).
    assert!(p.evaluate(msg(5, "grow")).reverted);
    assert_eq!(p.memory_bytes(), before);
}
