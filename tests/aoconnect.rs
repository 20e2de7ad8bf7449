//! AO's own JavaScript client, `@permaweb/aoconnect` (legacy mode), against `aocu serve`:
//! spawn, message, result, results and dryrun with `MU_URL`, `CU_URL` and `GATEWAY_URL` all
//! pointing at the node. The checks are in `tests/node/aoconnect.test.mjs`; this test prepares
//! the node (state directory with the AOS module), runs the script and requires it to pass.
//!
//! It needs `node` (20 or newer) and `tests/node/node_modules` (`npm ci` in `tests/node`;
//! `.ci/run` does both); without them it says so and skips.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, aocu};

/// The whole script (wallet generation, spawn, 11 messages, ~20 reads) gets this long.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);

/// `../shared` next to the crate (worktrees), else `/work/shared`.
fn shared_dir() -> PathBuf {
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if beside.join("testdata").is_dir() {
        beside
    } else {
        PathBuf::from("/work/shared")
    }
}

/// Why the test cannot run here, if it cannot.
fn missing_prerequisite(node_dir: &Path) -> Option<String> {
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        _ => return Some("`node` is not installed".into()),
    }
    if !node_dir.join("node_modules").is_dir() {
        return Some(format!(
            "{} is absent: run `npm ci` there (as .ci/run does)",
            node_dir.join("node_modules").display()
        ));
    }
    None
}

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
    let node_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    if let Some(reason) = missing_prerequisite(&node_dir) {
        eprintln!("skipping the aoconnect test: {reason}");
        return;
    }
    let wasm = shared_dir().join("testdata/wasm/aos-2-pure.wasm");
    assert!(wasm.is_file(), "{} is missing", wasm.display());

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
