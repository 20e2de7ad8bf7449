//! `aocu config check`: valid files print the effective configuration, broken ones fail with
//! the key and the line.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod common;

use common::aocu;

fn check(text: &str, extra: &[&str]) -> std::process::Output {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    aocu()
        .args(["config", "check"])
        .arg(file.path())
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn broken_file_names_key_and_line() {
    let out = check("node-name = \"x\"\n# comment\nlisten = 6363\n", &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":3:") && err.contains("listen"), "{err}");

    let out = check("[nonsense\n", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(":1:"));
}

#[test]
fn good_file_prints_effective_config_with_overrides() {
    let out = check(
        "node-name = \"from-file\"\n",
        &["--json", "--set", "log=debug"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["config"]["node-name"], "from-file");
    assert_eq!(json["config"]["log"], "debug");
    assert_eq!(json["config"]["listen"], "127.0.0.1:6363");

    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "node-name = \"from-file\"\n").unwrap();
    let out = aocu()
        .args(["config", "check", "--json"])
        .arg(file.path())
        .env("AOCU_NODE_NAME", "from-env")
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["config"]["node-name"], "from-env");
}

#[test]
fn missing_file_is_an_error() {
    let out = aocu()
        .args(["config", "check", "/nonexistent/aocu.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/aocu.toml"));
}

#[test]
fn serve_refuses_a_bad_config_with_exit_2() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "listen = \"not an address\"\n").unwrap();
    let out = aocu()
        .arg("--config")
        .arg(file.path())
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen"));
}
