//! The CU API over real HTTP, on real AOS processes (`aos-2-pure.wasm`): messages in through
//! the node's MU (`POST /`), results out through `/result`, `/results`, `/dry-run`, `/state`,
//! `/cron` and the AO-Core process paths; restarts (clean, and `kill -9` in the middle of a
//! stream) lose no acknowledged message and give byte-identical results; a dry-run changes
//! nothing; outbox messages to a process on the node are pushed to it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.
#![allow(unsafe_code)] // libc calls to observe the node (each `unsafe` says why it is sound).

mod common;
mod prereq;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aocu::ao::Tag;
use aocu::ao::{DataItem, Id};
use common::Server;
use serde_json::{Value, json};

use common::shared_wallet as wallet;

/// A node on `state_dir` (kept by the caller), with the shared wallet.
struct Node {
    server: Server,
}

impl Node {
    fn start(state_dir: &Path, extra: &[&str]) -> Node {
        let wallet_path = common::shared_wallet_path();
        let mut args = vec!["--set", "executors=2"];
        args.extend_from_slice(extra);
        Node {
            server: Server::start_with_wallet(state_dir, &wallet_path, &args),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// Stop with SIGTERM and wait (a clean shutdown: checkpoints are written).
    fn stop(mut self) {
        let pid = self.server.child.id() as i32;
        // SAFETY: kill(2) with a pid we spawned and still own (not yet waited for).
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let _ = self.server.child.wait();
    }

    /// `kill -9`.
    fn kill(mut self) {
        let _ = self.server.child.kill();
        let _ = self.server.child.wait();
    }

    fn get(&self, path: &str) -> (u16, Value) {
        self.server.get_json(path)
    }

    fn get_raw(&self, path: &str) -> (u16, String) {
        self.server.request("GET", path, b"")
    }

    fn post(&self, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
        post(self.addr(), path, content_type, body)
    }
}

fn post(addr: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    try_post(addr, path, content_type, body)
        .unwrap_or_else(|| panic!("POST {path}: the node closed the connection without answering"))
}

/// `None` when the node is gone (refused, or closed the connection without an answer).
fn try_post(addr: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> Option<(u16, Value)> {
    common::post_json(addr, path, content_type, body, Duration::from_secs(120))
}

fn tag(name: &str, value: &str) -> Tag {
    Tag {
        name: name.into(),
        value: value.into(),
    }
}

fn add_aos(node: &Node, aos: &Path) -> String {
    let wasm = std::fs::read(aos).expect("aos-2-pure.wasm");
    let (status, body) = node.post(
        "/~module@1.0?Memory-Limit=1-gb&Compute-Limit=9000000000000",
        "application/wasm",
        &wasm,
    );
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().unwrap().to_string()
}

fn spawn(node: &Node, module: &str, name: &str) -> String {
    spawn_tagged(node, module, name, &[])
}

fn spawn_tagged(node: &Node, module: &str, name: &str, extra: &[(&str, &str)]) -> String {
    let mut tags = vec![
        tag("Data-Protocol", "ao"),
        tag("Variant", "ao.TN.1"),
        tag("Type", "Process"),
        tag("Module", module),
        tag("Scheduler", wallet().address()),
        tag("Name", name),
    ];
    tags.extend(extra.iter().map(|(n, v)| tag(n, v)));
    let item = DataItem::signed(wallet(), None, None, tags, b"1984".to_vec()).unwrap();
    let (status, body) = node.post("/", "application/octet-stream", &item.to_bytes());
    assert!((200..300).contains(&status), "{body}");
    item.id()
}

fn eval_item(pid: &str, code: &str) -> DataItem {
    let tags = vec![
        tag("Data-Protocol", "ao"),
        tag("Variant", "ao.TN.1"),
        tag("Type", "Message"),
        tag("Action", "Eval"),
    ];
    DataItem::signed(
        wallet(),
        pid.parse::<Id>().ok().map(Id::into_bytes),
        None,
        tags,
        code.as_bytes().to_vec(),
    )
    .unwrap()
}

fn send(addr: SocketAddr, pid: &str, code: &str) -> Result<String, String> {
    let item = eval_item(pid, code);
    let (status, body) = try_post(addr, "/", "application/octet-stream", &item.to_bytes())
        .ok_or_else(|| "the node is gone".to_string())?;
    if (200..300).contains(&status) {
        Ok(item.id())
    } else {
        Err(format!("{status}: {body}"))
    }
}

fn result(node: &Node, pid: &str, mid: &str) -> (u16, String) {
    node.get_raw(&format!("/result/{mid}?process-id={pid}"))
}

fn data(result: &Value) -> String {
    match &result["Output"] {
        Value::Object(o) => match &o["data"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target: PathBuf = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

const COUNT: &str = "Counter = (Counter or 0) + 1\nreturn Counter";

#[test]
fn hundred_messages_results_dry_run_and_byte_identical_restarts() {
    let Some(aos) = prereq::testdata("wasm/aos-2-pure.wasm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a_dir = dir.path().join("a");
    let b_dir = dir.path().join("b");
    let node = Node::start(&a_dir, &["--set", "checkpoint-every-messages=10"]);
    let module = add_aos(&node, &aos);
    let pid = spawn(&node, &module, "counter");
    let ids: Vec<String> = (0..100)
        .map(|_| send(node.addr(), &pid, COUNT).unwrap())
        .collect();
    // Lazy: nothing is evaluated yet. Copy the state as it is: node B starts from the same
    // schedule and evaluates it in two runs, with a kill -9 in between.
    node.stop();
    copy_dir(&a_dir, &b_dir);

    let node = Node::start(&a_dir, &["--set", "checkpoint-every-messages=10"]);
    let mut bodies = Vec::new();
    for (k, mid) in ids.iter().enumerate() {
        let (status, body) = result(&node, &pid, mid);
        assert_eq!(status, 200, "{body}");
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(data(&json), (k + 1).to_string(), "{body}");
        assert!(json["Messages"].is_array() && json["Spawns"].is_array());
        assert!(json.get("Error").is_none(), "{body}");
        assert!(json["GasUsed"].as_u64().unwrap() > 0);
        bodies.push(body);
    }
    let (status, page) = node.get(&format!("/results/{pid}?limit=1000"));
    assert_eq!(status, 200, "{page}");
    let edges = page["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 101, "the spawn and 100 messages");
    assert_eq!(data(&edges[100]["node"]), "100");
    assert_eq!(page["pageInfo"]["hasNextPage"], false);
    let (_, desc) = node.get(&format!("/results/{pid}?sort=DESC&limit=2"));
    assert_eq!(desc["edges"][0]["cursor"], edges[100]["cursor"]);
    assert_eq!(desc["pageInfo"]["hasNextPage"], true);

    // A dry-run sees the latest state, and changes nothing.
    let dry = |code: &str| {
        let body = json!({
            "Id": "1234", "Owner": wallet().address(), "Target": pid, "Data": code,
            "Tags": [{"name": "Action", "value": "Eval"}, {"name": "Data-Protocol", "value": "ao"},
                     {"name": "Type", "value": "Message"}, {"name": "Variant", "value": "ao.TN.1"}],
            "Anchor": "0"
        });
        node.post(
            &format!("/dry-run?process-id={pid}"),
            "application/json",
            body.to_string().as_bytes(),
        )
    };
    let (status, seen) = dry("return Counter");
    assert_eq!((status, data(&seen)), (200, "100".to_string()), "{seen}");
    let (status, changed) = dry("Counter = Counter + 1000\nreturn Counter");
    assert_eq!(
        (status, data(&changed)),
        (200, "1100".to_string()),
        "{changed}"
    );
    let after = send(node.addr(), &pid, "return Counter").unwrap();
    let (_, body) = result(&node, &pid, &after);
    let after_json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        data(&after_json),
        "100",
        "the dry-run left no trace: {body}"
    );

    // The memory and where it is.
    let raw = node.server.raw(
        format!("GET /state/{pid} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert!(
        raw.starts_with("HTTP/1.1 200"),
        "{}",
        &raw[..200.min(raw.len())]
    );
    assert!(raw.to_ascii_lowercase().contains("last-ordinate: 101"));
    assert!(raw.contains("application/octet-stream"));
    node.stop();

    // B: half the results, kill -9, then the rest from the checkpoint: byte-identical to A's.
    let b = Node::start(&b_dir, &["--set", "checkpoint-every-messages=10"]);
    let (status, half) = result(&b, &pid, &ids[54]);
    assert_eq!((status, &half), (200, &bodies[54]));
    b.kill();
    let b = Node::start(&b_dir, &["--set", "checkpoint-every-messages=10"]);
    for (k, mid) in ids.iter().enumerate().rev() {
        let (status, body) = result(&b, &pid, mid);
        assert_eq!(status, 200);
        assert_eq!(body, bodies[k], "result {k} differs after restart");
    }
    b.stop();
}

#[test]
fn kill_9_during_a_stream_loses_no_acknowledged_message() {
    let Some(aos) = prereq::testdata("wasm/aos-2-pure.wasm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), &["--set", "eager-evaluation=true"]);
    let module = add_aos(&node, &aos);
    let pid = spawn(&node, &module, "stream");
    let addr = node.addr();
    let sender = {
        let pid = pid.clone();
        std::thread::spawn(move || {
            let mut acked = Vec::new();
            for k in 0..400 {
                match send(addr, &pid, &format!("Seen = (Seen or 0) + 1\nreturn {k}")) {
                    Ok(id) => acked.push(id),
                    Err(_) => break,
                }
            }
            acked
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    node.kill();
    let acked = sender.join().unwrap();
    assert!(
        !acked.is_empty(),
        "no message was acknowledged before the kill"
    );
    let node = Node::start(dir.path(), &[]);
    for (k, mid) in acked.iter().enumerate() {
        let (status, body) = result(&node, &pid, mid);
        assert_eq!(status, 200, "acknowledged message {k} lost: {body}");
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(data(&json), k.to_string(), "{body}");
    }
    node.stop();
}

#[test]
fn errors_shapes_and_pushes() {
    let Some(aos) = prereq::testdata("wasm/aos-2-pure.wasm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), &[]);
    let module = add_aos(&node, &aos);
    let pid = spawn(&node, &module, "shapes");
    let other = spawn(&node, &module, "receiver");

    // GET /: the node address and its clock.
    let (status, root) = node.get("/");
    assert_eq!(status, 200);
    assert_eq!(root["address"], wallet().address());
    assert!(root["timestamp"].as_u64().unwrap() > 1_700_000_000_000);

    // An evaluation error is a 200 with Error; the process goes on.
    let boom = send(node.addr(), &pid, "error('boom')").unwrap();
    let (status, body) = node.get(&format!("/result/{boom}?process-id={pid}"));
    assert_eq!(status, 200, "{body}");
    assert!(body["Error"].to_string().contains("boom"), "{body}");
    let ok = send(node.addr(), &pid, "return 1+1").unwrap();
    let (_, body) = node.get(&format!("/result/{ok}?process-id={pid}"));
    assert_eq!(data(&body), "2", "{body}");
    // Errored evaluations are not listed in /results (AO's CU leaves them out).
    let (_, page) = node.get(&format!("/results/{pid}"));
    assert_eq!(page["edges"].as_array().unwrap().len(), 2, "{page}");

    // 400s name the field, 404s for what is not there.
    let fake = "A".repeat(43);
    for (path, status, needle) in [
        (format!("/result/{ok}"), 400, "process-id"),
        (format!("/result/{ok}?process-id=short"), 400, "process-id"),
        (format!("/result/{fake}?process-id={pid}"), 404, &fake[..]),
        (format!("/result/{ok}?process-id={fake}"), 404, &fake[..]),
        (format!("/results/{pid}?sort=UP"), 400, "sort"),
        (format!("/results/{pid}?limit=-1"), 400, "limit"),
        (format!("/results/{pid}?from=yesterday"), 400, "from"),
        (format!("/results/{fake}"), 404, &fake[..]),
        (format!("/state/{fake}"), 404, &fake[..]),
        (format!("/cron/{fake}"), 404, &fake[..]),
        (format!("/{pid}~process@1.0/compute"), 400, "slot"),
        (
            format!("/{pid}~process@1.0/compute?slot=99"),
            404,
            "slot 99",
        ),
    ] {
        let (got, body) = node.get(&path);
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(needle),
            "{path}: {body}"
        );
    }
    for (body, status, needle) in [
        (&br#"{"Owner": 5}"#[..], 400, "Owner"),
        (b"not json", 400, "body"),
        (br#"{"Tags": [{"name": "A"}]}"#, 400, "Tags[0].value"),
    ] {
        let (got, answer) = node.post(
            &format!("/dry-run?process-id={pid}"),
            "application/json",
            body,
        );
        assert_eq!(got, status, "{answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(needle),
            "{answer}"
        );
    }
    let (got, _) = node.post(
        &format!("/dry-run?process-id={fake}"),
        "application/json",
        b"{}",
    );
    assert_eq!(got, 404);

    // Cron: the empty connection.
    let (status, cron) = node.get(&format!("/cron/{pid}"));
    assert_eq!(status, 200);
    assert_eq!(
        cron,
        json!({ "pageInfo": { "hasNextPage": false }, "edges": [] })
    );

    // AO-Core paths.
    let (status, at) = node.get(&format!("/{pid}~process@1.0/compute?slot=2"));
    assert_eq!(status, 200, "{at}");
    assert_eq!(
        (at["at-slot"].as_u64(), at["results"]["data"].as_str()),
        (Some(2), Some("2"))
    );
    let (status, now) = node.get(&format!("/{pid}~process@1.0/now"));
    assert_eq!((status, now["at-slot"].as_u64()), (200, Some(2)), "{now}");

    // A message to a process on this node is pushed to it, from the sender.
    let code =
        format!("Send({{Target = '{other}', Action = 'Ping', Data = 'hello'}})\nreturn 'sent'");
    let sent = send(node.addr(), &pid, &code).unwrap();
    let (_, body) = node.get(&format!("/result/{sent}?process-id={pid}"));
    assert_eq!(body["Messages"][0]["Target"], other.as_str(), "{body}");
    let mut pushed = None;
    for _ in 0..100 {
        let (_, schedule) = node.get(&format!("/{other}"));
        if let Some(edge) = schedule["edges"].as_array().and_then(|e| e.get(1)) {
            pushed = Some(edge.clone());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let pushed = pushed.expect("the outbox message was not pushed");
    let tags = &pushed["node"]["message"]["tags"];
    let tag_of = |n: &str| {
        tags.as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == n)
            .map(|t| t["value"].as_str().unwrap().to_string())
    };
    assert_eq!(
        tag_of("From-Process").as_deref(),
        Some(pid.as_str()),
        "{pushed}"
    );
    assert_eq!(tag_of("Action").as_deref(), Some("Ping"));
    assert_eq!(tag_of("Pushed-For").as_deref(), Some(sent.as_str()));
    let (_, page) = node.get(&format!("/results/{other}"));
    assert_eq!(page["edges"].as_array().unwrap().len(), 2, "{page}");
    node.stop();
}

/// A process spawned and addressed by a key of signature type `t` (2: ed25519, 3: Ethereum,
/// 4: Solana, 7: typed Ethereum), through `POST /`: the process sees as `Owner` and `From` of
/// its messages, and as its own owner, the address AO's CU gives that key (EIP-55 for an
/// Ethereum key, `base64url(SHA-256(owner))` else), and the SU's page shows the SU's address.
#[test]
fn processes_see_the_ao_address_of_every_signature_type() {
    use aocu::ao::{SignatureType, Signer, b64url, sha256};
    let Some(aos) = prereq::testdata("wasm/aos-2-pure.wasm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), &[]);
    let module = add_aos(&node, &aos);
    for t in [
        SignatureType::Ed25519,
        SignatureType::Ethereum,
        SignatureType::Solana,
        SignatureType::TypedEthereum,
    ] {
        let signer = Signer::generate(t).unwrap().unwrap();
        let owner = signer.owner();
        let su_address = b64url(&sha256(&owner));
        let expected = if t == SignatureType::Ethereum {
            // EIP-55: `0x`, 40 hex digits, in mixed case.
            let key = aocu::ao::signature::ethereum::verifying_key(&owner).unwrap();
            aocu::ao::signature::ethereum::checksummed(
                &aocu::ao::signature::ethereum::address_bytes(&key),
            )
        } else {
            su_address.clone()
        };
        let spawn_tags = vec![
            tag("Data-Protocol", "ao"),
            tag("Variant", "ao.TN.1"),
            tag("Type", "Process"),
            tag("Module", &module),
            tag("Scheduler", wallet().address()),
            tag("Name", t.name()),
        ];
        let spawn = DataItem::signed_by(&signer, None, None, spawn_tags, b"1984".to_vec()).unwrap();
        let (status, body) = node.post("/", "application/octet-stream", &spawn.to_bytes());
        assert_eq!(status, 202, "{t:?} spawn: {body}");
        let pid = spawn.id();
        // AOS runs an Eval only from its owner: an answer shows that `From` is the owner. The
        // Eval answers the owner AOS keeps and installs a handler that prints `From|Owner` of
        // the next `Action: Who` message.
        let code = "Handlers.add('who', Handlers.utils.hasMatchingTag('Action', 'Who'), \
                    function(m) print('seen:' .. m.From .. '|' .. m.Owner) end)\n\
                    return Owner .. '|' .. ao.env.Process.Owner";
        let message = |action: &str, data: &str| {
            let tags = vec![
                tag("Data-Protocol", "ao"),
                tag("Variant", "ao.TN.1"),
                tag("Type", "Message"),
                tag("Action", action),
            ];
            let target = pid.parse::<Id>().ok().map(Id::into_bytes);
            let item =
                DataItem::signed_by(&signer, target, None, tags, data.as_bytes().to_vec()).unwrap();
            let (status, body) = node.post("/", "application/octet-stream", &item.to_bytes());
            assert_eq!(status, 202, "{t:?} {action}: {body}");
            item
        };
        let eval = message("Eval", code);
        let who = message("Who", " ");
        let (status, body) = result(&node, &pid, &eval.id());
        assert_eq!(status, 200, "{t:?}: {body}");
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            data(&json),
            format!("{expected}|{expected}"),
            "{t:?}: {body}"
        );
        let (status, body) = result(&node, &pid, &who.id());
        assert_eq!(status, 200, "{t:?}: {body}");
        let json: Value = serde_json::from_str(&body).unwrap();
        assert!(
            data(&json).contains(&format!("seen:{expected}|{expected}")),
            "{t:?}: {body}"
        );
        if t == SignatureType::Ethereum {
            assert!(
                expected.starts_with("0x") && expected.len() == 42,
                "{expected}"
            );
            assert_ne!(expected.to_lowercase(), expected, "checksummed: {expected}");
        }
        // The SU's page: the owner's key and the SU's address, as AO's SU writes them.
        let (status, page) = node.get(&format!("/{pid}"));
        assert_eq!(status, 200, "{page}");
        let message = &page["edges"][1]["node"]["message"];
        assert_eq!(message["id"], eval.id(), "{page}");
        assert_eq!(message["owner"]["key"], b64url(&owner), "{t:?}");
        assert_eq!(message["owner"]["address"], su_address, "{t:?}");
    }
    node.stop();
}

/// Installs a handler that counts `Action: Tick` messages and prints their timestamps.
const TICKER: &str = "Ticks = 0\nHandlers.add('tick', Handlers.utils.hasMatchingTag('Action', 'Tick'), function(m) Ticks = Ticks + 1; print('tick ' .. Ticks .. ' at ' .. m.Timestamp .. ' cron ' .. tostring(m.Cron)) end)\nreturn 'ticking'";

/// The timestamps of a process' slots, from its SU page.
fn slot_timestamps(node: &Node, pid: &str) -> Vec<i64> {
    let (status, page) = node.get(&format!("/{pid}?limit=100"));
    assert_eq!(status, 200, "{page}");
    common::page_timestamps(&page)
}

/// Every edge of `/cron/{pid}` up to `to`, following cursors one page of `limit` at a time.
fn cron_edges(node: &Node, pid: &str, to: i64, limit: usize) -> Vec<Value> {
    let mut all = Vec::new();
    let mut from = String::new();
    loop {
        let (status, page) = node.get(&format!("/cron/{pid}?to={to}&limit={limit}&from={from}"));
        assert_eq!(status, 200, "{page}");
        let edges = page["edges"].as_array().unwrap().clone();
        let more = page["pageInfo"]["hasNextPage"].as_bool().unwrap();
        if let Some(last) = edges.last() {
            from = last["cursor"]
                .as_str()
                .unwrap()
                .replace('=', "%3D")
                .replace('+', "%2B");
        }
        all.extend(edges);
        if !more {
            return all;
        }
    }
}

#[test]
fn cron_messages_run_between_scheduled_ones_identically_after_a_restart() {
    let Some(aos) = prereq::testdata("wasm/aos-2-pure.wasm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    let node = Node::start(&a_dir, &[]);
    let module = add_aos(&node, &aos);
    let crons = [("Cron-Interval", "1-second"), ("Cron-Tag-Action", "Tick")];
    let pid = spawn_tagged(&node, &module, "ticker", &crons);
    let first = send(node.addr(), &pid, TICKER).unwrap();
    std::thread::sleep(Duration::from_millis(3200));
    let second = send(node.addr(), &pid, "return Ticks").unwrap();
    // Nothing is evaluated yet (lazy): node B gets the same schedule.
    node.stop();
    copy_dir(&a_dir, &b_dir);

    let node = Node::start(&a_dir, &[]);
    let (status, body) = result(&node, &pid, &first);
    assert_eq!(
        (status, data(&serde_json::from_str(&body).unwrap())),
        (200, "ticking".into())
    );
    let (status, body) = result(&node, &pid, &second);
    assert_eq!(status, 200, "{body}");
    // One tick per whole second from slot 1's timestamp up to slot 2's, except the origin's
    // own second (the Node CU's rule for a 1-second cron).
    let ts = slot_timestamps(&node, &pid);
    let (t0, t1, t2) = (ts[0], ts[1], ts[2]);
    let ticks = (t2 - t1 + 999) / 1000 - i64::from(t1.div_euclid(1000) == t0.div_euclid(1000));
    assert!(ticks >= 3, "{ticks}");
    assert_eq!(
        data(&serde_json::from_str(&body).unwrap()),
        ticks.to_string(),
        "{body}"
    );

    // /cron lists every cron message before slot 2 (the ones before slot 1 found no handler),
    // the same whether read in one page or one edge at a time.
    let whole = cron_edges(&node, &pid, t2 - 1, 1000);
    assert_eq!(cron_edges(&node, &pid, t2 - 1, 1), whole);
    let between: Vec<&Value> = whole
        .iter()
        .filter(|e| data(&e["node"]).starts_with("tick "))
        .collect();
    assert_eq!(between.len() as i64, ticks, "{whole:?}");
    assert!(
        data(&between[0]["node"]).ends_with("cron true"),
        "{:?}",
        between[0]
    );
    // Reads "up to now" evaluate the crons after the last slot too.
    std::thread::sleep(Duration::from_millis(1100));
    let (_, now) = node.get(&format!("/cron/{pid}?from={}", t2 - 1));
    assert!(!now["edges"].as_array().unwrap().is_empty(), "{now}");
    let (status, bad) = node.get(&format!("/cron/{pid}?limit=ten"));
    assert_eq!(status, 400, "{bad}");
    node.kill();

    // A again after kill -9: the same bytes, from its own state.
    let node = Node::start(&a_dir, &[]);
    let (_, again) = result(&node, &pid, &second);
    assert_eq!(again, body, "slot 2 after kill -9");
    assert_eq!(
        cron_edges(&node, &pid, t2 - 1, 1000),
        whole,
        "crons after kill -9"
    );
    node.kill();

    // Node B evaluates the same schedule from scratch: byte-identical cron results.
    let node = Node::start(&b_dir, &[]);
    let (_, body_b) = result(&node, &pid, &second);
    assert_eq!(body_b, body);
    assert_eq!(cron_edges(&node, &pid, t2 - 1, 7), whole);
    node.stop();
}

/// The `resident` part of `~meta@1.0/info/metering`.
fn resident(node: &Node) -> Value {
    let (status, metering) = node.get("/~meta@1.0/info/metering");
    assert_eq!(status, 200, "{metering}");
    metering["resident"].clone()
}

fn count_of(node: &Node, pid: &str) -> String {
    let mid = send(node.addr(), pid, COUNT).unwrap();
    let (status, body) = result(node, pid, &mid);
    assert_eq!(status, 200, "{body}");
    data(&serde_json::from_str(&body).unwrap())
}

#[test]
fn a_memory_budget_evicts_idle_processes_and_restores_them_transparently() {
    let Some(aos) = prereq::testdata("wasm/aos-2-pure.wasm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // One process, no budget to speak of: how much memory an AOS process holds.
    let node = Node::start(dir.path(), &[]);
    let module = add_aos(&node, &aos);
    let first = spawn(&node, &module, "p0");
    assert_eq!(count_of(&node, &first), "1");
    let one = resident(&node);
    assert_eq!(one["resident-processes"], 1, "{one}");
    let bytes = one["resident-bytes"].as_u64().unwrap();
    assert!(bytes > 0, "{one}");
    node.stop();

    // Room for two and a half: the third resident process evicts the least recently used.
    let budget = bytes * 5 / 2;
    let set = format!("process-memory-budget-bytes={budget}");
    let node = Node::start(dir.path(), &["--set", &set]);
    let mut pids = vec![first];
    for k in 1..4 {
        pids.push(spawn(&node, &module, &format!("p{k}")));
    }
    for pid in &pids[1..] {
        assert_eq!(count_of(&node, pid), "1");
    }
    assert_eq!(
        count_of(&node, &pids[0]),
        "2",
        "p0 restored from its checkpoint"
    );
    // Other executors drop theirs at their next job boundary: soon, not at once.
    let mut now = resident(&node);
    for _ in 0..100 {
        if now["resident-bytes"].as_u64().unwrap() <= budget {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        now = resident(&node);
    }
    assert_eq!(now["budget-bytes"], budget, "{now}");
    assert!(now["resident-bytes"].as_u64().unwrap() <= budget, "{now}");
    assert!(now["resident-processes"].as_u64().unwrap() <= 2, "{now}");
    assert!(now["evictions"].as_u64().unwrap() >= 2, "{now}");
    // Every process goes on where it was, evicted or not: its state came back whole.
    for (k, pid) in pids.iter().enumerate() {
        let expected = if k == 0 { "3" } else { "2" };
        assert_eq!(count_of(&node, pid), expected, "process p{k}");
    }
    let after = resident(&node);
    assert!(after["restores"].as_u64().unwrap() >= 2, "{after}");
    node.stop();

    // A budget smaller than one process: it is refused with the reason, and nothing runs.
    let set = format!("process-memory-budget-bytes={}", bytes / 2);
    let node = Node::start(dir.path(), &["--set", &set]);
    let mid = send(node.addr(), &pids[1], COUNT).unwrap();
    let (status, body) = result(&node, &pids[1], &mid);
    assert_eq!(status, 507, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["kind"], "memory-budget", "{body}");
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .contains("process-memory-budget-bytes"),
        "{body}"
    );
    let refused = resident(&node);
    assert_eq!(refused["resident-processes"], 0, "{refused}");
    assert!(
        refused["refused-over-budget"].as_u64().unwrap() >= 1,
        "{refused}"
    );
    node.stop();
}

/// The value of the series `name{labels}` in a Prometheus text page.
fn series(page: &str, name_and_labels: &str) -> Option<f64> {
    page.lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .map(|value| value.trim().parse().unwrap())
}

#[test]
fn metrics_count_what_the_node_did_in_prometheus_text() {
    let Some(aos) = prereq::testdata("wasm/aos-2-pure.wasm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), &["--set", "price={per-message=5}"]);
    let module = add_aos(&node, &aos);
    let pid = spawn(&node, &module, "metered");
    for k in 1..=3 {
        assert_eq!(count_of(&node, &pid), k.to_string());
    }
    let (status, _) = node.get_raw("/result/not-an-id?process-id=x");
    assert_eq!(status, 400, "an ID that does not parse");
    let (status, meta) = node.get("/~meta@1.0/info/metering");
    assert_eq!(status, 200);
    let (status, ledger) = node.get("/~meta@1.0/metering");
    assert_eq!(status, 200);
    let (status, page) = node.get_raw("/metrics");
    assert_eq!(status, 200, "{page}");
    let charged: f64 = ledger["ledger"]["charged"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        charged >= 5.0 * 4.0,
        "a spawn and 3 messages at 5 at least: {ledger}"
    );
    let by_messages = r#"aocu_charged_total{kind="message",currency="winston"}"#;
    assert_eq!(series(&page, by_messages), Some(charged), "{page}");
    assert_eq!(series(&page, "aocu_dry_runs_total"), Some(0.0), "{page}");

    let evaluated = meta["node"]["messages"].as_u64().unwrap();
    assert!(evaluated >= 3, "{meta}");
    assert_eq!(
        series(&page, "aocu_messages_evaluated_total"),
        Some(evaluated as f64),
        "the same counter as ~meta@1.0"
    );
    assert_eq!(
        series(&page, "aocu_evaluation_duration_seconds_count"),
        Some(evaluated as f64)
    );
    assert_eq!(
        series(&page, "aocu_fuel_total"),
        Some(meta["node"]["fuel"].as_u64().unwrap() as f64)
    );
    let results = r#"aocu_http_requests_total{route="/result/{id}",method="GET",status="200"}"#;
    assert_eq!(series(&page, results), Some(3.0), "{page}");
    let refused = r#"aocu_http_requests_total{route="/result/{id}",method="GET",status="400"}"#;
    assert_eq!(series(&page, refused), Some(1.0), "{page}");
    assert_eq!(series(&page, "aocu_processes_resident"), Some(1.0));
    assert!(series(&page, r#"aocu_hashed_bytes_total{engine="cpu"}"#).unwrap() > 0.0);
    let checked = r#"aocu_signatures_checked_total{engine="cpu",scheme="rsa-pss"}"#;
    assert!(series(&page, checked).unwrap() > 0.0, "{page}");
    let failed = r#"aocu_signatures_failed_total{engine="gpu",scheme="ed25519"}"#;
    assert_eq!(series(&page, failed), Some(0.0), "{page}");
    assert!(page.contains("aocu_build_info{version=\""), "{page}");
    assert!(
        page.contains("aocu_executor_busy_ratio{executor=\"0\""),
        "{page}"
    );

    // Prometheus' own checker accepts the page.
    if let Some(promtool) = prereq::tool("promtool", "apt-get install prometheus") {
        let mut check = std::process::Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        check
            .stdin
            .take()
            .unwrap()
            .write_all(page.as_bytes())
            .unwrap();
        let out = check.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    node.stop();
}
