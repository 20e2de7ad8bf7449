//! Who may use the node, over real HTTP against the real server: `allow-processes`,
//! `deny-processes` and `allow-owners` refuse with 403 and a JSON reason on every CU route
//! (legacy CU and HyperBEAM mode) and cost nothing (nothing is evaluated or metered); empty
//! lists allow all; `rate-limit-per-minute` answers 429 with `Retry-After` and recovers; bad
//! list entries stop the node at start with the key named.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.
#![allow(unsafe_code)] // kill(2) to stop the node cleanly (the call says why it is sound).

mod common;
mod prereq;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use aocu::ao::signature::ao_address;
use aocu::ao::{DataItem, Id, SignatureType, Signer, Tag};
use common::Server;
use serde_json::{Value, json};

use common::shared_wallet as wallet;

fn start(state_dir: &Path, extra: &[&str]) -> Server {
    let wallet = common::shared_wallet_path();
    let mut args = vec!["--set", "executors=1"];
    args.extend_from_slice(extra);
    Server::start_with_wallet(state_dir, &wallet, &args)
}

/// Stop with SIGTERM and wait (a clean shutdown).
fn stop(mut server: Server) {
    let pid = server.child.id() as i32;
    // SAFETY: kill(2) with a pid we spawned and still own (not yet waited for).
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let _ = server.child.wait();
}

/// `METHOD path` with a body; (status, headers in lower case, body).
fn call(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String, String) {
    let kind = "application/octet-stream";
    let raw = common::exchange(addr, method, path, kind, body, Duration::from_secs(120))
        .unwrap_or_else(|| panic!("{method} {path}: no answer"));
    let headers = raw
        .split_once("\r\n\r\n")
        .map(|(h, _)| h.to_ascii_lowercase())
        .unwrap_or_default();
    let (status, body) = common::parse_response(&raw);
    (status, headers, body)
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn tag(name: &str, value: &str) -> Tag {
    Tag {
        name: name.into(),
        value: value.into(),
    }
}

fn spawn_item(signer: &Signer, module: &str, name: &str) -> DataItem {
    let tags = vec![
        tag("Data-Protocol", "ao"),
        tag("Variant", "ao.TN.1"),
        tag("Type", "Process"),
        tag("Module", module),
        tag("Scheduler", wallet().address()),
        tag("Name", name),
    ];
    DataItem::signed_by(signer, None, None, tags, b"1984".to_vec()).unwrap()
}

fn eval_item(signer: &Signer, pid: &str, code: &str) -> DataItem {
    let tags = vec![
        tag("Data-Protocol", "ao"),
        tag("Variant", "ao.TN.1"),
        tag("Type", "Message"),
        tag("Action", "Eval"),
    ];
    let target = pid.parse::<Id>().ok().map(Id::into_bytes);
    DataItem::signed_by(signer, target, None, tags, code.as_bytes().to_vec()).unwrap()
}

fn ingest(addr: SocketAddr, item: &DataItem) {
    let (status, _, body) = call(addr, "POST", "/", &item.to_bytes());
    assert_eq!(status, 202, "{body}");
}

/// The node's metering totals (`~meta@1.0/info/metering`).
fn metering(addr: SocketAddr) -> Value {
    let (status, _, body) = call(addr, "GET", "/~meta@1.0/info/metering", b"");
    assert_eq!(status, 200, "{body}");
    json_of(&body)
}

/// The node's ledger (`~meta@1.0/metering`): what it charged.
fn ledger(addr: SocketAddr) -> Value {
    let (status, _, body) = call(addr, "GET", "/~meta@1.0/metering", b"");
    assert_eq!(status, 200, "{body}");
    json_of(&body)["ledger"].clone()
}

/// Every CU route that evaluates or reads `pid` (message `mid` is scheduled on it).
fn cu_routes(pid: &str, mid: &str) -> Vec<(&'static str, String, Vec<u8>)> {
    let dry = serde_json::to_vec(&json!({
        "Target": pid, "Owner": "x", "Tags": [{"name": "Action", "value": "Eval"}], "Data": "1+1"
    }))
    .unwrap();
    vec![
        ("GET", format!("/result/{mid}?process-id={pid}"), vec![]),
        ("GET", format!("/results/{pid}"), vec![]),
        ("POST", format!("/dry-run?process-id={pid}"), dry),
        ("GET", format!("/state/{pid}"), vec![]),
        ("GET", format!("/cron/{pid}"), vec![]),
        ("GET", format!("/{pid}~process@1.0/now"), vec![]),
        ("GET", format!("/{pid}~process@1.0/compute?slot=1"), vec![]),
    ]
}

/// Each route answers 403 with `{"error", "kind"}`; the error names `needle`.
fn assert_refused(addr: SocketAddr, pid: &str, mid: &str, kind: &str, needle: &str) {
    for (method, path, body) in cu_routes(pid, mid) {
        let (status, headers, text) = call(addr, method, &path, &body);
        assert_eq!(status, 403, "{method} {path}: {text}");
        assert!(
            headers.contains("content-type: application/json"),
            "{headers}"
        );
        let json = json_of(&text);
        assert_eq!(json["kind"], kind, "{method} {path}: {json}");
        let error = json["error"].as_str().unwrap();
        assert!(error.contains(needle), "{method} {path}: {error}");
        assert!(error.starts_with("Access denied"), "{error}");
    }
}

#[test]
fn refused_processes_and_owners_get_403_and_cost_nothing() {
    let Some(aos) = prereq::testdata("wasm/aos-2-pure.wasm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node_owner = Signer::Arweave(wallet().clone());
    let other = Signer::generate(SignatureType::Ed25519).unwrap().unwrap();
    let other_address = ao_address(&other.owner());
    // First run, open: the module, four processes and one message each are scheduled.
    let node = start(dir.path(), &[]);
    let wasm = std::fs::read(aos).unwrap();
    let (status, _, body) = call(
        node.addr,
        "POST",
        "/~module@1.0?Memory-Limit=1-gb&Compute-Limit=9000000000000",
        &wasm,
    );
    assert_eq!(status, 200, "{body}");
    let module = json_of(&body)["id"].as_str().unwrap().to_string();
    let mut procs = Vec::new();
    for (signer, name) in [
        (&node_owner, "allowed"),
        (&node_owner, "denied"),
        (&node_owner, "unlisted"),
        (&other, "foreign"),
    ] {
        let spawn = spawn_item(signer, &module, name);
        ingest(node.addr, &spawn);
        let message = eval_item(signer, &spawn.id(), "return 1 + 41");
        ingest(node.addr, &message);
        procs.push((spawn.id(), message.id()));
    }
    stop(node);
    let [
        (ok, ok_msg),
        (denied, denied_msg),
        (unlisted, unlisted_msg),
        (foreign, foreign_msg),
    ] = procs.try_into().unwrap();

    // Second run: `denied` is on both process lists (deny wins), `unlisted` on neither,
    // `foreign` on the allow-list but owned by an address outside `allow-owners`.
    let allow = format!("allow-processes=[\"{ok}\", \"{denied}\", \"{foreign}\"]");
    let deny = format!("deny-processes=[\"{denied}\"]");
    let owners = format!("allow-owners=[\"{}\"]", wallet().address());
    let node = start(
        dir.path(),
        &["--set", &allow, "--set", &deny, "--set", &owners],
    );
    let before = metering(node.addr);
    assert_eq!(before["node"]["messages"], 0, "{before}");
    let charged_before = ledger(node.addr);
    assert_refused(node.addr, &denied, &denied_msg, "process-denied", &denied);
    assert_refused(
        node.addr,
        &unlisted,
        &unlisted_msg,
        "process-not-allowed",
        &unlisted,
    );
    assert_refused(
        node.addr,
        &foreign,
        &foreign_msg,
        "owner-not-allowed",
        &other_address,
    );
    // A process this node has never seen, outside the allow-list: refused before any lookup.
    let stranger = aocu::ao::b64url(&[7u8; 32]);
    assert_refused(
        node.addr,
        &stranger,
        &ok_msg,
        "process-not-allowed",
        &stranger,
    );
    // Nothing was evaluated or metered for any of them.
    assert_eq!(metering(node.addr), before, "refusals cost nothing");
    assert_eq!(
        ledger(node.addr),
        charged_before,
        "refusals are charged nothing"
    );

    // The allowed process evaluates, and only it is metered.
    let (status, _, body) = call(
        node.addr,
        "GET",
        &format!("/result/{ok_msg}?process-id={ok}"),
        b"",
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("42"), "{body}");
    let after = metering(node.addr);
    assert_eq!(after["processes"], 1, "{after}");
    assert!(after["node"]["messages"].as_u64().unwrap() >= 2, "{after}");
    let charged_after = ledger(node.addr);
    assert!(
        charged_after["messages"].as_u64().unwrap() >= 2,
        "{charged_after}"
    );
    // Refusals after an evaluation still cost nothing.
    assert_refused(node.addr, &denied, &denied_msg, "process-denied", &denied);
    assert_refused(
        node.addr,
        &foreign,
        &foreign_msg,
        "owner-not-allowed",
        &other_address,
    );
    assert_eq!(metering(node.addr), after);
    assert_eq!(ledger(node.addr), charged_after);
    // Scheduling is the SU's business, not the CU's: the MU still takes messages.
    ingest(node.addr, &eval_item(&node_owner, &denied, "return 1"));
    stop(node);

    // Third run: empty lists (and a deny-list naming another process) allow all, the
    // foreign owner's process included.
    let deny_other = format!("deny-processes=[\"{stranger}\"]");
    let node = start(
        dir.path(),
        &[
            "--set",
            "allow-processes=[]",
            "--set",
            "allow-owners=[]",
            "--set",
            &deny_other,
        ],
    );
    for (pid, mid) in [(&foreign, &foreign_msg), (&unlisted, &unlisted_msg)] {
        let (status, _, body) = call(
            node.addr,
            "GET",
            &format!("/result/{mid}?process-id={pid}"),
            b"",
        );
        assert_eq!(status, 200, "{pid}: {body}");
    }
    let (status, _, body) = call(node.addr, "GET", &format!("/state/{stranger}"), b"");
    assert_eq!(status, 403, "{body}");
    stop(node);
}

#[test]
fn hyperbeam_routes_refuse_before_reading_the_body() {
    let denied = aocu::ao::b64url(&[5u8; 32]);
    let unlisted = aocu::ao::b64url(&[6u8; 32]);
    let allow = format!("allow-processes=[\"{denied}\"]");
    let deny = format!("deny-processes=[\"{denied}\"]");
    // No HyperBEAM listens there: a refusal must not need it.
    let server = Server::start(&[
        "--set",
        "hyperbeam-url=http://127.0.0.1:9",
        "--set",
        &allow,
        "--set",
        &deny,
    ]);
    for (pid, kind) in [
        (&denied, "process-denied"),
        (&unlisted, "process-not-allowed"),
    ] {
        for path in [
            format!("/result/0?process-id={pid}"),
            format!("/dry-run?process-id={pid}"),
            format!("/snapshot/{pid}"),
        ] {
            let (status, _, body) = call(server.addr, "POST", &path, b"not a page");
            assert_eq!(status, 403, "{path}: {body}");
            assert_eq!(json_of(&body)["kind"], kind, "{path}: {body}");
        }
    }
    // The liveness probe is not a process route.
    let (status, _, _) = call(server.addr, "GET", "/status", b"");
    assert_eq!(status, 200);
}

#[test]
fn rate_limit_answers_429_with_retry_after_and_recovers() {
    // 120 a minute: a burst of 120, then one every 0.5 s.
    let server = Server::start(&["--set", "rate-limit-per-minute=120"]);
    let started = Instant::now();
    let mut accepted = 0u64;
    let (headers, body) = loop {
        let (status, headers, body) = call(server.addr, "GET", "/~meta@1.0/build", b"");
        match status {
            200 => accepted += 1,
            429 => break (headers, body),
            other => panic!("status {other}: {body}"),
        }
        assert!(accepted <= 400, "no 429 after {accepted} requests");
    };
    // The burst, plus what refilled while it was sent.
    let refilled = (started.elapsed().as_secs_f64() * 2.0).ceil() as u64;
    assert!(
        (120..=120 + refilled).contains(&accepted),
        "{accepted} accepted in {:?}",
        started.elapsed()
    );
    let json = json_of(&body);
    assert_eq!(json["kind"], "rate-limited", "{json}");
    assert!(
        json["error"].as_str().unwrap().contains("Rate limit"),
        "{json}"
    );
    let retry_after: u64 = headers
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .unwrap_or_else(|| panic!("no Retry-After in {headers}"))
        .trim()
        .parse()
        .unwrap();
    assert_eq!(retry_after, 1, "one request every 0.5 s, rounded up");
    // Probes are never limited.
    let (status, _, _) = call(server.addr, "GET", "/healthcheck", b"");
    assert_eq!(status, 200);
    // After Retry-After one request passes again, and the next one is limited.
    std::thread::sleep(Duration::from_secs(retry_after));
    let (status, _, body) = call(server.addr, "GET", "/~meta@1.0/build", b"");
    assert_eq!(status, 200, "{body}");
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(call(server.addr, "GET", "/~meta@1.0/build", b"").0);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[test]
fn without_the_key_nothing_is_limited() {
    let server = Server::start(&[]);
    for i in 0..250 {
        let (status, _, body) = call(server.addr, "GET", "/~meta@1.0/build", b"");
        assert_eq!(status, 200, "request {i}: {body}");
    }
}

#[test]
fn bad_list_entries_are_refused_at_start_naming_the_key() {
    let good = aocu::ao::b64url(&[1u8; 32]);
    for (key, value) in [
        ("allow-processes", format!("[\"{good}\", \"short\"]")),
        ("deny-processes", format!("[\"{}!\"]", &good[..42])),
        ("allow-owners", "[\"0x1234\"]".to_string()),
    ] {
        let set = format!("{key}={value}");
        let out = common::aocu()
            .args(["config", "check", "--set", &set])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{set}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("key `{key}`")), "{set}: {err}");
        let dir = tempfile::tempdir().unwrap();
        let out = common::aocu()
            .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(dir.path())
            .args(["--set", &set])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{set}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key), "{set}: {err}");
    }
    // A file, with the list over several lines: the key is still named.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        format!("allow-owners = [\n  \"{good}\",\n  \"nobody\",\n]\n"),
    )
    .unwrap();
    let out = common::aocu()
        .args(["config", "check"])
        .arg(file.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("key `allow-owners`") && err.contains("nobody"),
        "{err}"
    );
    // Good lists and an Ethereum owner pass.
    let out = common::aocu()
        .args(["config", "check", "--json", "--set"])
        .arg(format!(
            "allow-owners=[\"{good}\", \"0x52908400098527886E0F7030069857D2E4169EE7\"]"
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["config"]["allow-owners"][0], good.as_str());
}
