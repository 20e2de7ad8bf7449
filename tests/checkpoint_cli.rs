//! `aocu checkpoint export`: after a node has evaluated an AOS process and stopped, the export
//! is AO's Arweave checkpoint item: signed by the node wallet (arbundles verifies it), the Node
//! CU's tags, data that Node's zlib gunzips to memory hashing to the `SHA-256` tag, and memory
//! that, loaded into a fresh instance as the Node CU loads it (memory only), carries the
//! process' state. Bad requests are clear errors that write nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.
#![allow(unsafe_code)] // kill(2) to stop the node cleanly (the call says why it is sound).

mod common;
mod prereq;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aocu::ao::checkpoint_item;
use aocu::ao::{DataItem, Id, Signer, Tag};
use aocu::wasm::{Limits, MessageInput, ModuleCache, NodeLimits, Process, WasmEngine};
use common::Server;
use serde_json::{Value, json};

fn call(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Value) {
    let kind = "application/octet-stream";
    let raw = common::exchange(addr, method, path, kind, body, Duration::from_secs(120))
        .unwrap_or_else(|| panic!("{method} {path}: no answer"));
    let (status, body) = common::parse_response(&raw);
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    (status, json)
}

/// Spawn an AOS process of `aos` on `node` and evaluate `codes`; the process ID.
fn run_process(node: &Server, aos: &std::path::Path, codes: &[&str]) -> String {
    let signer = Signer::Arweave(common::shared_wallet().clone());
    let (status, module) = call(
        node.addr,
        "POST",
        "/~module@1.0",
        &std::fs::read(aos).unwrap(),
    );
    assert_eq!(status, 200, "{module}");
    let mut tags = common::ao_tags("Process", &[]);
    tags.push(Tag::new("Module", module["id"].as_str().unwrap()));
    tags.push(Tag::new("Scheduler", common::shared_wallet().address()));
    let spawn = DataItem::signed_by(&signer, None, None, tags, b"1984".to_vec()).unwrap();
    assert_eq!(call(node.addr, "POST", "/", &spawn.to_bytes()).0, 202);
    let pid = spawn.id();
    for code in codes {
        let mut tags = common::ao_tags("Message", &[]);
        tags.push(Tag::new("Action", "Eval"));
        let target = pid.parse::<Id>().ok().map(Id::into_bytes);
        let item =
            DataItem::signed_by(&signer, target, None, tags, code.as_bytes().to_vec()).unwrap();
        assert_eq!(call(node.addr, "POST", "/", &item.to_bytes()).0, 202);
        let path = format!("/result/{}?process-id={pid}", item.id());
        let (status, result) = call(node.addr, "GET", &path, b"");
        assert_eq!(status, 200, "{result}");
        assert!(result["Error"].is_null(), "{code}: {result}");
    }
    pid
}

/// Stop with SIGTERM and wait: the node checkpoints what it holds.
fn stop(mut server: Server) {
    let pid = server.child.id() as i32;
    // SAFETY: kill(2) with a pid we spawned and still own (not yet waited for).
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let _ = server.child.wait();
}

/// `aocu checkpoint export` on the state directory `dir`, signing with the shared wallet.
fn export(dir: &std::path::Path, args: &[&str]) -> Command {
    let wallet = format!("wallet={}", common::shared_wallet_path().display());
    let mut command = common::aocu();
    command
        .args(["--set", &wallet, "checkpoint", "export", "--state-dir"])
        .arg(dir)
        .args(args);
    command
}

#[test]
fn an_exported_checkpoint_is_the_node_cus_item_and_restores_the_state() {
    let Some(aos) = prereq::testdata("wasm/aos-dock.wasm") else {
        return;
    };
    let Some(node_dir) = prereq::node_project() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = Server::start_with_wallet(
        dir.path(),
        &common::shared_wallet_path(),
        &["--set", "executors=1"],
    );
    let codes = ["Counter = 41", "Counter = Counter + 1", "return Counter"];
    let pid = run_process(&node, &aos, &codes);
    // The assignment of the last slot, as the node's SU serves it.
    let (status, page) = call(node.addr, "GET", &format!("/{pid}"), b"");
    assert_eq!(status, 200, "{page}");
    let last_assignment = page["edges"]
        .as_array()
        .and_then(|edges| edges.last())
        .map(|edge| edge["node"]["assignment"]["id"].clone())
        .unwrap();
    stop(node);

    let file = dir.path().join("out.checkpoint");
    let out = common::stdout_of(&mut export(
        dir.path(),
        &[&pid, "--out", file.to_str().unwrap()],
    ));
    let line: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(line["process"], pid.as_str());
    assert_eq!(line["nonce"], codes.len() as u64, "after the last slot");

    // The item as aocu reads it: signed by the node, the Node CU's tags, the memory intact.
    let bytes = std::fs::read(&file).unwrap();
    let item = DataItem::parse_verified(&bytes).unwrap();
    assert_eq!(item.id(), line["id"].as_str().unwrap());
    assert_eq!(item.owner, common::shared_wallet().owner());
    let meta = checkpoint_item::meta_of(&item.tags).unwrap();
    assert_eq!((meta.process.as_str(), meta.nonce), (pid.as_str(), 3));
    assert_eq!(
        meta.assignment.as_deref(),
        last_assignment.as_str(),
        "`Assignment` is the slot's signed assignment"
    );
    let memory = checkpoint_item::unpack(&item.tags, &item.data, 8 << 30).unwrap();
    assert_eq!(line["memory-bytes"], memory.len());

    // As Node reads it: arbundles verifies the item, zlib gunzips the data to the tagged hash.
    let out = common::stdout_of(
        Command::new("node")
            .arg("checkpoint-item.mjs")
            .arg(&file)
            .current_dir(&node_dir),
    );
    let js: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(js["verified"], true, "{js}");
    assert_eq!(js["id"], item.id());
    assert_eq!(js["memoryBytes"], memory.len());
    let tag = |name: &str| {
        js["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["value"].clone())
    };
    assert_eq!(tag("SHA-256"), Some(js["memorySha256"].clone()));
    for (name, value) in [
        ("Type", "Checkpoint"),
        ("Content-Encoding", "gzip"),
        ("Nonce", "3"),
    ] {
        assert_eq!(tag(name), Some(json!(value)), "{name}");
    }

    // Loaded as the Node CU loads a checkpoint (a fresh instance, then the memory), the
    // process carries on from its state.
    let cache = ModuleCache::new(WasmEngine::new().unwrap());
    let module = cache.load(&std::fs::read(&aos).unwrap()).unwrap();
    let limits = Limits::from_node(&NodeLimits::default());
    let mut fresh = Process::spawn(module.clone(), limits).unwrap();
    let mut snapshot = fresh.snapshot();
    snapshot.memory = memory;
    let mut restored = Process::restore(module, limits, &snapshot).unwrap();
    let owner = common::shared_wallet().address();
    let message = json!({"Id": "NEXT", "Owner": owner, "From": owner, "Target": pid,
        "Timestamp": "1732000009000", "Block-Height": "1",
        "Tags": [{"name": "Action", "value": "Eval"}], "Data": "return Counter + 1"});
    let env = json!({"Process": {"Id": pid, "Owner": owner, "Tags": []}});
    let out = restored.evaluate(MessageInput::new(&message, &env));
    assert_eq!(
        out.result.to_json()["Output"]["data"],
        "43",
        "{:?}",
        out.result
    );
}

#[test]
fn bad_exports_are_clear_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("never.checkpoint");
    let out_arg = file.to_str().unwrap().to_string();
    let unknown = "A".repeat(43);
    for (args, needle) in [
        (vec!["not-an-id"], "not a process ID"),
        (
            vec![unknown.as_str(), "--out", out_arg.as_str()],
            "not on this node",
        ),
    ] {
        let out = export(dir.path(), &args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!file.exists());
    }
    let out = export(
        dir.path(),
        &["--set", "checkpoint-upload-url=ftp://x", &unknown],
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("checkpoint-upload-url"));
}

#[test]
fn a_running_node_publishes_its_checkpoints_to_the_bundler() {
    let Some(aos) = prereq::testdata("wasm/aos-dock.wasm") else {
        return;
    };
    // A bundler stub: keeps every item posted to `/tx/arweave` and answers its ID.
    let posted: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let kept = posted.clone();
    let bundler = common::stub::serve(move |request| {
        if request.method != "POST" || request.path != "/tx/arweave" {
            return Some((404, b"Not Found".to_vec()));
        }
        let bytes = request.body_bytes.clone();
        let id = DataItem::parse(&bytes).map(|i| i.id()).unwrap_or_default();
        kept.lock().unwrap().push(bytes);
        Some((200, json!({ "id": id }).to_string().into_bytes()))
    });
    let dir = tempfile::tempdir().unwrap();
    let upload = format!("checkpoint-upload-url=http://{bundler}");
    let args = [
        "--set",
        "executors=1",
        "--set",
        &upload,
        "--set",
        "checkpoint-publish-every-seconds=3600",
        "--set",
        "checkpoint-every-messages=2",
    ];
    let node = Server::start_with_wallet(dir.path(), &common::shared_wallet_path(), &args);
    let pid = run_process(
        &node,
        &aos,
        &["Counter = 1", "Counter = 2", "Counter = 3", "return 4"],
    );
    let waited = std::time::Instant::now();
    while posted.lock().unwrap().is_empty() && waited.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let items = posted.lock().unwrap().clone();
    // Checkpoints were taken at least twice; the interval let one through.
    assert_eq!(items.len(), 1, "one upload within the interval");
    let item = DataItem::parse_verified(&items[0]).unwrap();
    assert_eq!(item.owner, common::shared_wallet().owner());
    let meta = checkpoint_item::meta_of(&item.tags).unwrap();
    assert_eq!(meta.process, pid);
    assert!((1..=4).contains(&meta.nonce), "{meta:?}");
    let memory = checkpoint_item::unpack(&item.tags, &item.data, 8 << 30).unwrap();
    assert!(!memory.is_empty());
    drop(node);
}
