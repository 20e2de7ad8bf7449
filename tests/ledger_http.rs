//! The ledger over real HTTP, on real AOS processes (`aos-2-pure.wasm`): messages from two
//! owners (an Arweave wallet and an ed25519 key) to two processes are charged exactly as the
//! price schedule says, the owners and the processes each add up to the node, dry-runs are
//! charged and flagged, and a `kill -9` in the middle of a stream neither loses nor doubles a
//! charge (the node evaluates everything again after the restart, charging only what is new).
//!
//! The prices are chosen so that nothing is rounded: 7 per message, 1 per instruction
//! (10⁶ per million) and 1 per byte-nanosecond of memory (2³⁰ × 10⁹ per GiB-second), so
//! every account must hold `charged = 7 × (messages + dry-runs) + fuel + memory-byte-ns`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod common;
mod prereq;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use aocu::ao::{DataItem, Id, SignatureType, Signer};
use common::Server;
use serde_json::{Value, json};

const PRICES: &str = "price={per-message=7, per-million-instructions=1000000, per-gib-second-memory=1073741824000000000}";

fn start(state_dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--set", "executors=2", "--set", PRICES];
    args.extend_from_slice(extra);
    Server::start_with_wallet(state_dir, &common::shared_wallet_path(), &args)
}

fn post_item(addr: SocketAddr, item: &DataItem) -> Result<(), String> {
    let (status, body) = common::post_json(
        addr,
        "/",
        "application/octet-stream",
        &item.to_bytes(),
        Duration::from_secs(60),
    )
    .ok_or_else(|| "the node is gone".to_string())?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("{status}: {body}"))
    }
}

fn add_aos(node: &Server, aos: &Path) -> String {
    let wasm = std::fs::read(aos).unwrap();
    let path = "/~module@1.0?Memory-Limit=1-gb&Compute-Limit=9000000000000";
    let (status, body) = common::post_json(
        node.addr,
        path,
        "application/wasm",
        &wasm,
        Duration::from_secs(120),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// The two owners: the node's shared Arweave wallet and a fresh ed25519 key.
fn owners() -> [Signer; 2] {
    [
        Signer::Arweave(common::shared_wallet().clone()),
        Signer::generate(SignatureType::Ed25519).unwrap().unwrap(),
    ]
}

/// The address the ledger keys an owner by (AO's address of the signing key).
fn address(signer: &Signer) -> String {
    aocu::ao::b64url(&aocu::ao::sha256(&signer.owner()))
}

fn spawn(node: &Server, signer: &Signer, module: &str, name: &str) -> String {
    let scheduler = common::shared_wallet().address();
    let tags = common::ao_tags(
        "Process",
        &[("Module", module), ("Scheduler", scheduler), ("Name", name)],
    );
    let item = DataItem::signed_by(signer, None, None, tags, b"1984".to_vec()).unwrap();
    post_item(node.addr, &item).unwrap();
    item.id()
}

fn message(signer: &Signer, pid: &str, n: usize) -> DataItem {
    let tags = common::ao_tags("Message", &[("Action", "Eval")]);
    let target = pid.parse::<Id>().ok().map(Id::into_bytes);
    let code = format!("Seen = (Seen or 0) + 1\nreturn {n}");
    DataItem::signed_by(signer, target, None, tags, code.into_bytes()).unwrap()
}

fn account(node: &Server, query: &str) -> Value {
    let (status, body) = node.get_json(&format!("/~meta@1.0/metering?{query}"));
    assert_eq!(status, 200, "{body}");
    body["ledger"].clone()
}

fn number(account: &Value, key: &str) -> u128 {
    match &account[key] {
        Value::String(s) => s.parse().unwrap(),
        Value::Number(n) => u128::from(n.as_u64().unwrap()),
        other => panic!("{key} of {account}: {other}"),
    }
}

/// The schedule, applied to an account's own usage.
fn assert_priced(account: &Value) {
    let charges = number(account, "messages") + number(account, "dry-runs");
    let expected = 7 * charges + number(account, "fuel") + number(account, "memory-byte-ns");
    assert_eq!(number(account, "charged"), expected, "{account}");
    assert!(number(account, "fuel") > 0 || charges == 0, "{account}");
}

/// Every account priced, and the owners and the processes each adding up to the node.
fn assert_ledger_adds_up(node: &Server, owners: &[String], processes: &[String]) -> Value {
    let total = account(node, "");
    assert_priced(&total);
    for parts in [
        owners
            .iter()
            .map(|o| account(node, &format!("owner={o}")))
            .collect::<Vec<_>>(),
        processes
            .iter()
            .map(|p| account(node, &format!("process={p}")))
            .collect(),
    ] {
        for key in ["messages", "dry-runs", "fuel", "memory-byte-ns", "charged"] {
            let sum: u128 = parts.iter().map(|a| number(a, key)).sum();
            assert_eq!(sum, number(&total, key), "{key}: {parts:?} vs {total}");
        }
        parts.iter().for_each(assert_priced);
    }
    total
}

fn result(node: &Server, pid: &str, mid: &str) -> Value {
    let (status, body) = node.get_json(&format!("/result/{mid}?process-id={pid}"));
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn two_owners_two_processes_priced_exactly_through_a_kill_9() {
    let Some(aos) = prereq::testdata("wasm/aos-2-pure.wasm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), &["--set", "eager-evaluation=true"]);
    let module = add_aos(&node, &aos);
    let signers = owners();
    let addresses: Vec<String> = signers.iter().map(address).collect();
    let pids: Vec<String> = signers
        .iter()
        .enumerate()
        .map(|(i, s)| spawn(&node, s, &module, &format!("ledger-{i}")))
        .collect();

    // A stream from both owners to both processes, cut by `kill -9`.
    let addr = node.addr;
    let sender = {
        let pids = pids.clone();
        std::thread::spawn(move || {
            let mut acked = Vec::new();
            for n in 0..400 {
                let (owner, process) = (n % 2, (n / 2) % 2);
                let item = message(&signers[owner], &pids[process], n);
                if post_item(addr, &item).is_err() {
                    break;
                }
                acked.push((owner, process, item.id()));
            }
            acked
        })
    };
    std::thread::sleep(Duration::from_millis(2500));
    let mut node = node;
    let _ = node.child.kill();
    let _ = node.child.wait();
    let acked = sender.join().unwrap();
    assert!(
        acked.len() >= 8,
        "too few messages before the kill: {}",
        acked.len()
    );

    // After the restart every message the SU holds (each acknowledged one, and any the kill
    // cut off before its answer) is evaluated, and charged once: to its process, and to its
    // signer as the schedule names it.
    let node = start(dir.path(), &[]);
    let mut scheduled = HashMap::new();
    let mut by_owner: HashMap<String, u64> = HashMap::new();
    for (i, pid) in pids.iter().enumerate() {
        let (status, page) = node.get_json(&format!("/{pid}?limit=100000"));
        assert_eq!(status, 200, "{page}");
        let edges = page["edges"].as_array().unwrap();
        for edge in edges {
            let message = &edge["node"]["message"];
            let mid = message["id"].as_str().unwrap().to_string();
            let owner = message["owner"]["address"].as_str().unwrap().to_string();
            result(&node, pid, &mid);
            *by_owner.entry(owner).or_default() += 1;
            scheduled.insert(mid, i);
        }
        let process = account(&node, &format!("process={pid}"));
        assert_eq!(
            process["messages"],
            json!(edges.len()),
            "process {i}: {process}"
        );
    }
    for (owner, process, mid) in &acked {
        assert_eq!(
            scheduled.get(mid),
            Some(process),
            "acknowledged {mid} of {owner} lost"
        );
    }
    for address in &addresses {
        let owner = account(&node, &format!("owner={address}"));
        assert_eq!(
            owner["messages"],
            json!(by_owner[address]),
            "owner {address}: {owner}"
        );
    }
    assert_eq!(
        by_owner.len(),
        2,
        "only the two owners signed: {by_owner:?}"
    );
    eprintln!(
        "{} acknowledged, {} scheduled",
        acked.len(),
        scheduled.len()
    );
    let before = assert_ledger_adds_up(&node, &addresses, &pids);
    assert_eq!(before["messages"], json!(scheduled.len()));
    assert_eq!(before["dry-runs"], json!(0));

    // A dry-run says what it cost, and the ledger holds exactly that more, flagged.
    let body = json!({
        "Id": "1234", "Owner": addresses[1], "Target": pids[0], "Data": "return Seen",
        "Tags": [{"name": "Action", "value": "Eval"}], "Anchor": "0"
    });
    let raw = common::exchange(
        node.addr,
        "POST",
        &format!("/dry-run?process-id={}", pids[0]),
        "application/json",
        body.to_string().as_bytes(),
        Duration::from_secs(60),
    )
    .unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    let header = |name: &str| {
        raw.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {raw}"))
            .trim()
            .to_string()
    };
    let cost: u128 = header("aocu-charge").parse().unwrap();
    assert_eq!(header("aocu-charge-currency"), "winston");
    let after = assert_ledger_adds_up(&node, &addresses, &pids);
    assert_eq!(
        after["messages"], before["messages"],
        "a dry-run is no message"
    );
    assert_eq!(after["dry-runs"], json!(1));
    assert_eq!(number(&after, "charged") - number(&before, "charged"), cost);
    assert_eq!(number(&after, "charged-dry-runs"), cost);
    let (status, info) = node.get_json("/~meta@1.0/info");
    assert_eq!(status, 200);
    assert_eq!(info["ledger"], after, "info shows the node's ledger");
    assert_eq!(
        info["price"]["per-message"], 7,
        "info shows the schedule in force"
    );

    // Bad queries are refused by name.
    for (query, needle) in [
        ("process=nope", "43-character"),
        ("owner=a%20b", "address"),
        (
            &format!("process={}&owner={}", pids[0], addresses[0]) as &str,
            "not both",
        ),
    ] {
        let (status, body) = node.get_json(&format!("/~meta@1.0/metering?{query}"));
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.to_string().contains(needle), "{query}: {body}");
    }
    // An owner or process never charged has an empty account.
    let unknown = account(&node, &format!("process={}", "A".repeat(43)));
    assert_eq!(unknown["charged"], "0");
}

#[test]
fn a_price_key_that_does_not_exist_stops_the_node_with_its_name() {
    let out = common::aocu()
        .args(["config", "check", "--set", "price={per-banana=1}"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("price") && err.contains("per-banana"), "{err}");
}
