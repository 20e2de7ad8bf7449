//! The operator's signed changes of the node message (`POST /~meta@1.0/info`), signed by AO's
//! own HTTP-signature client (`@permaweb/ao-core-libs`, `tests/node/signed-request.mjs`): only the
//! operator's valid, fresh signature changes anything; every refusal leaves the node message
//! and its history as they were; `initialized = permanent` locks it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod common;
mod prereq;

use std::path::Path;
use std::time::{Duration, Instant};

use common::Server;
use serde_json::Value;

/// Sign `POST /~meta@1.0/info` with `jwk` and send it to `server`, as `mode` says.
fn meta_post(
    node_dir: &Path,
    server: &Server,
    jwk: &Path,
    mode: &str,
    fields: &[&str],
) -> Vec<(u16, Value)> {
    let request = common::SignedRequest {
        node_dir,
        addr: server.addr,
        jwk,
        mode,
    };
    request.send("POST", "/~meta@1.0/info", fields)
}

/// The node message's price per message and the length of its history.
fn price_and_history(server: &Server) -> (u64, usize) {
    let (status, info) = server.get_json("/~meta@1.0/info");
    assert_eq!(status, 200, "{info}");
    (
        info["price"]["per-message"].as_u64().unwrap(),
        info["node-history"].as_array().unwrap().len(),
    )
}

#[test]
fn only_the_operators_fresh_signature_changes_the_node_message() {
    let Some(node_dir) = prereq::node_project() else {
        return;
    };
    let state_dir = tempfile::tempdir().unwrap();
    let operator_jwk = common::shared_wallet_path();
    let server = Server::start_with_wallet(state_dir.path(), &operator_jwk, &[]);
    let operator = common::shared_wallet().address();
    assert_eq!(server.get_json("/").0, 200, "the wallet loads");
    let (_, info) = server.get_json("/~meta@1.0/info");
    assert_eq!(
        info["operator"], operator,
        "the node wallet is the operator"
    );
    assert_eq!(info["initialized"], true);
    let before = price_and_history(&server);
    assert_eq!(before.1, 0);

    // Unsigned: the same field as a plain header.
    let raw = server.raw(
        format!(
            "POST /~meta@1.0/info HTTP/1.1\r\nHost: {}\r\nprice.per-message: 99\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n",
            server.addr
        )
        .as_bytes(),
    );
    let (status, body) = common::parse_response(&raw);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"unsigned\""), "{body}");
    assert_eq!(price_and_history(&server), before);

    // A body over the change's limit (64 KiB) is refused before any signature is read.
    let (status, body) = server.request("POST", "/~meta@1.0/info", &vec![b'x'; 64 * 1024 + 1]);
    assert_eq!(status, 413, "{body}");
    assert_eq!(price_and_history(&server), before);

    // Validly signed by another key.
    let other_dir = tempfile::tempdir().unwrap();
    let other_jwk = other_dir.path().join("other.json");
    aocu::ao::Wallet::generate()
        .unwrap()
        .save(&other_jwk)
        .unwrap();
    let answers = meta_post(
        &node_dir,
        &server,
        &other_jwk,
        "send",
        &["price.per-message=99"],
    );
    assert_eq!(answers[0].0, 403, "{:?}", answers[0].1);
    assert_eq!(answers[0].1["kind"], "not-operator");
    assert_eq!(price_and_history(&server), before);

    // The operator's signature over a field changed after signing.
    let answers = meta_post(
        &node_dir,
        &server,
        &operator_jwk,
        "tamper",
        &["price.per-message=9"],
    );
    assert_eq!(answers[0].0, 401, "{:?}", answers[0].1);
    assert_eq!(answers[0].1["kind"], "bad-signature");
    assert_eq!(price_and_history(&server), before);

    // A key outside the node message, and a bad value: 400, nothing changes.
    for field in ["max-body-bytes=5", "price.per-message=eleven"] {
        let answers = meta_post(&node_dir, &server, &operator_jwk, "send", &[field]);
        assert_eq!(answers[0].0, 400, "{field}: {:?}", answers[0].1);
        assert_eq!(price_and_history(&server), before);
    }

    // The operator's change applies, and shows in info and in the history.
    let answers = meta_post(
        &node_dir,
        &server,
        &operator_jwk,
        "send",
        &["price.per-message=11", "node-name=renamed"],
    );
    assert_eq!(answers[0].0, 200, "{:?}", answers[0].1);
    assert_eq!(answers[0].1["history-length"], 1);
    assert_eq!(price_and_history(&server), (11, 1));
    assert_eq!(server.get_json("/~meta@1.0/info/node/name").1, "renamed");
    let (_, history) = server.get_json("/~meta@1.0/info/node-history");
    assert_eq!(history[0]["signer"], operator);
    assert_eq!(history[0]["change"]["price.per-message"], "11");

    // The same bytes sent twice: the second is a replay.
    let denied = aocu::ao::b64url(&[7u8; 32]);
    let answers = meta_post(
        &node_dir,
        &server,
        &operator_jwk,
        "replay",
        &[&format!("deny-processes=[\"{denied}\"]")],
    );
    assert_eq!(answers[0].0, 200, "{:?}", answers[0].1);
    assert_eq!(answers[1].0, 403, "{:?}", answers[1].1);
    assert_eq!(answers[1].1["kind"], "replayed");
    assert_eq!(price_and_history(&server), (11, 2));
    let (status, body) = server.request("GET", &format!("/state/{denied}"), b"");
    assert_eq!(status, 403, "the deny-list applies at once: {body}");

    // Permanent: accepted once, then nothing changes any more.
    let answers = meta_post(
        &node_dir,
        &server,
        &operator_jwk,
        "send",
        &["initialized=permanent"],
    );
    assert_eq!(answers[0].0, 200, "{:?}", answers[0].1);
    let answers = meta_post(
        &node_dir,
        &server,
        &operator_jwk,
        "send",
        &["price.per-message=12"],
    );
    assert_eq!(answers[0].0, 403, "{:?}", answers[0].1);
    assert_eq!(answers[0].1["kind"], "permanent");
    assert_eq!(price_and_history(&server), (11, 3));
    assert_eq!(
        server.get_json("/~meta@1.0/info/initialized").1,
        "permanent"
    );
}

/// `operator-key` names the operator; a key file others may read keeps the node from starting.
#[test]
fn an_operator_key_must_be_private_and_names_the_operator() {
    use std::os::unix::fs::PermissionsExt as _;
    let Some(node_dir) = prereq::node_project() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("operator.json");
    let operator = aocu::ao::Wallet::generate().unwrap();
    operator.save(&key).unwrap();
    let setting = format!("operator-key={}", key.display());

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut child = common::aocu()
        .args(["serve", "--set", "listen=127.0.0.1:0", "--set", &setting])
        .arg("--set")
        .arg(format!("state-dir={}", state.path().display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the node started with a readable operator key"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(stderr.contains("chmod 600"), "{stderr}");

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let state_dir = tempfile::tempdir().unwrap();
    let node_wallet = common::shared_wallet_path();
    let server = Server::start_with_wallet(state_dir.path(), &node_wallet, &["--set", &setting]);
    assert_eq!(
        server.get_json("/~meta@1.0/info/operator").1,
        operator.address()
    );
    // The node wallet is no longer the operator.
    let answers = meta_post(
        &node_dir,
        &server,
        &node_wallet,
        "send",
        &["price.per-message=7"],
    );
    assert_eq!(answers[0].0, 403, "{:?}", answers[0].1);
    let answers = meta_post(&node_dir, &server, &key, "send", &["price.per-message=7"]);
    assert_eq!(answers[0].0, 200, "{:?}", answers[0].1);
    assert_eq!(price_and_history(&server), (7, 1));
}
