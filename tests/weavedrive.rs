//! WeaveDrive end to end: a real `aocu serve` whose gateway is a local server in this test, an
//! AOS process (`aos-dock.wasm`) reading `/data/<id>`, `/tx/<id>` and `/block/<height>` through
//! `io.open`, and the same Lua evaluated by AO's reference loader with the `@permaweb/weavedrive`
//! extension (`tests/node/weavedrive-reference.mjs`) against the same gateway: every message
//! succeeds or fails alike and every output is the same text. A data read that is not attested,
//! or that no gateway serves, ends its message with an `Error` and the process goes on; one the
//! gateway never answers ends within the message's time limit.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod common;
mod prereq;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aocu::ao::{DataItem, Id, Signer, Tag};
use common::Server;
use serde_json::{Value, json};

const DATA_ID: &str = "WeaveDriveTestData000000000000000000000001A";
const UNATTESTED_ID: &str = "WeaveDriveTestData000000000000000000000002A";
const GONE_ID: &str = "WeaveDriveTestData000000000000000000000003A";
const HANGS_ID: &str = "WeaveDriveTestData000000000000000000000004A";
const TX_ID: &str = "WeaveDriveTestTx0000000000000000000000000001";
const HEIGHT: &str = "1439783";

/// The data the gateway serves for `DATA_ID`: long enough to need several range reads.
fn data() -> Vec<u8> {
    let mut d = b"hello from the weave: ".to_vec();
    d.extend((0..70_000u32).map(|i| b'a' + (i % 26) as u8));
    d.extend_from_slice(b" END");
    d
}

/// The transaction header the gateway serves for `TX_ID`.
fn tx_header() -> String {
    json!({"format": 2, "id": TX_ID, "last_tx": "", "owner": "AQAB", "tags": [],
        "target": "", "quantity": "0", "data_size": "12", "reward": "42"})
    .to_string()
}

fn block() -> String {
    json!({"height": 1439783, "txs": ["t1", "t2", TX_ID], "timestamp": 1712345678}).to_string()
}

/// A local Arweave gateway: `HEAD`/`GET /<id>` (with `Range`), `GET /tx/<id>`,
/// `GET /block/height/<h>`, `POST /graphql` (an attestation exists for every data ID but
/// `UNATTESTED_ID`). Everything else is 404. It records what it was asked.
struct Gateway {
    addr: SocketAddr,
    asked: Arc<Mutex<Vec<String>>>,
    /// Set: `DATA_ID` is no longer served (404).
    data_gone: Arc<AtomicBool>,
}

fn gateway() -> Gateway {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let data_gone = Arc::new(AtomicBool::new(false));
    let (log, gone) = (asked.clone(), data_gone.clone());
    let addr = common::stub::serve(move |request| {
        // The node's own cold-start search for Arweave checkpoints is told apart.
        let what = if request.body.contains("GetAoProcessCheckpoints") {
            " (checkpoints)"
        } else {
            ""
        };
        log.lock()
            .unwrap()
            .push(format!("{} {}{what}", request.method, request.path));
        answer(request, gone.load(Ordering::SeqCst))
    });
    Gateway {
        addr,
        asked,
        data_gone,
    }
}

fn answer(request: &common::stub::Request, data_gone: bool) -> common::stub::Answer {
    let path = request.path.as_str();
    Some(match (request.method.as_str(), path) {
        ("POST", "/graphql") => {
            let body = &request.body;
            let attested = !body.contains(UNATTESTED_ID) && body.contains("Attestation");
            let edges = if attested {
                json!([{"node": {"tags": []}}])
            } else {
                json!([])
            };
            let data = json!({"data": {"transactions": {"edges": edges}}});
            (200, data.to_string().into_bytes())
        }
        (_, p) if p == format!("/{DATA_ID}") && data_gone => (404, b"Not Found".to_vec()),
        (_, p) if p == format!("/{DATA_ID}") => {
            let d = data();
            match request.range.as_deref().and_then(parse_range) {
                Some((from, to)) => {
                    let to = to.min(d.len() - 1);
                    (206, d.get(from..=to).unwrap_or_default().to_vec())
                }
                None => (200, d),
            }
        }
        (_, p) if p == format!("/{HANGS_ID}") => {
            std::thread::sleep(Duration::from_secs(60));
            return None;
        }
        (_, p) if p == format!("/tx/{TX_ID}") => (200, tx_header().into_bytes()),
        (_, p) if p == format!("/block/height/{HEIGHT}") => (200, block().into_bytes()),
        _ => (404, b"Not Found".to_vec()),
    })
}

fn parse_range(value: &str) -> Option<(usize, usize)> {
    let (from, to) = value.strip_prefix("bytes=")?.split_once('-')?;
    Some((from.parse().ok()?, to.parse().ok()?))
}

/// The Lua each message evaluates, in order.
fn snippets() -> Vec<String> {
    vec![
        format!(
            "local f = io.open('/data/{DATA_ID}'); local a = f:read(5); local b = f:read(11); \
             f:close(); return a .. '|' .. b"
        ),
        format!(
            "local f = io.open('/data/{DATA_ID}'); f:seek('set', 69990); local s = f:read(36); \
             f:close(); return s"
        ),
        format!(
            "local f = io.open('/block/{HEIGHT}'); local s = f:read(f:seek('end')); f:close(); \
             return s"
        ),
        format!(
            "local f = io.open('/tx/{TX_ID}'); local s = f:read(f:seek('end')); f:close(); return s"
        ),
        format!("local f = io.open('/tx/{TX_ID}'); local l = f:read('l'); f:close(); return l"),
        "return tostring(io.open('/headers/x')) .. ' ' .. tostring(io.open('/etc/passwd'))".into(),
        format!("local f = io.open('/data/{UNATTESTED_ID}'); return 'opened'"),
        "return 'still alive'".into(),
        format!("local f = io.open('/data/{GONE_ID}'); return 'opened'"),
        "return 'alive again'".into(),
    ]
}

fn tag(name: &str, value: &str) -> Tag {
    Tag::new(name, value)
}

fn process_tags(scheduler: &str) -> Vec<Tag> {
    vec![
        tag("Data-Protocol", "ao"),
        tag("Variant", "ao.TN.1"),
        tag("Type", "Process"),
        tag("Scheduler", scheduler),
        tag("Extension", "WeaveDrive"),
        tag("Name", "weavedrive"),
    ]
}

/// One message's outcome: its output text, or that it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Data(String),
    Failed,
}

fn outcome_of_result(result: &Value) -> Outcome {
    match &result["Error"] {
        Value::Null => Outcome::Data(data_text(&result["Output"])),
        _ => Outcome::Failed,
    }
}

fn data_text(output: &Value) -> String {
    match &output["data"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn call(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Value, Duration) {
    let started = Instant::now();
    let raw = common::exchange(
        addr,
        method,
        path,
        "application/octet-stream",
        body,
        Duration::from_secs(120),
    )
    .unwrap_or_else(|| panic!("{method} {path}: no answer"));
    let (status, body) = common::parse_response(&raw);
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    (status, json, started.elapsed())
}

/// `aocu serve` on `dir` reading `gateway`, one executor.
fn start_node(gateway: &Gateway, dir: &std::path::Path, extra: &[&str]) -> Server {
    let gateways = format!("gateways=[\"http://{}\"]", gateway.addr);
    let mut args = vec!["--set", "executors=1", "--set", gateways.as_str()];
    args.extend_from_slice(extra);
    Server::start_with_wallet(dir, &common::shared_wallet_path(), &args)
}

fn signer() -> Signer {
    Signer::Arweave(common::shared_wallet().clone())
}

/// Upload `aos` and spawn a WeaveDrive process of it; its ID.
fn spawn_process(node: &Server, aos: &std::path::Path) -> String {
    let module = std::fs::read(aos).unwrap();
    let (status, module, _) = call(node.addr, "POST", "/~module@1.0", &module);
    assert_eq!(status, 200, "{module}");
    let mut tags = process_tags(common::shared_wallet().address());
    tags.push(tag("Module", module["id"].as_str().unwrap()));
    let spawn = DataItem::signed_by(&signer(), None, None, tags, b"1984".to_vec()).unwrap();
    let (status, body, _) = call(node.addr, "POST", "/", &spawn.to_bytes());
    assert_eq!(status, 202, "{body}");
    spawn.id()
}

/// Schedule an `Eval` of `code` on `pid`; its message ID.
fn send_eval(node: &Server, pid: &str, code: &str) -> String {
    let eval = vec![
        tag("Data-Protocol", "ao"),
        tag("Variant", "ao.TN.1"),
        tag("Type", "Message"),
        tag("Action", "Eval"),
    ];
    let target = pid.parse::<Id>().ok().map(Id::into_bytes);
    let item =
        DataItem::signed_by(&signer(), target, None, eval, code.as_bytes().to_vec()).unwrap();
    let (status, body, _) = call(node.addr, "POST", "/", &item.to_bytes());
    assert_eq!(status, 202, "{body}");
    item.id()
}

/// `GET /result/{message}`: the result and how long it took.
fn result_of(node: &Server, pid: &str, message: &str) -> (Value, Duration) {
    let path = format!("/result/{message}?process-id={pid}");
    let (status, result, took) = call(node.addr, "GET", &path, b"");
    assert_eq!(status, 200, "{result}");
    (result, took)
}

/// Evaluate `code` on `pid`: the result and how long it took.
fn eval(node: &Server, pid: &str, code: &str) -> (Value, Duration) {
    let message = send_eval(node, pid, code);
    result_of(node, pid, &message)
}

/// What aocu answers for each snippet, in order.
fn through_aocu(gateway: &Gateway, aos: &std::path::Path) -> Vec<Outcome> {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(gateway, dir.path(), &[]);
    let pid = spawn_process(&node, aos);
    snippets()
        .iter()
        .map(|code| outcome_of_result(&eval(&node, &pid, code).0))
        .collect()
}

/// What the reference answers for each snippet, in order.
fn through_reference(
    node_dir: &std::path::Path,
    gateway: &Gateway,
    aos: &std::path::Path,
) -> Vec<Outcome> {
    let owner = "OWNER-ADDRESS-00000000000000000000000000000";
    let pid = "PROCESS-ID-00000000000000000000000000000000";
    let tags = |tags: Vec<Tag>| {
        Value::Array(
            tags.into_iter()
                .map(|t| json!({"name": t.name, "value": t.value}))
                .collect(),
        )
    };
    let mut ptags = process_tags("SCHEDULER-ADDRESS-000000000000000000000000");
    ptags.push(tag("Module", "MODULE"));
    let module_tags = aocu::ao::module_item::module_tags(&std::fs::read(aos).unwrap(), &[]);
    let messages: Vec<Value> = snippets()
        .iter()
        .enumerate()
        .map(|(i, code)| {
            json!({"Id": format!("MSG-{i:039}"), "Owner": owner, "From": owner, "Target": pid,
                "Module": "MODULE", "Block-Height": "1500000",
                "Timestamp": (1_732_000_000_000u64 + i as u64).to_string(),
                "Tags": [{"name": "Action", "value": "Eval"}], "Data": code})
        })
        .collect();
    let case = json!({
        "wasm": aos, "gateway": format!("http://{}", gateway.addr), "timeoutSeconds": 60,
        "process": {"Id": pid, "Owner": owner, "Tags": tags(ptags)},
        "module": {"Id": "MODULE", "Owner": owner, "Tags": tags(module_tags.0)},
        "messages": messages,
    });
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), case.to_string()).unwrap();
    let out = common::stdout_of(
        Command::new("node")
            .arg("--experimental-wasm-memory64")
            .arg("weavedrive-reference.mjs")
            .arg(file.path())
            .current_dir(node_dir),
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), snippets().len(), "{lines:?}");
    lines
        .iter()
        .map(|line| match line["ok"] {
            Value::Bool(true) => outcome_of_result(line),
            _ => Outcome::Failed,
        })
        .collect()
}

#[test]
fn aos_reads_the_weave_as_the_reference_loader_does() {
    let Some(aos) = prereq::testdata("wasm/aos-dock.wasm") else {
        return;
    };
    let Some(node_dir) = prereq::node_project() else {
        return;
    };
    let gw = gateway();
    let ours = through_aocu(&gw, &aos);
    let asked_by_aocu = gw.asked.lock().unwrap().clone();
    let text = String::from_utf8(data()).unwrap();
    // What the process read is what the gateway served.
    assert_eq!(
        ours[0],
        Outcome::Data(format!("{}|{}", &text[..5], &text[5..16]))
    );
    assert_eq!(
        ours[1],
        Outcome::Data(text[69_990..70_026].to_string()),
        "to the end"
    );
    assert_eq!(ours[2], Outcome::Data(block()));
    let Outcome::Data(tx) = &ours[3] else {
        panic!("tx header: {:?}", ours[3])
    };
    let tx: Value = serde_json::from_str(tx).unwrap();
    assert_eq!(tx["id"], TX_ID);
    assert_eq!(
        tx["ownerAddress"],
        aocu::ao::signature::ao_address(&[1, 0, 1])
    );
    assert_eq!(ours[5], Outcome::Data("nil nil".into()));
    assert_eq!(ours[6], Outcome::Failed, "not attested");
    assert_eq!(ours[7], Outcome::Data("still alive".into()));
    assert_eq!(ours[8], Outcome::Failed, "no gateway has it");
    assert_eq!(ours[9], Outcome::Data("alive again".into()));
    let theirs = through_reference(&node_dir, &gw, &aos);
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(a, b, "message {i}: `{}`", snippets()[i]);
    }
    // Each file was read from the gateway once, then from the node's cache, and each data ID
    // was checked for an attestation once.
    let count = |what: &str| asked_by_aocu.iter().filter(|a| *a == what).count();
    for path in [
        format!("GET /{DATA_ID}"),
        format!("GET /{GONE_ID}"),
        format!("GET /tx/{TX_ID}"),
        format!("GET /block/height/{HEIGHT}"),
    ] {
        assert_eq!(count(&path), 1, "{path}: {asked_by_aocu:?}");
    }
    assert_eq!(count("POST /graphql"), 3, "{asked_by_aocu:?}");
}

#[test]
fn a_read_the_gateway_never_answers_ends_within_the_message_limit() {
    let Some(aos) = prereq::testdata("wasm/aos-dock.wasm") else {
        return;
    };
    let gw = gateway();
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(&gw, dir.path(), &["--set", "message-timeout-ms=3000"]);
    let pid = spawn_process(&node, &aos);
    let code = format!("return io.open('/data/{HANGS_ID}') and 'opened'");
    let (hung, took) = eval(&node, &pid, &code);
    assert!(
        hung["Error"]
            .as_str()
            .is_some_and(|e| e.contains("WeaveDrive")),
        "{hung}"
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let (next, _) = eval(&node, &pid, "return 'next'");
    assert_eq!(outcome_of_result(&next), Outcome::Data("next".into()));
}

#[test]
fn after_a_kill_the_same_bytes_come_from_the_cache() {
    let Some(aos) = prereq::testdata("wasm/aos-dock.wasm") else {
        return;
    };
    let gw = gateway();
    let dir = tempfile::tempdir().unwrap();
    let read = format!("local f = io.open('/data/{DATA_ID}'); return f:read(30)");
    let node = start_node(&gw, dir.path(), &[]);
    let pid = spawn_process(&node, &aos);
    let first = send_eval(&node, &pid, &read);
    let (before, _) = result_of(&node, &pid, &first);
    let text = String::from_utf8(data()).unwrap();
    assert_eq!(outcome_of_result(&before), Outcome::Data(text[..30].into()));
    drop(node); // SIGKILL: no clean shutdown, no checkpoint
    // The gateway no longer serves the data; the node restarts on the same state.
    gw.data_gone.store(true, Ordering::SeqCst);
    let asked = gw.asked.lock().unwrap().len();
    let node = start_node(&gw, dir.path(), &[]);
    let (again, _) = result_of(&node, &pid, &first);
    assert_eq!(
        again, before,
        "the stored result is the same after the restart"
    );
    let (later, _) = eval(&node, &pid, &read);
    assert_eq!(outcome_of_result(&later), outcome_of_result(&before));
    let after: Vec<String> = gw.asked.lock().unwrap()[asked..].to_vec();
    assert!(
        !after.contains(&format!("GET /{DATA_ID}")),
        "read from the cache: {after:?}"
    );
}
