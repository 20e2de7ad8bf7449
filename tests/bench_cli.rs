//! `aocu bench`: every section in one run (`--quick --json`, as CI runs it), each figure a
//! positive median over repeated runs with its spread, and `--write-profile` written so that
//! `aocu info` matches the profile with the measured capacity.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod common;
mod prereq;

use serde_json::Value;

#[test]
fn quick_bench_has_every_section_and_writes_a_matched_profile() {
    let Some(module) = prereq::testdata("wasm/aos-2-pure.wasm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("measured.toml");
    let out = common::stdout_of(
        common::aocu()
            .args(["bench", "--quick", "--json", "--no-gpu", "--module"])
            .arg(&module)
            .arg("--write-profile")
            .arg(&profile),
    );
    let report: Value = serde_json::from_slice(&out).unwrap();
    let rows = report["rows"].as_array().unwrap();
    for section in ["hashing", "verification", "evaluation", "dry-run"] {
        let of: Vec<&Value> = rows.iter().filter(|r| r["section"] == section).collect();
        assert!(!of.is_empty(), "section {section} is missing");
        for row in of {
            assert!(row["median"].as_f64().unwrap() > 0.0, "{row}");
            assert!(row["spread"].as_f64().unwrap() >= 0.0, "{row}");
            let runs = row["runs"].as_u64().unwrap();
            assert!((2..=3).contains(&runs), "quick: 2 to 3 runs: {row}");
        }
    }
    for test in [
        "AOS return 1+1, 1 executor, pinned",
        "POST /dry-run p99 latency",
        "rsa crate, RSA-PSS-4096, 1 core",
    ] {
        assert!(rows.iter().any(|r| r["test"] == test), "no row {test}");
    }
    assert!(
        rows.iter()
            .any(|r| r["test"].as_str().unwrap().ends_with("unpinned"))
    );
    assert_eq!(report["skipped"], serde_json::json!([]));

    // The profile carries the measured rate, and `aocu info` matches it.
    let rate = report["messages-per-second"].as_f64().unwrap();
    let written: aocu::hw::profile::Profile =
        toml::from_str(&std::fs::read_to_string(&profile).unwrap()).unwrap();
    assert_eq!(written.capacity.messages_per_second, Some(rate));
    // The suggested flat price: the AOS message's fuel and memory under the profile's rates.
    let suggested = report["suggested-per-message"].as_u64().unwrap();
    assert_eq!(written.capacity.suggested_per_message, Some(suggested));
    if written.price.per_million_instructions > 0 {
        assert!(suggested > 0, "a message burns millions of instructions");
    }
    let info = common::stdout_of(
        common::aocu()
            .args(["info", "--json", "--set"])
            .arg(format!("profiles-dir={}", dir.path().display())),
    );
    let info: Value = serde_json::from_slice(&info).unwrap();
    assert_eq!(info["profile"]["profile"]["name"], written.name.as_str());
    assert_eq!(
        info["profile"]["profile"]["capacity"]["messages-per-second"].as_f64(),
        Some(rate)
    );
}

#[test]
fn without_a_module_the_aos_sections_are_skipped_and_said_so() {
    let out = common::stdout_of(common::aocu().args([
        "bench",
        "--quick",
        "--json",
        "--no-gpu",
        "--max-runs",
        "1",
    ]));
    let report: Value = serde_json::from_slice(&out).unwrap();
    let skipped: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["section"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["evaluation", "dry-run"]);
    let bad = common::aocu()
        .args(["bench", "--quick", "--module", "/nonexistent.wasm"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/nonexistent.wasm"));
}
