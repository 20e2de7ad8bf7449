//! Remote schedulers: node A schedules an AOS process; node B, configured with A as the remote
//! SU for A's address, evaluates it from A's SU API alone and gives byte-identical results,
//! and follows A as more messages arrive. Node C reads A through a proxy that tampers with one
//! slot of a page (a re-signed assignment whose hash-chain link does not follow, a message
//! signature changed, message data changed): each is refused with an error naming that slot,
//! and nothing of the page is kept or evaluated.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod common;
mod prereq;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aocu::ao::Tag;
use aocu::ao::{DataItem, Id, Wallet, b64url, b64url_decode};
use common::Server;
use serde_json::Value;

/// Two RSA-4096 keys for the whole binary: A's (also the client's) and the one B and C use.
fn wallets() -> &'static (tempfile::TempDir, Wallet, Wallet) {
    static W: OnceLock<(tempfile::TempDir, Wallet, Wallet)> = OnceLock::new();
    W.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let a = Wallet::generate().unwrap();
        let other = Wallet::generate().unwrap();
        a.save(&dir.path().join("a.json")).unwrap();
        other.save(&dir.path().join("other.json")).unwrap();
        (dir, a, other)
    })
}

fn a_wallet() -> &'static Wallet {
    &wallets().1
}

fn start(state_dir: &Path, wallet_file: &str, extra: &[String]) -> Server {
    let wallet_path = wallets().0.path().join(wallet_file);
    let mut args = vec!["--set", "executors=1"];
    args.extend(extra.iter().map(String::as_str));
    Server::start_with_wallet(state_dir, &wallet_path, &args)
}

/// `--set schedulers={ A = "http://addr" }`: read A's processes from `addr`.
fn remote_flag(addr: SocketAddr) -> Vec<String> {
    vec![
        "--set".into(),
        format!(
            "schedulers={{ \"{}\" = \"http://{addr}\" }}",
            a_wallet().address()
        ),
    ]
}

fn post(server: &Server, path: &str, body: &[u8]) -> (u16, Value) {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    let (status, body) = common::parse_response(&String::from_utf8_lossy(&out));
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

fn tag(name: &str, value: &str) -> Tag {
    Tag {
        name: name.into(),
        value: value.into(),
    }
}

/// The AOS module signed by its publisher (the client), so every node stores the same ID.
fn module_item(aos: &Path) -> DataItem {
    let wasm = std::fs::read(aos).expect("aos-2-pure.wasm");
    aocu::ao::module_item::build(
        a_wallet(),
        wasm,
        &[
            tag("Memory-Limit", "1-gb"),
            tag("Compute-Limit", "9000000000000"),
        ],
    )
    .unwrap()
}

fn add_module(server: &Server, module: &DataItem) {
    let (status, body) = post(server, "/~module@1.0", &module.to_bytes());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], module.id());
}

fn spawn(a: &Server, module: &str) -> String {
    let tags = vec![
        tag("Data-Protocol", "ao"),
        tag("Variant", "ao.TN.1"),
        tag("Type", "Process"),
        tag("Module", module),
        tag("Scheduler", a_wallet().address()),
        tag("Name", "mirrored"),
    ];
    let item = DataItem::signed(a_wallet(), None, None, tags, b"1984".to_vec()).unwrap();
    let (status, body) = post(a, "/", &item.to_bytes());
    assert!((200..300).contains(&status), "{body}");
    item.id()
}

fn eval(server: &Server, pid: &str, code: &str) -> (u16, Value, String) {
    let tags = vec![
        tag("Data-Protocol", "ao"),
        tag("Variant", "ao.TN.1"),
        tag("Type", "Message"),
        tag("Action", "Eval"),
    ];
    // A text anchor, as aoconnect writes one.
    let anchor: [u8; 32] = *b"00000000000000000000000000000042";
    let item = DataItem::signed(
        a_wallet(),
        pid.parse::<Id>().ok().map(Id::into_bytes),
        Some(anchor),
        tags,
        code.as_bytes().to_vec(),
    )
    .unwrap();
    let (status, body) = post(server, "/", &item.to_bytes());
    (status, body, item.id())
}

fn result(server: &Server, pid: &str, mid: &str) -> (u16, String) {
    server.request("GET", &format!("/result/{mid}?process-id={pid}"), b"")
}

/// How the proxy changes the page it forwards.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tamper {
    /// Forward as it is.
    None = 0,
    /// Re-sign the assignment at the slot with A's own key, with a wrong `Hash-Chain`.
    ChainLink = 1,
    /// Flip one byte of the message signature at the slot.
    Signature = 2,
    /// Change the message data at the slot, signature untouched.
    Data = 3,
}

/// An HTTP proxy in front of A that applies `mode` to slot `slot` of every page.
fn tampering_proxy(upstream: SocketAddr, mode: Arc<AtomicUsize>, slot: u64) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mode = mode.load(Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let mut up = TcpStream::connect(upstream).unwrap();
                write!(
                    up,
                    "GET {path} HTTP/1.1\r\nHost: {upstream}\r\nConnection: close\r\n\r\n"
                )
                .unwrap();
                let mut raw = Vec::new();
                up.read_to_end(&mut raw).unwrap();
                let (status, body) = common::parse_response(&String::from_utf8_lossy(&raw));
                let body = match serde_json::from_str::<Value>(&body) {
                    Ok(mut page) if page.get("edges").is_some() => {
                        tamper(&mut page, mode, slot);
                        page.to_string()
                    }
                    _ => body,
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    addr
}

fn tamper(page: &mut Value, mode: usize, slot: u64) {
    let Some(edges) = page["edges"].as_array_mut() else {
        return;
    };
    for edge in edges {
        let node = &mut edge["node"];
        let nonce = node["assignment"]["tags"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["name"] == "Nonce"))
            .and_then(|t| t["value"].as_str())
            .and_then(|v| v.parse::<u64>().ok());
        if nonce != Some(slot) {
            continue;
        }
        match mode {
            1 => {
                // A scheduler that forks its own chain: a valid signature over a wrong link.
                let a = &node["assignment"];
                let tags: Vec<Tag> = a["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| {
                        let name = t["name"].as_str().unwrap();
                        let value = if name == "Hash-Chain" {
                            b64url(&[7u8; 32])
                        } else {
                            t["value"].as_str().unwrap().to_string()
                        };
                        tag(name, &value)
                    })
                    .collect();
                let resigned = DataItem::signed(a_wallet(), None, None, tags, Vec::new()).unwrap();
                node["assignment"]["tags"] = serde_json::to_value(&resigned.tags).unwrap();
                node["assignment"]["signature"] = Value::String(resigned.signature_b64());
                node["assignment"]["id"] = Value::String(resigned.id());
                node["assignment"]["anchor"] = Value::Null;
            }
            2 => {
                let mut sig =
                    b64url_decode(node["message"]["signature"].as_str().unwrap()).unwrap();
                sig[100] ^= 1;
                node["message"]["signature"] = Value::String(b64url(&sig));
            }
            3 => {
                node["message"]["data"] = Value::String("return 'forged'".into());
            }
            _ => {}
        }
    }
}

#[test]
fn a_node_evaluates_a_remote_schedule_identically_and_refuses_tampered_pages() {
    let Some(aos) = prereq::testdata("wasm/aos-2-pure.wasm") else {
        return;
    };
    let dirs = tempfile::tempdir().unwrap();
    let a = start(&dirs.path().join("a"), "a.json", &[]);
    let module = module_item(&aos);
    add_module(&a, &module);
    let pid = spawn(&a, &module.id());
    let mut ids = Vec::new();
    for k in 0..6 {
        let (status, body, id) = eval(&a, &pid, &format!("N = (N or 0) + {k}\nreturn N"));
        assert!((200..300).contains(&status), "{body}");
        ids.push(id);
    }
    let a_results: Vec<String> = ids
        .iter()
        .map(|id| {
            let (status, body) = result(&a, &pid, id);
            assert_eq!(status, 200, "{body}");
            body
        })
        .collect();

    // B knows nothing of the process: it finds it on A, verifies, copies, evaluates.
    let b = start(&dirs.path().join("b"), "other.json", &remote_flag(a.addr));
    add_module(&b, &module);
    for (k, id) in ids.iter().enumerate().rev() {
        let (status, body) = result(&b, &pid, id);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, a_results[k], "result {k} differs from A's");
    }
    let (_, a_page) = a.request("GET", &format!("/results/{pid}?limit=100"), b"");
    let (_, b_page) = b.request("GET", &format!("/results/{pid}?limit=100"), b"");
    assert_eq!(a_page, b_page, "the results pages differ");
    // B serves the copied schedule as a mirror, signatures and links as A made them.
    let (_, a_su) = a.request("GET", &format!("/{pid}?limit=100"), b"");
    let (_, b_su) = b.request("GET", &format!("/{pid}?limit=100"), b"");
    assert_eq!(a_su, b_su, "the mirrored SU page differs");

    // New messages on A: B follows them when asked for a result or the latest state.
    let (_, _, later) = eval(&a, &pid, "return N * 10");
    let (_, a_later) = result(&a, &pid, &later);
    assert_eq!(result(&b, &pid, &later), (200, a_later.clone()));
    assert!(a_later.contains("150"), "{a_later}");
    // B does not schedule A's process itself: that would fork A's chain.
    let (status, body, _) = eval(&b, &pid, "return 1");
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("scheduled by"), "{body}");

    // C reads A through a proxy that tampers with slot 3.
    let mode = Arc::new(AtomicUsize::new(Tamper::None as usize));
    let proxy = tampering_proxy(a.addr, mode.clone(), 3);
    let c = start(&dirs.path().join("c"), "other.json", &remote_flag(proxy));
    add_module(&c, &module);
    for (tampering, expected) in [
        (Tamper::ChainLink, "does not follow"),
        (Tamper::Signature, "not SHA-256 of its signature"),
        (Tamper::Data, "bad signature"),
    ] {
        mode.store(tampering as usize, Ordering::SeqCst);
        let (status, body) = result(&c, &pid, &ids[0]);
        assert_eq!(status, 502, "{tampering:?}: {body}");
        assert!(body.contains("slot 3"), "{tampering:?}: {body}");
        assert!(body.contains(expected), "{tampering:?}: {body}");
        // Nothing of the page was kept: the process is still unknown to C's SU API.
        let (status, _) = c.request("GET", &format!("/processes/{pid}"), b"");
        assert_eq!(status, 404, "{tampering:?}: a rejected page left a trace");
    }
    // Untampered, the same node takes it.
    mode.store(Tamper::None as usize, Ordering::SeqCst);
    assert_eq!(result(&c, &pid, &ids[5]), (200, a_results[5].clone()));
}

#[test]
fn an_unreachable_or_unconfigured_scheduler_is_a_clear_error() {
    let dirs = tempfile::tempdir().unwrap();
    // A scheduler that hangs up on every connection: the sync retries, then names it. The
    // port stays held by this test, so no other node of this binary can be given it.
    let hangs_up = TcpListener::bind("127.0.0.1:0").unwrap();
    let gone: SocketAddr = hangs_up.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in hangs_up.incoming() {
            drop(stream);
        }
    });
    let b = start(&dirs.path().join("b"), "other.json", &remote_flag(gone));
    let pid = b64url(&[5u8; 32]);
    let (status, body) = result(&b, &pid, &b64url(&[6u8; 32]));
    assert_eq!(status, 502, "{body}");
    assert!(body.contains(a_wallet().address()), "{body}");
    assert!(body.contains("tries"), "{body}");

    // A URL that is neither http:// nor https://, or a malformed address, is refused at start, naming the key.
    for (key, url) in [
        (a_wallet().address().to_string(), "ftp://su.example"),
        ("not-an-address".to_string(), "http://127.0.0.1:1"),
    ] {
        let out = common::aocu()
            .args(["config", "check", "--json"])
            .args(["--set", &format!("schedulers={{ \"{key}\" = \"{url}\" }}")])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{text}");
        assert!(text.contains(&format!("schedulers.{key}")), "{text}");
    }
}

#[test]
fn a_remote_process_of_an_owner_outside_allow_owners_is_neither_kept_nor_evaluated() {
    let Some(aos) = prereq::testdata("wasm/aos-2-pure.wasm") else {
        return;
    };
    let dirs = tempfile::tempdir().unwrap();
    let a = start(&dirs.path().join("a"), "a.json", &[]);
    let module = module_item(&aos);
    add_module(&a, &module);
    let pid = spawn(&a, &module.id());
    let (status, body, mid) = eval(&a, &pid, "return 6 * 111");
    assert!((200..300).contains(&status), "{body}");

    // B takes only the other wallet's processes: A's is refused when it is discovered.
    let mut flags = remote_flag(a.addr);
    flags.extend([
        "--set".to_string(),
        format!("allow-owners=[\"{}\"]", wallets().2.address()),
    ]);
    let b = start(&dirs.path().join("b"), "other.json", &flags);
    add_module(&b, &module);
    for _ in 0..2 {
        let (status, body) = result(&b, &pid, &mid);
        assert_eq!(status, 403, "{body}");
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["kind"], "owner-not-allowed", "{json}");
        assert!(body.contains(a_wallet().address()), "{body}");
        // Nothing of it was kept, nothing evaluated.
        let (status, _) = b.request("GET", &format!("/processes/{pid}"), b"");
        assert_eq!(status, 404, "a refused process was stored");
    }
    let (_, metering) = b.get_json("/~meta@1.0/info/metering");
    assert_eq!(metering["node"]["messages"], 0, "{metering}");
    assert_eq!(metering["processes"], 0, "{metering}");

    // With A's address on the list, the same discovery keeps and evaluates it.
    let mut flags = remote_flag(a.addr);
    flags.extend([
        "--set".to_string(),
        format!("allow-owners=[\"{}\"]", a_wallet().address()),
    ]);
    let c = start(&dirs.path().join("c"), "other.json", &flags);
    add_module(&c, &module);
    let (status, body) = result(&c, &pid, &mid);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("666"), "{body}");
}
