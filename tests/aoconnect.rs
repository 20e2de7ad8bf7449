//! AO's own JavaScript client, `@permaweb/aoconnect` (legacy mode), against `aocu serve`:
//! spawn, message, result, results and dryrun with `MU_URL`, `CU_URL` and `GATEWAY_URL` all
//! pointing at the node. The checks are in `tests/node/aoconnect.test.mjs`; this test prepares
//! the node (state directory with the AOS module), runs the script and requires it to pass.
//!
//! It needs `node` (20 or newer), `tests/node/node_modules` (`npm ci` in `tests/node`;
//! `.ci/run` does both) and the AOS module of the shared test data; without them it says so
//! and skips, or fails under `CI=true` (see `tests/prereq`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod common;
mod prereq;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, aocu};

/// The whole script (wallet generation, spawn, 11 messages, ~20 reads) gets this long.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);

/// `aocu module add` into `state_dir` (before the node starts: the store is one process' at a
/// time); returns the module ID it prints.
fn add_module(state_dir: &Path, wasm: &Path) -> String {
    let out = aocu()
        .arg("--set")
        .arg(format!("state-dir={}", state_dir.display()))
        .args(["module", "add"])
        .arg(wasm)
        .output()
        .expect("run aocu module add");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "aocu module add failed ({}): {stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .rfind(|word| word.len() == 43)
        .unwrap_or_else(|| panic!("aocu module add printed no 43-character ID: {stdout}"))
        .to_string()
}

#[test]
fn aoconnect_spawn_message_result_results_dryrun() {
    let Some(node_dir) = prereq::node_project() else {
        return;
    };
    let Some(wasm) = prereq::testdata("wasm/aos-2-pure.wasm") else {
        return;
    };

    let state_dir = tempfile::tempdir().expect("temp dir");
    let module_id = add_module(state_dir.path(), &wasm);
    let server = Server::start_in(state_dir, &[]);
    let url = format!("http://{}", server.addr);

    let mut script = Command::new("node")
        .arg("aoconnect.test.mjs")
        .current_dir(&node_dir)
        .env("MU_URL", &url)
        .env("CU_URL", &url)
        .env("GATEWAY_URL", &url)
        .env("AOCU_MODULE_ID", &module_id)
        .env("AOCU_TEST_VERBOSE", "1")
        // ao-scheduler-utils reads GRAPHQL_URL at import; the scheduler comes from the node.
        .env_remove("GRAPHQL_URL")
        .env_remove("AOCU_SCHEDULER")
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start node");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = script.try_wait().expect("wait for node") {
            break status;
        }
        if started.elapsed() > SCRIPT_TIMEOUT {
            let _ = script.kill();
            let _ = script.wait();
            panic!("the aoconnect script ran past {SCRIPT_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "the aoconnect script failed ({status}); its output above says which check"
    );
}
