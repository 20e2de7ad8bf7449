//! `aocu verify` against AO's JavaScript reference: data items made by arbundles (the ANS-104
//! fixtures, every signature type AO uses), copies with one byte flipped in each signed field,
//! and bundles that arbundles makes of them (`tests/node/bundle-items.mjs`), one of them with an
//! item's data changed. Each item's verdict equals arbundles' `DataItem.verify`, on every engine
//! (`cpu`, `auto`, and `gpu` on whatever adapter the machine has: lavapipe in CI); files that are neither items nor bundles fail by name.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod prereq;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The engines to run: `gpu` too when an adapter exists (under CI one must).
fn engines() -> Vec<&'static str> {
    let mut engines = vec!["cpu", "auto"];
    if prereq::gpu_adapter() {
        engines.push("gpu");
    }
    engines
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ans104")
}

const FIXTURES: [&str; 8] = [
    "message",
    "process",
    "bare",
    "binary",
    "ed25519",
    "ethereum",
    "solana",
    "typed_ethereum",
];

/// `aocu verify --json --engine ENGINE FILES`: exit code and one JSON object per line.
fn aocu_verify(engine: &str, files: &[PathBuf]) -> (i32, Vec<Value>) {
    let out = Command::new(env!("CARGO_BIN_EXE_aocu"))
        .args(["verify", "--json", "--engine", engine])
        .args(files)
        .env("AOCU_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (out.status.code().unwrap(), lines)
}

/// The standard output of `node SCRIPT ARGS` in `node` (`tests/node`), which must succeed.
fn node_script<I, A>(node: &Path, script: &str, args: I) -> String
where
    I: IntoIterator<Item = A>,
    A: AsRef<std::ffi::OsStr>,
{
    let out = Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(node)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// arbundles' verdict per item file (`verify-items.mjs`).
fn arbundles_verdicts(node: &Path, files: &[PathBuf]) -> Vec<bool> {
    node_script(node, "verify-items.mjs", files)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["verified"].as_bool().unwrap_or(false)
        })
        .collect()
}

/// `bundle-items.mjs` in `node`.
fn bundle_script(node: &Path, args: &[&std::ffi::OsStr]) -> Value {
    serde_json::from_str(&node_script(node, "bundle-items.mjs", args)).unwrap()
}

/// The fixtures and, per fixture, copies with one byte flipped in the signature and the data.
fn items_and_tampered(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for name in FIXTURES {
        let path = fixtures().join(format!("{name}.bin"));
        let bytes = std::fs::read(&path).unwrap();
        files.push(path);
        for (field, at) in [("signature", 2 + 5), ("data", bytes.len() - 1)] {
            let mut copy = bytes.clone();
            copy[at] ^= 1;
            let file = dir.join(format!("{name}-{field}.bin"));
            std::fs::write(&file, copy).unwrap();
            files.push(file);
        }
    }
    files
}

#[test]
fn items_get_arbundles_verdicts_on_every_engine() {
    let Some(node) = prereq::node_project() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let files = items_and_tampered(dir.path());
    let reference = arbundles_verdicts(&node, &files);
    assert_eq!(reference.len(), files.len());
    assert_eq!(reference.iter().filter(|v| **v).count(), 8, "{reference:?}");
    for engine in engines() {
        let (code, lines) = aocu_verify(engine, &files);
        assert_eq!(code, 1, "{engine}: some items fail");
        assert_eq!(lines.len(), files.len(), "{engine}");
        for ((file, line), expected) in files.iter().zip(&lines).zip(&reference) {
            assert_eq!(
                line["verified"],
                *expected,
                "{engine} {}: {line}",
                file.display()
            );
            assert_eq!(line["reason"].is_string(), !expected, "{line}");
        }
    }
    // Only valid items: exit 0.
    let valid: Vec<PathBuf> = files.iter().step_by(3).cloned().collect();
    let (code, lines) = aocu_verify("cpu", &valid);
    assert_eq!(code, 0, "{lines:?}");
    for (line, name) in lines.iter().zip(FIXTURES) {
        let meta: Value = serde_json::from_str(
            &std::fs::read_to_string(fixtures().join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(line["id"], meta["id"], "{name}");
        assert_eq!(line["signature-type"], meta["signature_type"], "{name}");
        assert_eq!(line["owner-address"], meta["owner_address"], "{name}");
    }
}

#[test]
fn bundles_made_by_arbundles_get_its_verdicts() {
    let Some(node) = prereq::node_project() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let items: Vec<PathBuf> = FIXTURES
        .iter()
        .map(|n| fixtures().join(format!("{n}.bin")))
        .collect();
    let bundle = dir.path().join("bundle.bin");
    let mut args: Vec<&std::ffi::OsStr> = vec!["make".as_ref(), bundle.as_os_str()];
    args.extend(items.iter().map(|p| p.as_os_str()));
    let made = bundle_script(&node, &args);
    assert_eq!(made["verified"], true);
    // The last item's last data byte changed: its ID (of the signature) still matches.
    let mut bytes = std::fs::read(&bundle).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered = dir.path().join("tampered.bin");
    std::fs::write(&tampered, &bytes).unwrap();
    let checked = bundle_script(&node, &["check".as_ref(), tampered.as_os_str()]);
    let reference: Vec<bool> = checked["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_bool().unwrap())
        .collect();
    assert_eq!(reference.iter().filter(|v| !**v).count(), 1, "{checked}");
    for engine in engines() {
        let (code, lines) = aocu_verify(engine, std::slice::from_ref(&bundle));
        assert_eq!(code, 0, "{engine}: {lines:?}");
        let ids: Vec<&Value> = lines.iter().map(|l| &l["id"]).collect();
        let expected: Vec<&Value> = made["ids"].as_array().unwrap().iter().collect();
        assert_eq!(ids, expected, "{engine}");
        assert!(
            lines
                .iter()
                .enumerate()
                .all(|(i, l)| l["index"] == i && l["verified"] == true)
        );
        let (code, lines) = aocu_verify(engine, std::slice::from_ref(&tampered));
        assert_eq!(code, 1, "{engine}");
        let verdicts: Vec<bool> = lines.iter().map(|l| l["verified"] == true).collect();
        assert_eq!(verdicts, reference, "{engine}");
    }
}

#[test]
fn unreadable_and_foreign_files_fail_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.bin");
    std::fs::write(&garbage, vec![0x55; 300]).unwrap();
    let empty = dir.path().join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    let missing = dir.path().join("missing.bin");
    let (code, lines) = aocu_verify("cpu", &[garbage, empty, missing]);
    assert_eq!(code, 1);
    assert_eq!(lines.len(), 3);
    for line in &lines {
        assert_eq!(line["verified"], false, "{line}");
        assert!(line["reason"].as_str().unwrap().len() > 10, "{line}");
    }
    assert!(lines[2]["reason"].as_str().unwrap().contains("cannot read"));
}

#[test]
fn bench_verify_reports_every_row_against_both_baselines() {
    let Some(_) = prereq::tool("openssl", "apt-get install openssl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("measured.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_aocu"))
        .args([
            "bench",
            "verify",
            "--json",
            "--min-time-ms",
            "1",
            "--batch",
            "1,9",
        ])
        .args(["--openssl-seconds", "1", "--write-profile"])
        .arg(&profile)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["openssl-per-s"].as_f64().unwrap() > 0.0, "{report}");
    assert!(
        report["rsa-crate-per-s"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    assert!(
        report["su-page-1000-ms"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    let rows = report["measurements"].as_array().unwrap();
    let gpu = report["gpu-adapter"].is_string();
    // CPU: 2 schemes × 2 batches × 2 thread settings; GPU: 2 × 2 × all cores only.
    assert_eq!(rows.len(), if gpu { 12 } else { 8 }, "{report}");
    for row in rows {
        assert!(row["per-s"].as_f64().unwrap() > 0.0, "{row}");
        let rsa = row["scheme"] == "rsa-pss";
        assert_eq!(row["vs-openssl"].is_f64(), rsa, "{row}");
        assert_eq!(row["vs-rsa-crate"].is_f64(), rsa, "{row}");
    }
    let text = std::fs::read_to_string(&profile).unwrap();
    let written: aocu::hw::profile::Profile = toml::from_str(&text).unwrap();
    let crossover = report["gpu-crossover-signatures"].as_u64();
    assert_eq!(written.capacity.verify_gpu_crossover_signatures, crossover);
    if prereq::in_ci() {
        // lavapipe, a software adapter: never a crossover.
        assert_eq!(crossover, None, "{report}");
    }
}
