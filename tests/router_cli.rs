//! Joining an AO router: `aocu router register`, and `[router]` at `aocu serve` start, against
//! a test router (`tests/node/router.mjs`) that adds a route only when a route owner signed it,
//! checking the RFC 9421 signature with `http-message-signatures` as dev_router.erl checks
//! the signers. Registering again sends nothing; `--force` sends again; another key, or a
//! route a router cannot use, adds nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod common;
mod prereq;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The test router, killed on drop.
struct Router {
    child: Child,
    url: String,
}

impl Drop for Router {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Router {
    fn start(node_dir: &Path, owners: &[&str]) -> Router {
        Router::start_on(node_dir, owners, 0)
    }

    /// On `port` (0: any free one).
    fn start_on(node_dir: &Path, owners: &[&str], port: u16) -> Router {
        let mut child = Command::new("node")
            .arg("router.mjs")
            .args(owners)
            .env("PORT", port.to_string())
            .current_dir(node_dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let line = common::first_line(&mut child);
        let port = line.trim().strip_prefix("listening ").expect(&line);
        Router {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// (routes added, registrations posted)
    fn routes(&self) -> (Vec<Value>, u64) {
        let addr = self.url.strip_prefix("http://").unwrap().parse().unwrap();
        let raw = common::exchange(
            addr,
            "GET",
            "/~router@1.0/routes",
            "text/plain",
            b"",
            Duration::from_secs(10),
        )
        .expect("the test router answers");
        let (status, body) = common::parse_response(&raw);
        assert_eq!(status, 200, "{body}");
        let json: Value = serde_json::from_str(&body).unwrap();
        (
            json["routes"].as_array().unwrap().clone(),
            json["posts"].as_u64().unwrap(),
        )
    }
}

/// A state directory holding `wallet` as the node wallet.
fn state_with_wallet(wallet: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(wallet, dir.path().join("wallet.json")).unwrap();
    dir
}

/// `aocu router register` with `args`: (exit success, stdout JSON or stderr text).
fn register(state: &Path, args: &[&str]) -> (bool, String) {
    let out = common::aocu()
        .args(["router", "register", "--state-dir"])
        .arg(state)
        .args(args)
        .output()
        .unwrap();
    let text = if out.status.success() {
        String::from_utf8_lossy(&out.stdout).into_owned()
    } else {
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    (out.status.success(), text)
}

#[test]
fn a_route_is_registered_once_signed_by_the_node_key() {
    let Some(node_dir) = prereq::node_project() else {
        return;
    };
    let node = common::shared_wallet();
    let router = Router::start(&node_dir, &[node.address()]);
    let state = state_with_wallet(&common::shared_wallet_path());
    let route = [
        "--router",
        router.url.as_str(),
        "--prefix",
        "https://cu.example.net",
        "--price",
        "7",
    ];

    let (ok, out) = register(state.path(), &route);
    assert!(ok, "{out}");
    let line: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(line["registered"], true, "{line}");
    assert_eq!(line["signer"], node.address());
    assert_eq!(line["answer"], "Route added.");
    let (routes, posts) = router.routes();
    assert_eq!(posts, 1);
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0]["prefix"], "https://cu.example.net");
    assert_eq!(routes[0]["price"], 7, "the price arrives as an integer");
    assert_eq!(routes[0]["template"], aocu::router::DEFAULT_TEMPLATE);
    assert_eq!(routes[0]["signers"][0], node.address());

    // The same route again: nothing is sent.
    let (ok, out) = register(state.path(), &route);
    assert!(ok, "{out}");
    let line: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(line["already-registered"], true, "{line}");
    assert_eq!(router.routes().1, 1);

    // --force sends it again; a new price is a new route.
    let (ok, out) = register(state.path(), &[&route[..], &["--force"]].concat());
    assert!(ok, "{out}");
    let mut cheaper = route.to_vec();
    cheaper[5] = "6";
    let (ok, out) = register(state.path(), &cheaper);
    assert!(ok, "{out}");
    let (routes, posts) = router.routes();
    assert_eq!((routes.len(), posts), (3, 3));
    assert_eq!(routes[2]["price"], 6);

    // A route a router cannot use is refused before anything is sent.
    let url = router.url.as_str();
    for (bad, needle) in [
        (
            vec!["--router", url, "--prefix", "not a url"],
            "router.prefix",
        ),
        (
            vec!["--router", url, "--prefix", "https://x", "--template", ""],
            "router.template",
        ),
        (
            vec!["--router", "ftp://router", "--prefix", "https://x"],
            "router.url",
        ),
    ] {
        let (ok, err) = register(state.path(), &bad);
        assert!(!ok);
        assert!(err.contains(needle), "{bad:?}: {err}");
    }
    assert_eq!(router.routes().1, 3);
}

#[test]
fn a_key_the_router_does_not_trust_adds_nothing() {
    let Some(node_dir) = prereq::node_project() else {
        return;
    };
    let router = Router::start(&node_dir, &[common::shared_wallet().address()]);
    let other = tempfile::tempdir().unwrap();
    let other_wallet = other.path().join("other.json");
    aocu::ao::Wallet::generate()
        .unwrap()
        .save(&other_wallet)
        .unwrap();
    let state = state_with_wallet(&other_wallet);
    let args = [
        "--router",
        &router.url,
        "--prefix",
        "https://cu.example.net",
    ];
    let (ok, err) = register(state.path(), &args);
    assert!(!ok);
    assert!(err.contains("not_authorized"), "{err}");
    let (routes, posts) = router.routes();
    assert_eq!((routes.len(), posts), (0, 1));
    assert!(
        !state.path().join("router-registrations.json").exists(),
        "a refusal is not recorded"
    );
}

/// `aocu serve` on `state` with the shared wallet, joining the router at `router_url` with the
/// route prefix `https://cu.example.net`, and `extra` keys (`--set` each).
fn serve_joining(state: &Path, router_url: &str, extra: &[&str]) -> common::Server {
    let url = format!("router.url={router_url}");
    let mut args = vec![
        "--set",
        url.as_str(),
        "--set",
        "router.prefix=https://cu.example.net",
    ];
    for key in extra {
        args.extend(["--set", key]);
    }
    common::Server::start_with_wallet(state, &common::shared_wallet_path(), &args)
}

/// Wait (30 s at most) until `router` has a route.
fn wait_for_a_route(router: &Router, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while router.routes().0.is_empty() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn serve_joins_the_configured_router_at_start_at_its_own_price() {
    let Some(node_dir) = prereq::node_project() else {
        return;
    };
    let node = common::shared_wallet();
    let router = Router::start(&node_dir, &[node.address()]);
    let state = tempfile::tempdir().unwrap();
    let serve = || serve_joining(state.path(), &router.url, &["price={per-message=13}"]);
    let server = serve();
    wait_for_a_route(&router, "the node did not join the router");
    let (routes, posts) = router.routes();
    assert_eq!((routes.len(), posts), (1, 1));
    assert_eq!(routes[0]["price"], 13, "the schedule's per-message price");
    assert_eq!(routes[0]["signers"][0], node.address());
    drop(server);

    // Restarted on the same state: the router took this route already, nothing is sent.
    let server = serve();
    assert_eq!(server.get_json("/").0, 200);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(router.routes().1, 1);
}

#[test]
fn a_router_that_comes_up_later_is_joined_without_a_restart() {
    let Some(node_dir) = prereq::node_project() else {
        return;
    };
    let node = common::shared_wallet();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let state = tempfile::tempdir().unwrap();
    let late = format!("http://127.0.0.1:{port}");
    let _server = serve_joining(state.path(), &late, &["gateway-attempts=1"]);
    std::thread::sleep(Duration::from_millis(1500));
    let router = Router::start_on(&node_dir, &[node.address()], port);
    wait_for_a_route(&router, "the node did not join the late router");
    assert_eq!(router.routes().1, 1);
}
