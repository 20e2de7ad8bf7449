//! `simple-pay@1.0` (`simple-pay = true`): requests signed by AO's own client
//! (`@permaweb/ao-core-libs`, `tests/node/signed-request.mjs`) pay the per-message price from
//! a balance the operator tops up; short or unsigned ones get 402 with p4's `price` and
//! `balance`; the operator rides free; a replayed request or top-up is refused; balances
//! survive a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod common;
mod prereq;

use common::{Server, SignedRequest};
use serde_json::Value;

fn balance(server: &Server, address: &str) -> u64 {
    let (status, body) = server.get_json(&format!("/~simple-pay@1.0/balance?address={address}"));
    assert_eq!(status, 200, "{body}");
    body["balance"].as_u64().unwrap()
}

#[test]
fn signed_requests_pay_from_the_balance_the_operator_tops_up() {
    let Some(node_dir) = prereq::node_project() else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let operator_jwk = common::shared_wallet_path();
    let args = ["--set", "simple-pay=true", "--set", "price={per-message=5}"];
    let server = Server::start_with_wallet(state.path(), &operator_jwk, &args);
    let user_dir = tempfile::tempdir().unwrap();
    let user_jwk = user_dir.path().join("user.json");
    let user = aocu::ao::Wallet::generate().unwrap();
    user.save(&user_jwk).unwrap();
    let signed = |jwk, mode| SignedRequest {
        node_dir: &node_dir,
        addr: server.addr,
        jwk,
        mode,
    };
    let (_, info) = server.get_json("/~meta@1.0/info/simple-pay");
    assert_eq!(info, serde_json::json!({"enabled": true, "price": 5}));
    let pid = aocu::ao::b64url(&[3u8; 32]);
    let read = format!("/state/{pid}");

    // Unsigned, and signed with no balance: 402, with the price and the balance.
    let (status, body) = server.request("GET", &read, b"");
    assert_eq!(status, 402, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (body["price"].as_u64(), body["balance"].as_u64()),
        (Some(5), Some(0))
    );
    let answers = signed(&user_jwk, "send").send("GET", &read, &["note=1"]);
    assert_eq!(answers[0].0, 402, "{:?}", answers[0].1);
    assert_eq!(answers[0].1["kind"], "insufficient-funds");

    // The operator tops the user up; the same signed top-up again credits nothing.
    let topup = [
        "amount=12".to_string(),
        format!("recipient={}", user.address()),
    ];
    let topup: Vec<&str> = topup.iter().map(String::as_str).collect();
    let answers = signed(&operator_jwk, "replay").send("POST", "/~simple-pay@1.0/topup", &topup);
    assert_eq!(answers[0].0, 200, "{:?}", answers[0].1);
    assert_eq!(answers[0].1["balance"], 12);
    assert_eq!(answers[1].0, 403, "{:?}", answers[1].1);
    assert_eq!(answers[1].1["kind"], "replayed");
    // Nobody else may top up, not even themselves.
    let answers = signed(&user_jwk, "send").send("POST", "/~simple-pay@1.0/topup", &topup);
    assert_eq!(answers[0].0, 403, "{:?}", answers[0].1);
    assert_eq!(balance(&server, user.address()), 12);

    // Each signed request pays 5 before it is served (here: 404, no such process); the same
    // signed request replayed is refused; a tampered one is not the user's.
    let answers = signed(&user_jwk, "replay").send("GET", &read, &["note=1"]);
    assert_eq!(answers[0].0, 404, "{:?}", answers[0].1);
    assert_eq!(answers[1].0, 403, "{:?}", answers[1].1);
    assert_eq!(balance(&server, user.address()), 7);
    let answers = signed(&user_jwk, "tamper").send("GET", &read, &["note=1"]);
    assert_eq!(answers[0].0, 401, "{:?}", answers[0].1);
    let answers = signed(&user_jwk, "send").send("GET", &read, &["note=2"]);
    assert_eq!(answers[0].0, 404, "{:?}", answers[0].1);
    let answers = signed(&user_jwk, "send").send("GET", &read, &["note=3"]);
    assert_eq!(answers[0].0, 402, "{:?}", answers[0].1);
    assert_eq!(
        (
            answers[0].1["price"].as_u64(),
            answers[0].1["balance"].as_u64()
        ),
        (Some(5), Some(2))
    );

    // The operator rides free; the node's description is never charged.
    let answers = signed(&operator_jwk, "send").send("GET", &read, &["note=4"]);
    assert_eq!(answers[0].0, 404, "{:?}", answers[0].1);
    assert_eq!(server.get_json("/~meta@1.0/info").0, 200);
    drop(server);

    // Balances are kept in the store.
    let server = Server::start_with_wallet(state.path(), &operator_jwk, &args);
    assert_eq!(balance(&server, user.address()), 2);
}

#[test]
fn the_switch_is_off_by_default_and_refused_beside_hyperbeam() {
    let server = Server::start(&[]);
    let (status, _) = server.request(
        "GET",
        &format!("/state/{}", aocu::ao::b64url(&[3u8; 32])),
        b"",
    );
    assert_eq!(status, 404, "not charged: no such process");
    let (status, body) = server.get_json("/~simple-pay@1.0/balance?address=x");
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        server.get_json("/~meta@1.0/info/simple-pay/enabled").1,
        false
    );

    let out = common::aocu()
        .args(["config", "check", "--set", "simple-pay=true"])
        .args(["--set", "hyperbeam-url=http://127.0.0.1:8734"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("simple-pay")
            || String::from_utf8_lossy(&out.stdout).contains("simple-pay")
    );
}
