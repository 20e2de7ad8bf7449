//! The MU ingest and SU read API over real HTTP: a module, a spawn and messages get slots
//! 0..n with the SU's signed assignments and hash chain; pages, single messages, processes and
//! timestamps have the SU's JSON shapes; bad items get their 4xx and change nothing; a restart
//! (after `kill -9`) keeps everything and the chain goes on.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use aocu::ao::Tag;
use aocu::ao::{DataItem, Id, Wallet, b64url, sha256};
use common::Server;
use serde_json::Value;

use common::shared_wallet as wallet;

/// Start `aocu serve` on `state_dir` with the shared wallet.
fn start(state_dir: &Path, extra: &[&str]) -> Server {
    let wallet_path = common::shared_wallet_path();
    Server::start_with_wallet(state_dir, &wallet_path, extra)
}

/// POST raw bytes; tolerate the server closing early (413) while we still write.
fn post(addr: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    common::post_json(addr, path, content_type, body, Duration::from_secs(30))
        .unwrap_or_else(|| panic!("POST {path}: no answer"))
}

fn tag(name: &str, value: &str) -> Tag {
    Tag {
        name: name.into(),
        value: value.into(),
    }
}

fn add_module(server: &Server) -> String {
    let wasm = wat::parse_str("(module (memory i64 1))").unwrap();
    let (status, body) = post(
        server.addr,
        "/~module@1.0?Memory-Limit=2-gb&Name=test%20module",
        "application/wasm",
        &wasm,
    );
    assert_eq!(status, 200, "{body}");
    let tags = body["tags"].as_array().unwrap();
    let get = |n: &str| {
        tags.iter()
            .find(|t| t["name"] == n)
            .map(|t| t["value"].clone())
    };
    assert_eq!(get("Type"), Some("Module".into()));
    assert_eq!(get("Memory-Limit"), Some("2-gb".into()));
    assert_eq!(get("Name"), Some("test module".into()));
    assert_eq!(
        get("Module-Format"),
        Some("wasm64-unknown-emscripten-draft_2024_02_15".into())
    );
    assert_eq!(body["owner"], wallet().address());
    body["id"].as_str().unwrap().to_string()
}

fn spawn_item(module: &str) -> DataItem {
    let tags = vec![
        tag("Data-Protocol", "ao"),
        tag("Variant", "ao.TN.1"),
        tag("Type", "Process"),
        tag("Module", module),
        tag("Scheduler", wallet().address()),
        tag("SDK", "aoconnect"),
    ];
    DataItem::signed(wallet(), None, None, tags, b"1984".to_vec()).unwrap()
}

fn message_item(pid: &str, n: usize) -> DataItem {
    let tags = vec![
        tag("Data-Protocol", "ao"),
        tag("Variant", "ao.TN.1"),
        tag("Type", "Message"),
        tag("Action", "Eval"),
    ];
    let anchor = *format!("{n:0>32}").as_bytes().first_chunk::<32>().unwrap();
    let data = format!("return {n}").into_bytes();
    DataItem::signed(
        wallet(),
        pid.parse::<Id>().ok().map(Id::into_bytes),
        Some(anchor),
        tags,
        data,
    )
    .unwrap()
}

fn tag_value<'a>(tags: &'a Value, name: &str) -> &'a str {
    tags.as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["value"].as_str())
        .unwrap_or_else(|| panic!("no tag {name} in {tags}"))
}

/// Check slots 0..n, nonces, the hash chain over assignment IDs, and increasing timestamps.
fn check_chain(pid: &str, edges: &[Value]) {
    let mut prev: Option<(String, String, u64)> = None;
    for (n, edge) in edges.iter().enumerate() {
        let a = &edge["node"]["assignment"];
        let tags = &a["tags"];
        assert_eq!(tag_value(tags, "Nonce"), n.to_string());
        assert_eq!(tag_value(tags, "Process"), pid);
        assert_eq!(tag_value(tags, "Type"), "Assignment");
        assert_eq!(a["owner"]["address"], wallet().address());
        let link = tag_value(tags, "Hash-Chain").to_string();
        let expected = match &prev {
            None => b64url(&sha256(&pid.parse::<Id>().unwrap().into_bytes())),
            Some((id, hc, _)) => {
                let mut input = id.parse::<Id>().unwrap().into_bytes().to_vec();
                input.extend_from_slice(&hc.parse::<Id>().unwrap().into_bytes());
                b64url(&sha256(&input))
            }
        };
        assert_eq!(link, expected, "slot {n}");
        let ts: u64 = tag_value(tags, "Timestamp").parse().unwrap();
        assert_eq!(edge["cursor"], ts.to_string());
        if let Some((_, _, prev_ts)) = prev {
            assert!(ts > prev_ts);
        }
        prev = Some((a["id"].as_str().unwrap().to_string(), link, ts));
    }
}

#[test]
fn spawn_messages_pages_refusals_restart() {
    let state = tempfile::tempdir().unwrap();
    let mut server = start(state.path(), &["--set", "max-body-bytes=1048576"]);
    let module = add_module(&server);

    let (status, ts) = server.get_json("/timestamp");
    assert_eq!(status, 200);
    assert!(ts["timestamp"].as_str().unwrap().parse::<u64>().unwrap() > 1_700_000_000_000);
    assert_eq!(ts["block_height"].as_str().unwrap().len(), 12);

    let spawn = spawn_item(&module);
    let pid = spawn.id();
    let (status, body) = post(
        server.addr,
        "/",
        "application/octet-stream",
        &spawn.to_bytes(),
    );
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["id"], pid);
    assert_eq!(body["message"], "Processing DataItem");
    let mut messages = Vec::new();
    for n in 1..=5 {
        let item = message_item(&pid, n);
        let (status, body) = post(
            server.addr,
            "/",
            "application/octet-stream",
            &item.to_bytes(),
        );
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["id"], item.id());
        messages.push(item);
    }

    let (status, page) = server.get_json(&format!("/{pid}?process-id={pid}"));
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["page_info"]["has_next_page"], false);
    let edges = page["edges"].as_array().unwrap().clone();
    assert_eq!(edges.len(), 6);
    check_chain(&pid, &edges);
    check_hashing_metered(&server, 6);
    check_verification_metered(&server, 6);
    let first = &edges[0]["node"];
    assert_eq!(first["message"]["id"], pid);
    assert_eq!(first["message"]["data"], "1984");
    assert_eq!(first["message"]["owner"]["address"], wallet().address());
    assert_eq!(first["message"]["owner"]["key"], b64url(wallet().owner()));
    assert_eq!(first["message"]["target"], Value::Null);
    assert!(
        first["assignment"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["name"] != "Message")
    );
    for (n, item) in messages.iter().enumerate() {
        let node = &edges[n + 1]["node"];
        assert_eq!(node["message"]["id"], item.id());
        assert_eq!(node["message"]["target"], pid);
        assert_eq!(node["message"]["data"], format!("return {}", n + 1));
        assert_eq!(node["message"]["anchor"], format!("{:0>32}", n + 1));
        assert_eq!(node["message"]["signature"], b64url(&item.signature));
        assert_eq!(tag_value(&node["assignment"]["tags"], "Message"), item.id());
        assert_eq!(node["assignment"]["target"], "");
    }

    // Pages of two, following cursors, see every slot once; nonce bounds work too.
    let mut seen = Vec::new();
    let mut from = String::new();
    loop {
        let (status, page) = server.get_json(&format!("/{pid}?limit=2{from}"));
        assert_eq!(status, 200);
        let edges = page["edges"].as_array().unwrap();
        seen.extend(edges.iter().map(|e| e["node"]["message"]["id"].clone()));
        if page["page_info"]["has_next_page"] != true {
            break;
        }
        from = format!(
            "&from={}",
            edges.last().unwrap()["cursor"].as_str().unwrap()
        );
    }
    assert_eq!(seen.len(), 6);
    assert_eq!(seen[5], messages[4].id());
    let (_, page) = server.get_json(&format!("/{pid}?from-nonce=2&to-nonce=4"));
    let cursors: Vec<&str> = page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["cursor"].as_str().unwrap())
        .collect();
    assert_eq!(cursors, ["3", "4"]);

    // One message with its assignment, the latest, and the process.
    let (status, one) = server.get_json(&format!("/{}?process-id={pid}", messages[1].id()));
    assert_eq!(status, 200, "{one}");
    assert_eq!(one, edges[2]["node"]);
    let (_, latest) = server.get_json(&format!("/{pid}/latest"));
    assert_eq!(latest, edges[5]["node"]);
    let (status, process) = server.get_json(&format!("/processes/{pid}"));
    assert_eq!(status, 200);
    assert_eq!(process["process_id"], pid);
    assert_eq!(process["owner"]["address"], wallet().address());
    assert_eq!(tag_value(&process["tags"], "Module"), module);
    assert_eq!(process["block"].as_str().unwrap().len(), 12);
    assert!(process["timestamp"].is_u64());
    assert_eq!(process["data"], "1984");

    // Refusals: each a 4xx with a reason, and the schedule does not move.
    let good = message_item(&pid, 6).to_bytes();
    let mut bad_sig = good.clone();
    bad_sig[10] ^= 1;
    // Signature type 5 (injected Aptos): parsed, then refused by name.
    let mut aptos = 5u16.to_le_bytes().to_vec();
    aptos.extend([0u8; 64 + 32 + 2 + 16]);
    aptos.extend(b"data");
    let unknown = message_item(&b64url(&[7; 32]), 1).to_bytes();
    let big = vec![0u8; 20 * 1024 * 1024];
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("bad signature", bad_sig, 400, "signature"),
        ("truncated", good[..700].to_vec(), 400, "owner"),
        ("20 MiB", big, 413, "limit"),
        ("unknown target", unknown, 404, "not known"),
        ("json", br#"{"Target": 5}"#.to_vec(), 400, "length"),
        (
            "type 5",
            aptos,
            400,
            "type 5 (injectedAptos) is not supported",
        ),
        (
            "duplicate",
            messages[0].to_bytes(),
            409,
            "already scheduled",
        ),
        ("spawn again", spawn.to_bytes(), 409, "already exists"),
    ];
    for (what, body, want, reason) in cases {
        let (status, answer) = post(server.addr, "/", "application/octet-stream", &body);
        assert_eq!(status, want, "{what}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains(reason), "{what}: {answer}");
        let (_, again) = server.get_json(&format!("/{pid}"));
        assert_eq!(
            again["edges"],
            page_all(&edges),
            "{what} changed the schedule"
        );
    }
    let (status, _) = server.get_json(&format!("/{}", b64url(&[8; 32])));
    assert_eq!(status, 404);
    let (status, answer) = server.get_json(&format!("/{pid}?limit=many"));
    assert_eq!(status, 400);
    assert!(answer["error"].as_str().unwrap().contains("limit"));

    // kill -9, restart on the same state: everything is there and the chain continues.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let server = start(state.path(), &[]);
    let (_, after) = server.get_json(&format!("/{pid}"));
    assert_eq!(after["edges"], page_all(&edges));
    let next = message_item(&pid, 6);
    let (status, _) = post(
        server.addr,
        "/",
        "application/octet-stream",
        &next.to_bytes(),
    );
    assert_eq!(status, 202);
    let (_, after) = server.get_json(&format!("/{pid}"));
    let edges = after["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 7);
    check_chain(&pid, edges);
}

/// The node's own hashing shows in `~meta@1.0/info/metering/hashing`: on this node (no GPU
/// crossover measured) all of it on the CPU, with at least one SHA-256 per scheduled item for
/// its ID and one per hash-chain link.
fn check_hashing_metered(server: &Server, scheduled: u64) {
    let (status, hashing) = server.get_json("/~meta@1.0/info/metering/hashing");
    assert_eq!(status, 200, "{hashing}");
    assert_eq!(hashing["engine"], "auto");
    assert_eq!(hashing["uses-gpu"], false, "{hashing}");
    let stats = &hashing["stats"];
    assert_eq!(stats["gpu-bytes"], 0, "{hashing}");
    let batches = stats["cpu-batches"].as_u64().unwrap();
    let bytes = stats["cpu-bytes"].as_u64().unwrap();
    // Per slot: the message ID (512-byte signature), the assignment ID and the chain link.
    assert!(batches >= 2 * scheduled, "{hashing}");
    assert!(bytes >= scheduled * (512 + 512 + 32), "{hashing}");
}

/// Every signature the node checked on ingest shows in `~meta@1.0/info/metering/verification`:
/// on the CPU engine, RSA-PSS (these items are signed with an Arweave wallet), none failed.
fn check_verification_metered(server: &Server, posted: u64) {
    let (status, v) = server.get_json("/~meta@1.0/info/metering/verification");
    assert_eq!(status, 200, "{v}");
    let rsa = &v["cpu"]["schemes"][0];
    assert_eq!(rsa["scheme"], "rsa-pss", "{v}");
    assert!(rsa["checked"].as_u64().unwrap() >= posted, "{v}");
    assert_eq!(v["gpu"]["schemes"][0]["checked"], 0, "{v}");
    assert!(v["rsa-backend"].is_string(), "{v}");
}

fn page_all(edges: &[Value]) -> Value {
    Value::Array(edges.to_vec())
}

#[test]
fn modules_signed_by_their_publisher_are_kept_as_they_are() {
    let state = tempfile::tempdir().unwrap();
    let server = start(state.path(), &[]);
    let wasm = wat::parse_str("(module)").unwrap();
    let tags = aocu::ao::module_item::module_tags(&wasm, &[]);
    let item = DataItem::signed(wallet(), None, None, tags, wasm.clone()).unwrap();
    let (status, body) = post(
        server.addr,
        "/~module@1.0",
        "application/octet-stream",
        &item.to_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], item.id());
    assert_eq!(body["size"], wasm.len());

    let not_module =
        DataItem::signed(wallet(), None, None, vec![tag("Type", "Module")], wasm).unwrap();
    let (status, body) = post(
        server.addr,
        "/~module@1.0",
        "application/octet-stream",
        &not_module.to_bytes(),
    );
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("Data-Protocol"),
        "{body}"
    );
    let (status, _) = post(
        server.addr,
        "/~module@1.0",
        "application/wasm",
        b"\0asm garbage",
    );
    assert_eq!(status, 400);
    // A spawn naming a module the node does not hold is refused.
    let spawn = spawn_item(&b64url(&[3; 32]));
    let (status, body) = post(
        server.addr,
        "/",
        "application/octet-stream",
        &spawn.to_bytes(),
    );
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("Module"), "{body}");
}

#[test]
fn module_add_cli_prints_the_id() {
    let state = tempfile::tempdir().unwrap();
    let wasm_path = state.path().join("m.wasm");
    std::fs::write(&wasm_path, wat::parse_str("(module (memory 1))").unwrap()).unwrap();
    let out = common::aocu()
        .args(["module", "add"])
        .arg(&wasm_path)
        .args(["--tag", "Compute-Limit=5", "--state-dir"])
        .arg(state.path().join("s"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(id.len(), 43);
    // The node generated its wallet (0600) and the module is in its store.
    let wallet_path = state.path().join("s/wallet.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&wallet_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let store = aocu::store::Store::open(&state.path().join("s")).unwrap();
    let record = store.module(&id).unwrap().unwrap();
    assert!(
        record
            .tags
            .iter()
            .any(|t| t.name == "Compute-Limit" && t.value == "5")
    );
    assert!(
        record
            .tags
            .iter()
            .any(|t| t.value == "wasm32-unknown-emscripten4")
    );
    let owner = Wallet::load(&wallet_path).unwrap().address().to_string();
    assert_eq!(record.owner.as_deref(), Some(owner.as_str()));

    let bad = common::aocu()
        .args(["module", "add", "/no/such/file.wasm", "--state-dir"])
        .arg(state.path().join("s"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
