//! Arweave checkpoints both ways, as AO's Node CU shares them: node A evaluates 200 messages of
//! an AOS process and exports its checkpoint (`aocu checkpoint export`); the same memory is
//! built into a checkpoint item the way the Node CU builds one (`tests/node/checkpoint-item.mjs`:
//! arbundles, Node's zlib, its tags), and aocu reads the same metadata and memory from it; node
//! B, which follows
//! A's schedule as a remote SU and whose gateway (a stub in this test) lists that checkpoint,
//! answers slot 201 exactly as A does while evaluating one message, not 202: its metering
//! counts the messages it evaluated. Checkpoints that fail a check (a wrong `SHA-256`, a
//! truncated gzip, an untrusted owner) are skipped, and B then replays from slot 0 to the
//! same answer.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.
#![allow(unsafe_code)] // kill(2) to stop the node cleanly (the call says why it is sound).

mod common;
mod prereq;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aocu::ao::checkpoint_item;
use aocu::ao::{DataItem, Id, Tags, Wallet};
use common::Server;
use serde_json::{Value, json};

/// Messages A evaluates after the spawn before its checkpoint: 200, or
/// `AOCU_CHECKPOINT_MESSAGES` (to measure time to first result on a longer history).
fn messages() -> u64 {
    std::env::var("AOCU_CHECKPOINT_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}

fn wallet() -> &'static Wallet {
    common::shared_wallet()
}

fn post(node: &Server, path: &str, body: &[u8]) -> (u16, Value) {
    let (status, body) = node.request("POST", path, body);
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

/// Schedule an `Eval` of `code` on A; its message ID.
fn eval(a: &Server, pid: &str, code: &str) -> String {
    let target = pid.parse::<Id>().ok().map(Id::into_bytes);
    let tags = common::ao_tags("Message", &[("Action", "Eval")]);
    let item = DataItem::signed(wallet(), target, None, tags, code.as_bytes().to_vec()).unwrap();
    let (status, body) = post(a, "/", &item.to_bytes());
    assert_eq!(status, 202, "{body}");
    item.id()
}

fn result(node: &Server, pid: &str, message: &str) -> String {
    let (status, body) = node.request("GET", &format!("/result/{message}?process-id={pid}"), b"");
    assert_eq!(status, 200, "{body}");
    body
}

/// Messages the node has evaluated (`~meta@1.0/info/metering`).
fn evaluated(node: &Server) -> u64 {
    let (_, metering) = node.get_json("/~meta@1.0/info/metering");
    metering["node"]["messages"].as_u64().unwrap()
}

/// Stop with SIGTERM and wait: the node checkpoints what it holds.
fn stop(mut server: Server) {
    let pid = server.child.id() as i32;
    // SAFETY: kill(2) with a pid we spawned and still own (not yet waited for).
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let _ = server.child.wait();
}

/// A checkpoint as a gateway lists it: ID, owner address, tags, and the data `/raw` serves.
#[derive(Clone)]
struct Listed {
    id: String,
    owner: String,
    tags: Tags,
    data: Vec<u8>,
}

/// A gateway stub that lists `checkpoints` for the Node CU's checkpoint search, serves their
/// data at `/raw/{id}`, and has nothing else; it records the IDs downloaded.
fn gateway(checkpoints: Vec<Listed>, downloaded: Arc<Mutex<Vec<String>>>) -> std::net::SocketAddr {
    common::stub::serve(move |request| {
        if request.path == "/graphql" && request.body.contains("GetAoProcessCheckpoints") {
            let edges: Vec<Value> = checkpoints
                .iter()
                .map(|c| json!({"node": {"id": c.id, "owner": {"address": c.owner}, "tags": c.tags}}))
                .collect();
            let answer = json!({"data": {"transactions": {"edges": edges}}});
            return Some((200, answer.to_string().into_bytes()));
        }
        if request.path == "/graphql" {
            let answer = json!({"data": {"transactions": {"edges": []}}});
            return Some((200, answer.to_string().into_bytes()));
        }
        let listed = request
            .path
            .strip_prefix("/raw/")
            .and_then(|id| checkpoints.iter().find(|c| c.id == id));
        Some(match listed {
            Some(c) => {
                downloaded.lock().unwrap().push(c.id.clone());
                (200, c.data.clone())
            }
            None => (404, b"Not Found".to_vec()),
        })
    })
}

/// Node B: follows A's schedule, reads `gateway`, trusts A's wallet; the module added by hand.
fn node_b(dir: &Path, a: &Server, gateway: std::net::SocketAddr, module: &DataItem) -> Server {
    node_b_with(dir, a, gateway, module, &[])
}

/// [`node_b`] with more `--set` flags.
fn node_b_with(
    dir: &Path,
    a: &Server,
    gateway: std::net::SocketAddr,
    module: &DataItem,
    extra: &[&str],
) -> Server {
    let schedulers = format!(
        "schedulers={{ \"{}\" = \"http://{}\" }}",
        wallet().address(),
        a.addr
    );
    let gateways = format!("gateways=[\"http://{gateway}\"]");
    let owners = format!("checkpoint-trusted-owners=[\"{}\"]", wallet().address());
    let mut args = vec![
        "--set",
        "executors=1",
        "--set",
        &schedulers,
        "--set",
        &gateways,
        "--set",
        &owners,
    ];
    args.extend_from_slice(extra);
    let b = Server::start_in(tempfile::tempdir_in(dir).unwrap(), &args);
    let (status, body) = post(&b, "/~module@1.0", &module.to_bytes());
    assert_eq!(status, 200, "{body}");
    b
}

/// A checkpoint item of `memory` at `meta` built by `tests/node/checkpoint-item.mjs` as the Node
/// CU builds one, signed with the shared wallet.
fn node_cu_item(
    node_dir: &Path,
    dir: &Path,
    meta: &checkpoint_item::CheckpointMeta,
    memory: &[u8],
) -> Listed {
    let (memory_file, meta_file, out) = (
        dir.join("memory"),
        dir.join("meta.json"),
        dir.join("js.item"),
    );
    std::fs::write(&memory_file, memory).unwrap();
    let meta_json = json!({"process": meta.process, "module": meta.module, "nonce": meta.nonce,
        "timestamp": meta.timestamp, "blockHeight": meta.block_height,
        "assignment": meta.assignment, "hashChain": meta.hash_chain, "epoch": meta.epoch});
    std::fs::write(&meta_file, meta_json.to_string()).unwrap();
    common::stdout_of(
        std::process::Command::new("node")
            .arg("checkpoint-item.mjs")
            .arg("build")
            .arg(common::shared_wallet_path())
            .args([&memory_file, &meta_file, &out])
            .current_dir(node_dir),
    );
    let item = DataItem::parse_verified(&std::fs::read(&out).unwrap()).unwrap();
    assert!(item.tags.contains("Unit-Identifier"), "the Node CU's tags");
    Listed {
        id: item.id(),
        owner: wallet().address().to_string(),
        tags: item.tags.clone(),
        data: item.data.clone(),
    }
}

#[test]
fn a_fresh_node_continues_from_an_exported_checkpoint() {
    let Some(aos) = prereq::testdata("wasm/aos-2-pure.wasm") else {
        return;
    };
    let Some(node_dir) = prereq::node_project() else {
        return;
    };
    let dirs = tempfile::tempdir().unwrap();
    let a_dir = dirs.path().join("a");
    let module = aocu::ao::module_item::build(wallet(), std::fs::read(&aos).unwrap(), &[]).unwrap();
    let a = Server::start_with_wallet(
        &a_dir,
        &common::shared_wallet_path(),
        &["--set", "executors=1"],
    );
    assert_eq!(post(&a, "/~module@1.0", &module.to_bytes()).0, 200);
    let spawn_tags = common::ao_tags(
        "Process",
        &[("Module", &module.id()), ("Scheduler", wallet().address())],
    );
    let spawn = DataItem::signed(wallet(), None, None, spawn_tags, b"1984".to_vec()).unwrap();
    assert_eq!(post(&a, "/", &spawn.to_bytes()).0, 202);
    let pid = spawn.id();
    let mut last = String::new();
    for k in 1..=messages() {
        last = eval(&a, &pid, &format!("Counter = (Counter or 0) + {k}"));
    }
    result(&a, &pid, &last);
    stop(a);

    // The checkpoint A's state directory holds, as AO's checkpoint item.
    let file = dirs.path().join("a.checkpoint");
    let wallet_set = format!("wallet={}", common::shared_wallet_path().display());
    common::stdout_of(
        common::aocu()
            .args(["--set", &wallet_set, "checkpoint", "export", &pid])
            .arg("--state-dir")
            .arg(&a_dir)
            .arg("--out")
            .arg(&file),
    );
    let item = DataItem::parse_verified(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(
        item.tags.get("Nonce"),
        Some(messages().to_string().as_str())
    );
    // The same memory as a checkpoint built the way the Node CU builds one (arbundles, Node's
    // zlib at level 9, its tags): that is the one B finds on its gateway.
    let meta = checkpoint_item::meta_of(&item.tags).unwrap();
    let memory = checkpoint_item::unpack(&item.tags, &item.data, 8 << 30).unwrap();
    let good = node_cu_item(&node_dir, dirs.path(), &meta, &memory);
    assert_eq!(checkpoint_item::meta_of(&good.tags).unwrap(), meta);
    assert_eq!(
        checkpoint_item::unpack(&good.tags, &good.data, 8 << 30).unwrap(),
        memory
    );

    // A again, as the SU both B nodes follow; slot 201 is scheduled there.
    let a = Server::start_with_wallet(
        &a_dir,
        &common::shared_wallet_path(),
        &["--set", "executors=1"],
    );
    let next = eval(&a, &pid, "return Counter");
    let expected = result(&a, &pid, &next);
    assert!(
        expected.contains(&(messages() * (messages() + 1) / 2).to_string()),
        "{expected}"
    );

    // B imports the checkpoint: the same answer, one message evaluated.
    let downloaded = Arc::new(Mutex::new(Vec::new()));
    let b = node_b(
        dirs.path(),
        &a,
        gateway(vec![good.clone()], downloaded.clone()),
        &module,
    );
    let started = std::time::Instant::now();
    assert_eq!(result(&b, &pid, &next), expected);
    let from_checkpoint = started.elapsed();
    assert_eq!(evaluated(&b), 1, "B evaluated only slot {}", messages() + 1);
    assert_eq!(*downloaded.lock().unwrap(), vec![good.id.clone()]);
    drop(b);

    // No checkpoint listed: B replays from slot 0 (the baseline of the figure above).
    let b = node_b(
        dirs.path(),
        &a,
        gateway(Vec::new(), Arc::default()),
        &module,
    );
    let started = std::time::Instant::now();
    assert_eq!(result(&b, &pid, &next), expected);
    let from_zero = started.elapsed();
    assert_eq!(evaluated(&b), messages() + 2);
    eprintln!(
        "time to first result (slot {}): from the checkpoint {from_checkpoint:?}, by replay \
         from slot 0 {from_zero:?}",
        messages() + 1
    );
    drop(b);

    // Newer checkpoints that fail a check are skipped; with no good one left, B replays.
    let mut bad_digest = good.clone();
    bad_digest.id = "B".repeat(43);
    bad_digest.tags.set("SHA-256", &"0".repeat(64));
    let mut truncated = good.clone();
    truncated.id = "C".repeat(43);
    truncated.data.truncate(good.data.len() / 2);
    let mut stranger = good.clone();
    stranger.id = "D".repeat(43);
    stranger.owner = "E".repeat(43);
    let downloaded = Arc::new(Mutex::new(Vec::new()));
    let bad = vec![bad_digest.clone(), truncated.clone(), stranger];
    let b = node_b(dirs.path(), &a, gateway(bad, downloaded.clone()), &module);
    assert_eq!(
        result(&b, &pid, &next),
        expected,
        "replayed to the same answer"
    );
    assert_eq!(
        evaluated(&b),
        messages() + 2,
        "slots 0 to {}",
        messages() + 1
    );
    let mut tried = downloaded.lock().unwrap().clone();
    tried.sort();
    assert_eq!(
        tried,
        vec![bad_digest.id.clone(), truncated.id.clone()],
        "the untrusted one is not downloaded"
    );
    drop(b);

    // Bad ones newer than the good one: each is tried and skipped, newest first, then the good
    // one is loaded and only the next slot is evaluated.
    let newer = (messages() + 1).to_string();
    let (mut bad_digest, mut truncated) = (bad_digest, truncated);
    bad_digest.tags.set("Nonce", &newer);
    truncated.tags.set("Nonce", &newer);
    let downloaded = Arc::new(Mutex::new(Vec::new()));
    let listed = vec![good.clone(), truncated.clone(), bad_digest.clone()];
    let b = node_b(
        dirs.path(),
        &a,
        gateway(listed, downloaded.clone()),
        &module,
    );
    assert_eq!(result(&b, &pid, &next), expected);
    assert_eq!(evaluated(&b), 1, "loaded the older good checkpoint");
    let tried = downloaded.lock().unwrap().clone();
    assert_eq!(tried.len(), 3, "{tried:?}");
    assert_eq!(tried.last(), Some(&good.id), "the good one last: {tried:?}");
    drop(b);

    // A gateway that never answers the search: the lookup gives up after
    // `checkpoint-lookup-timeout-ms` and the process replays from slot 0.
    let hanging = common::stub::serve(|request| {
        if request.path == "/graphql" && request.body.contains("GetAoProcessCheckpoints") {
            std::thread::sleep(Duration::from_secs(30));
            return None;
        }
        Some((404, b"Not Found".to_vec()))
    });
    let timeout = ["--set", "checkpoint-lookup-timeout-ms=300"];
    let b = node_b_with(dirs.path(), &a, hanging, &module, &timeout);
    let started = std::time::Instant::now();
    assert_eq!(result(&b, &pid, &next), expected);
    let waited = started.elapsed();
    assert!(
        waited < from_zero + Duration::from_secs(10),
        "the hanging search did not hold the answer: {waited:?} (replay alone {from_zero:?})"
    );
    assert_eq!(evaluated(&b), messages() + 2, "replayed from slot 0");
}
