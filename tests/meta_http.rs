//! `aocu serve` over real HTTP: `~meta@1.0/info`, sub-keys, 404/405 and malformed requests.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.
#![allow(unsafe_code)] // libc calls to observe the node (each `unsafe` says why it is sound).

mod common;

use common::Server;

#[test]
fn meta_info_and_sub_keys() {
    let server = Server::start(&["--set", "node-name=test-node"]);
    let (status, info) = server.get_json("/~meta@1.0/info");
    assert_eq!(status, 200);
    assert_eq!(info["node"]["name"], "test-node");
    assert_eq!(info["node"]["listen"], server.addr.to_string());
    assert_eq!(info["node"]["version"], env!("CARGO_PKG_VERSION"));
    let logical = info["hardware"]["cpu"]["logical-cpus"].as_u64().unwrap();
    assert!(logical >= 1);
    assert!(info["hardware"]["memory"]["total-bytes"].as_u64().unwrap() > 0);
    assert!(info["hardware"]["gpu"]["adapters"].is_array());
    assert!(info["profile"]["name"].is_string(), "{info}");
    assert!(info.get("price").is_some() && info.get("metering").is_some());
    assert!(
        info["devices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "meta@1.0")
    );

    let (status, cores) = server.get_json("/~meta@1.0/info/hardware/cpu/physical-cores");
    assert_eq!(status, 200);
    assert_eq!(cores, info["hardware"]["cpu"]["physical-cores"]);
    // Percent-encoded device names reach the same handler.
    let (status, cpus) = server.get_json("/%7Emeta%401.0/info/hardware/cpu/logical-cpus");
    assert_eq!((status, cpus.as_u64()), (200, Some(logical)));
    let (status, build) = server.get_json("/~meta@1.0/build");
    assert_eq!(status, 200);
    assert_eq!(build["node"], "aocu");
}

#[test]
fn unknown_paths_methods_and_garbage() {
    let server = Server::start(&[]);
    let (status, body) = server.get_json("/~meta@1.0/info/hardware/no-such-key");
    assert_eq!(status, 404);
    assert_eq!(body["kind"], "not-found");
    assert!(body["error"].as_str().unwrap().contains("no-such-key"));

    let (status, body) = server.get_json("/nowhere/at/all");
    assert_eq!((status, body["kind"].as_str()), (404, Some("not-found")));

    let (status, body) = server.request("POST", "/~meta@1.0/build", b"{}");
    assert_eq!(status, 405);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["kind"], "method-not-allowed");
    // `info` also takes the operator's signed POST; an unsigned one is refused as such.
    let (status, body) = server.request("POST", "/~meta@1.0/info", b"{}");
    assert_eq!(status, 401, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["kind"], "unsigned");
    let raw =
        server.raw(b"DELETE /~meta@1.0/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(
        raw.to_ascii_lowercase().contains("allow: get, head, post"),
        "{raw}"
    );

    // A broken escape is literal text (no such route); bytes that are not UTF-8 are refused.
    let (status, _) = server.get_json("/%zz");
    assert_eq!(status, 404);
    let (status, _) = server.get_json("/%ff");
    assert_eq!(status, 400);

    // A request that is not HTTP at all gets a 400 and the server keeps serving.
    let raw = server.raw(b"\x00\x01 this is not http\r\n\r\n");
    assert!(raw.starts_with("HTTP/1.1 400"), "{raw:?}");
    let (status, _) = server.get_json("/healthcheck");
    assert_eq!(status, 200);
}

/// `%+A` is no escape: `u8::from_str_radix` once read `+A` as 10 and served the path `info\n`.
/// A `%` must be followed by two hex digits; anything else is refused as `/%zz` is (400), and
/// the segment is named as written.
#[test]
fn a_sign_is_no_hex_digit() {
    let server = Server::start(&[]);
    // A broken escape is literal text: `info%+A` is a key of that name, which does not exist
    // (it was once decoded to `info\n`).
    for path in [
        "/~meta@1.0/info%+A",
        "/~meta@1.0/info%+a",
        "/~meta@1.0/info%4",
    ] {
        let (status, body) = server.get_json(path);
        assert_eq!(
            (status, body["kind"].as_str()),
            (404, Some("not-found")),
            "{path}: {body}"
        );
        let error = body["error"].as_str().unwrap();
        assert!(!error.contains('\n'), "{error}");
    }
    // Bytes that are not UTF-8 are refused.
    let (status, body) = server.get_json("/~meta@1.0/info%ff");
    assert_eq!(
        (status, body["kind"].as_str()),
        (400, Some("bad-request")),
        "{body}"
    );
    // A well-formed newline escape is decoded, and names no key.
    let (status, body) = server.get_json("/~meta@1.0/info%0A");
    assert_eq!(
        (status, body["kind"].as_str()),
        (404, Some("not-found")),
        "{body}"
    );
    // And for a query string, through the one query parser (here the SU's and the CU's).
    let id = "A".repeat(43);
    for path in [
        format!("/{id}?limit=1&from=%+A"),
        format!("/result/{id}?process-id=%+A"),
    ] {
        let (status, body) = server.get_json(&path);
        assert_eq!(
            (status, body["kind"].as_str()),
            (400, Some("bad-request")),
            "{path}: {body}"
        );
        assert!(
            body["error"].as_str().unwrap().contains("query parameter"),
            "{body}"
        );
    }
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_server_cleanly() {
    let mut server = Server::start(&[]);
    let pid = server.child.id() as i32;
    // SAFETY: kill(2) with a valid pid of our own child and a standard signal.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "server did not stop");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Lines of a child's stderr, as they come.
fn stderr_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead as _;
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The first line containing `needle` within 20 s (panics naming what came instead).
fn wait_for(lines: &std::sync::mpsc::Receiver<String>, needle: &str) -> String {
    wait_past(lines, needle).0
}

/// The first line containing `needle`, and the lines before it.
fn wait_past(lines: &std::sync::mpsc::Receiver<String>, needle: &str) -> (String, Vec<String>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return (line, seen),
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!("no line with {needle:?}; got:\n{}", seen.join("\n"));
}

#[cfg(unix)]
#[test]
fn sighup_reloads_the_log_filter_prices_and_access_lists() {
    use std::io::{BufRead as _, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("aocu.toml");
    std::fs::write(&config, "log = \"info\"\n").unwrap();
    let mut child = common::aocu()
        .env("AOCU_GATEWAYS", "[]")
        .env_remove("RUST_LOG")
        .arg("--config")
        .arg(&config)
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(dir.path().join("state"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = stderr_lines(&mut child);
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("aocu listening on http://")
        .unwrap()
        .to_string();
    let get_body = |path: &str| {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).unwrap();
        common::parse_response(&out)
    };
    let get = |path: &str| get_body(path).0;
    wait_for(&lines, "node started");
    let pid = child.id() as i32;

    // At `info`, a request is not logged.
    assert_eq!(get("/healthcheck"), 200);
    std::fs::write(
        &config,
        "log = \"info,aocu=debug\"\nnode-name = \"rack-7\"\n",
    )
    .unwrap();
    // SAFETY: kill(2) with a valid pid of our own child and a standard signal.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    let (reloaded, before) = wait_past(&lines, "SIGHUP: configuration reloaded");
    assert!(
        !before.iter().any(|l| l.contains("/healthcheck")),
        "{before:?}"
    );
    assert!(reloaded.contains("aocu=debug"), "{reloaded}");
    assert!(reloaded.contains("node-name"), "{reloaded}");
    // The new filter is in force: request lines are logged at debug now.
    assert_eq!(get("/healthcheck"), 200);
    wait_for(&lines, "/healthcheck");

    // Prices and access lists apply at once: `info` shows the new schedule, and a process
    // put on the deny-list is refused at the next request.
    let denied = aocu::ao::b64url(&[7u8; 32]);
    let result_of_denied = format!("/result/{denied}?process-id={denied}");
    assert_eq!(get(&result_of_denied), 404, "not denied yet: unknown");
    std::fs::write(
        &config,
        format!(
            "log = \"info,aocu=debug\"\nnode-name = \"rack-7\"\ndeny-processes = [\"{denied}\"]\n\
             [price]\nper-message = 11\n"
        ),
    )
    .unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    let reloaded = wait_for(&lines, "SIGHUP: configuration reloaded");
    assert!(
        reloaded.contains("price") && reloaded.contains("deny-processes"),
        "{reloaded}"
    );
    assert_eq!(
        get_body("/~meta@1.0/info/price/per-message"),
        (200, "11".into())
    );
    assert_eq!(get(&result_of_denied), 403);

    // A bad file changes nothing, and says so; the node goes on serving.
    std::fs::write(&config, "log = [\n").unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    wait_for(&lines, "the configuration is invalid; nothing changed");
    assert_eq!(get("/healthcheck"), 200);

    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert!(child.wait().unwrap().success());
}

/// `info` carries the node's address (its wallet's, as `GET /` answers it), and no `~meta`
/// answer carries a secret part of that wallet's key.
#[test]
fn info_has_the_node_address_and_no_private_key() {
    let state_dir = tempfile::tempdir().unwrap();
    let wallet_path = common::shared_wallet_path();
    let server = Server::start_with_wallet(state_dir.path(), &wallet_path, &[]);
    let wallet = common::shared_wallet();
    // `GET /` waits for the wallet; afterwards `info` reports it without waiting.
    let (status, root) = server.get_json("/");
    assert_eq!(status, 200, "{root}");
    assert_eq!(root["address"], wallet.address());
    let (status, address) = server.get_json("/~meta@1.0/info/address");
    assert_eq!(status, 200);
    assert_eq!(address, wallet.address());

    let jwk = serde_json::to_value(wallet.jwk()).unwrap();
    let secrets: Vec<&str> = ["d", "p", "q", "dp", "dq", "qi"]
        .iter()
        .map(|k| jwk[k].as_str().expect("a private JWK part"))
        .collect();
    for path in ["/~meta@1.0/info", "/~meta@1.0/build", "/~meta@1.0/metering"] {
        let (status, body) = server.get_json(path);
        assert_eq!(status, 200, "{path}: {body}");
        let text = body.to_string();
        for secret in &secrets {
            assert!(!text.contains(secret), "{path} leaks a private key part");
        }
    }
}
