//! Reference equivalence: every line of `testdata/golden/aos-dock.jsonl` (results of AO's
//! reference loader) is reproduced exactly by one process of `aos-dock.wasm`, in order.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod prereq;
mod wasm_common;

use aocu::wasm::MessageInput;
use serde_json::Value;

#[test]
fn aos_dock_reproduces_the_reference_loader() {
    let (Some(path), Some(_)) = (
        prereq::testdata("golden/aos-dock.jsonl"),
        prereq::testdata("wasm/aos-dock.wasm"),
    ) else {
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let module = wasm_common::module("aos-dock.wasm");
    let mut process = wasm_common::spawn(module, Some("1-gb"), None, 30_000);
    let mut count = 0;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let case: Value = serde_json::from_str(line).expect("golden line is JSON");
        let input = MessageInput::new(&case["message"], &case["env"]);
        let evaluation = process.evaluate(input);
        let got = evaluation.result.to_json();
        let expected = &case["expected"];
        for field in ["Output", "Messages", "Spawns", "Assignments", "Error"] {
            assert_eq!(
                got.get(field),
                expected.get(field),
                "line {}: field {field} differs\n got: {got}\nwant: {expected}",
                i + 1
            );
        }
        count += 1;
    }
    assert!(count >= 17, "only {count} golden lines");
}
