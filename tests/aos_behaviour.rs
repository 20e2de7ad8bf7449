//! AOS behaviours on both builds — `aos-dock.wasm` (emscripten) and `aos-2-pure.wasm` (WASI-style,
//! legacy exception handling translated at load): values, state, outbox, errors, and limits that
//! end runaway messages while the process keeps working.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod prereq;
mod wasm_common;

use aocu::wasm::{Failure, MessageInput, Process, Snapshot};
use wasm_common::{data, env, eval, message, module, spawn};

#[allow(non_snake_case, unused_variables)]
fn values_state_and_outbox(MODULE: &str, bomb: &str) {
    let mut p = spawn(module(MODULE), None, None, 30_000);
    assert_eq!(data(&p.evaluate(eval(1, "return 1+1")).result), "2");
    assert_eq!(data(&p.evaluate(eval(2, "Greeting = 'hello'")).result), "");
    assert_eq!(
        data(&p.evaluate(eval(3, "return Greeting .. ' world'")).result),
        "hello world"
    );
    let out = p.evaluate(eval(
        4,
        "Send({Target = 'TARGET-PROCESS-000000000000000000000000000000', Action = 'Ping', Data = 'payload'})",
    ));
    let messages = out
        .result
        .messages
        .as_ref()
        .and_then(|m| m.as_array())
        .unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let sent = &messages[0];
    assert_eq!(
        sent["Target"],
        "TARGET-PROCESS-000000000000000000000000000000"
    );
    assert_eq!(sent["Data"], "payload");
    let tags = sent["Tags"].as_array().unwrap();
    let tag = |name: &str| {
        tags.iter()
            .find(|t| t["name"] == name)
            .map(|t| t["value"].clone())
    };
    assert_eq!(tag("Action"), Some("Ping".into()));
    assert_eq!(tag("Data-Protocol"), Some("ao".into()));
    assert_eq!(tag("Type"), Some("Message".into()));
}

#[allow(non_snake_case, unused_variables)]
fn errors_leave_the_state_as_before(MODULE: &str, bomb: &str) {
    let mut p = spawn(module(MODULE), None, None, 30_000);
    p.evaluate(eval(1, "Counter = 1"));
    let out = p.evaluate(eval(2, "Counter = 99; error('boom')"));
    assert!(
        out.result
            .error
            .as_ref()
            .unwrap()
            .as_str()
            .unwrap()
            .ends_with("boom")
    );
    assert_eq!(out.failure, Some(Failure::ProcessError));
    assert!(out.reverted);
    // AO's CU discards the memory of an errored message: the assignment before error() is gone.
    assert_eq!(data(&p.evaluate(eval(3, "return Counter")).result), "1");
}

#[allow(non_snake_case, unused_variables)]
fn an_endless_loop_runs_out_of_compute(MODULE: &str, bomb: &str) {
    let mut p = spawn(module(MODULE), None, Some("2000000000"), 60_000);
    p.evaluate(eval(1, "Counter = 7"));
    let out = p.evaluate(eval(2, "while true do end"));
    assert_eq!(
        out.failure,
        Some(Failure::OutOfFuel {
            limit: 2_000_000_000
        })
    );
    assert!(out.result.has_error());
    assert_eq!(data(&p.evaluate(eval(3, "return Counter")).result), "7");
}

#[allow(non_snake_case, unused_variables)]
fn an_endless_loop_times_out(MODULE: &str, bomb: &str) {
    let mut p = spawn(module(MODULE), None, None, 300);
    p.evaluate(eval(1, "Counter = 8"));
    let out = p.evaluate(eval(2, "while true do end"));
    assert!(
        matches!(out.failure, Some(Failure::Timeout { .. })),
        "{:?}",
        out.failure
    );
    assert_eq!(data(&p.evaluate(eval(3, "return Counter")).result), "8");
}

#[allow(non_snake_case, unused_variables)]
fn a_memory_bomb_hits_the_memory_limit(MODULE: &str, bomb: &str) {
    let mut p = spawn(module(MODULE), Some(bomb), None, 60_000);
    p.evaluate(eval(1, "Counter = 9"));
    let before = p.memory_bytes();
    let out = p.evaluate(eval(
        2,
        "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 4096) .. i end",
    ));
    assert_eq!(
        out.failure,
        Some(Failure::MemoryLimit {
            limit: aocu::wasm::limits::parse_memory_limit(bomb).unwrap()
        }),
        "{:?}",
        out.result
    );
    assert!(out.result.has_error());
    assert_eq!(p.memory_bytes(), before);
    assert_eq!(data(&p.evaluate(eval(3, "return Counter")).result), "9");
}

#[allow(non_snake_case, unused_variables)]
fn snapshot_restores_a_working_process(MODULE: &str, bomb: &str) {
    let m = module(MODULE);
    let mut p = spawn(m.clone(), None, None, 30_000);
    p.evaluate(eval(1, "Saved = 'kept'"));
    let snapshot = Snapshot::from_bytes(&p.snapshot().to_bytes()).unwrap();
    let mut q = Process::restore(m, p.limits(), &snapshot).unwrap();
    assert_eq!(data(&q.evaluate(eval(2, "return Saved")).result), "kept");
    // And an error in the restored process goes back to the restored state.
    assert!(q.evaluate(eval(3, "Saved = 'lost'; error('x')")).reverted);
    assert_eq!(data(&q.evaluate(eval(4, "return Saved")).result), "kept");
}

#[allow(non_snake_case, unused_variables)]
fn handlers_reply_to_the_sender(MODULE: &str, bomb: &str) {
    let mut p = spawn(module(MODULE), None, None, 30_000);
    p.evaluate(eval(
        1,
        "Handlers.add('greet', Handlers.utils.hasMatchingTag('Action', 'Greet'), function(m) m.reply({ Data = 'hi' }) end)",
    ));
    let greet = MessageInput::new(&message(2, &[("Action", "Greet")], ""), &env(&[]));
    let out = p.evaluate(greet);
    let messages = out.result.messages.unwrap();
    assert_eq!(messages[0]["Data"], "hi");
    assert_eq!(messages[0]["Target"], wasm_common::OWNER);
}

macro_rules! on_both_builds {
    ($($name:ident),*) => {
        mod dock {
            $(#[test] fn $name() {
                if crate::prereq::testdata("wasm/aos-dock.wasm").is_none() { return; }
                super::$name("aos-dock.wasm", "96-mb")
            })*
        }
        mod pure {
            // The pure build starts with 96 MiB of memory.
            $(#[test] fn $name() {
                if crate::prereq::testdata("wasm/aos-2-pure.wasm").is_none() { return; }
                super::$name("aos-2-pure.wasm", "160-mb")
            })*
        }
    };
}

on_both_builds!(
    values_state_and_outbox,
    errors_leave_the_state_as_before,
    an_endless_loop_runs_out_of_compute,
    an_endless_loop_times_out,
    a_memory_bomb_hits_the_memory_limit,
    snapshot_restores_a_working_process,
    handlers_reply_to_the_sender
);
