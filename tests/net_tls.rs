//! The node as a client over TLS, with certificates made in the test (rcgen) and trusted
//! through `tls-ca-file`. Node A schedules an AOS process and holds its module; it is reached
//! only through a TLS-terminating proxy. A gateway G (over TLS too) answers the
//! Scheduler-Location of A's wallet and the block height, and passes every other request
//! (GraphQL, `/raw`) on to A's own gateway API. Node B, configured with nothing but G and the CA
//! file (no `[schedulers]` entry, no module uploaded), finds the process' scheduler through G,
//! reads and verifies A's schedule over TLS, fetches the module through G, evaluates, and gives
//! A's results; its `/timestamp` reports G's height and says so, and keeps it across a
//! restart. Node C, without the CA file, is refused with an error naming the certificate
//! problem.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod common;
mod prereq;

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aocu::ao::{DataItem, Id, Tag, Wallet};
use aocu::net::{Call, Client, ClientSettings, Url};
use bytes::Bytes;
use common::Server;
use common::tls::{certificate, runtime, tls_proxy};
use http_body_util::{BodyExt as _, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

const HEIGHT: u64 = 1_512_345;

fn tag(name: &str, value: &str) -> Tag {
    Tag::new(name, value)
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

fn message(wallet: &Wallet, pid: &str, code: &str) -> DataItem {
    let tags = vec![
        tag("Data-Protocol", "ao"),
        tag("Variant", "ao.TN.1"),
        tag("Type", "Message"),
        tag("Action", "Eval"),
    ];
    let anchor: [u8; 32] = *b"00000000000000000000000000000042";
    DataItem::signed(
        wallet,
        pid.parse::<Id>().ok().map(Id::into_bytes),
        Some(anchor),
        tags,
        code.as_bytes().to_vec(),
    )
    .unwrap()
}

/// Gateway G over TLS: the Scheduler-Location of `scheduler` (its SU at `su_url`), `/info`,
/// and everything else passed on to `upstream` (A's own gateway API).
fn directory_gateway(
    scheduler: String,
    su_url: String,
    upstream: SocketAddr,
    acceptor: tokio_rustls::TlsAcceptor,
) -> SocketAddr {
    let upstream = Url::parse(&format!("http://{upstream}")).unwrap();
    let client = Client::new(&ClientSettings::default()).unwrap();
    let ctx = Arc::new((scheduler, su_url, upstream, client));
    runtime().block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, ctx) = (acceptor.clone(), ctx.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let ctx = ctx.clone();
                        async move { Ok::<_, Infallible>(directory(&ctx, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        addr
    })
}

async fn directory(
    (scheduler, su_url, upstream, client): &(String, String, Url, Client),
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let reply = |status: u16, body: Bytes| {
        let mut r = hyper::Response::new(Full::new(body));
        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
        r
    };
    let method = req.method().clone();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    if path == "/info" {
        return reply(200, json!({"height": HEIGHT}).to_string().into());
    }
    if path == "/graphql" && String::from_utf8_lossy(&body).contains("Scheduler-Location") {
        let asked: Value = serde_json::from_slice(&body).unwrap();
        let edges = if asked["variables"]["owner"] == scheduler.as_str() {
            json!([{"node": {"tags": [
                {"name": "Data-Protocol", "value": "ao"},
                {"name": "Type", "value": "Scheduler-Location"},
                {"name": "Url", "value": su_url},
                {"name": "Time-To-Live", "value": "3600000"},
            ]}}])
        } else {
            json!([])
        };
        let out = json!({"data": {"transactions": {"edges": edges}}});
        return reply(200, out.to_string().into());
    }
    let call = Call {
        method: method.clone(),
        url: upstream,
        path_and_query: &path,
        accept: "*/*",
        body: (method == hyper::Method::POST).then_some(("application/json", body)),
        max_body: 64 << 20,
        headers: Vec::new(),
    };
    match client.send(call).await {
        Ok(answer) => reply(answer.status.as_u16(), answer.body),
        Err(e) => reply(502, e.to_string().into()),
    }
}

fn start(dir: &Path, wallet: &Path, extra: &[String]) -> Server {
    let mut args = vec!["--set", "executors=1"];
    args.extend(extra.iter().map(String::as_str));
    Server::start_with_wallet(dir, wallet, &args)
}

fn timestamp(server: &Server) -> Value {
    let (status, body) = server.request("GET", "/timestamp", b"");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn a_remote_su_and_a_gateway_over_tls_need_only_the_gateway_and_the_ca_file() {
    let Some(aos) = prereq::testdata("wasm/aos-2-pure.wasm") else {
        return;
    };
    let dirs = tempfile::tempdir().unwrap();
    let wallet = Wallet::generate().unwrap();
    let wallet_file = dirs.path().join("a.json");
    wallet.save(&wallet_file).unwrap();
    let other_file = dirs.path().join("b.json");
    Wallet::generate().unwrap().save(&other_file).unwrap();

    // A: the process, its module, its schedule.
    let a = start(&dirs.path().join("a"), &wallet_file, &[]);
    let module = aocu::ao::module_item::build(&wallet, std::fs::read(&aos).unwrap(), &[]).unwrap();
    let (status, body) = post(&a, "/~module@1.0", &module.to_bytes());
    assert_eq!(status, 200, "{body}");
    let spawn = DataItem::signed(
        &wallet,
        None,
        None,
        vec![
            tag("Data-Protocol", "ao"),
            tag("Variant", "ao.TN.1"),
            tag("Type", "Process"),
            tag("Module", &module.id()),
            tag("Scheduler", wallet.address()),
        ],
        b"1984".to_vec(),
    )
    .unwrap();
    let (status, body) = post(&a, "/", &spawn.to_bytes());
    assert!((200..300).contains(&status), "{body}");
    let pid = spawn.id();
    let mut ids = Vec::new();
    for k in 0..3 {
        let item = message(&wallet, &pid, &format!("N = (N or 0) + {k}\nreturn N"));
        let (status, body) = post(&a, "/", &item.to_bytes());
        assert!((200..300).contains(&status), "{body}");
        ids.push(item.id());
    }
    let result =
        |s: &Server, id: &str| s.request("GET", &format!("/result/{id}?process-id={pid}"), b"");
    let a_results: Vec<String> = ids
        .iter()
        .map(|id| {
            let (status, body) = result(&a, id);
            assert_eq!(status, 200, "{body}");
            body
        })
        .collect();

    // A behind TLS; G over TLS naming A's TLS address as the scheduler's location.
    let (pem, acceptor) = certificate();
    let ca = dirs.path().join("ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    let a_tls = tls_proxy(a.addr, acceptor.clone());
    let g = directory_gateway(
        wallet.address().to_string(),
        format!("https://{a_tls}"),
        a.addr,
        acceptor,
    );
    let gateway_flag = format!("gateways=[\"https://{g}\"]");

    // B: nothing but G and the CA file.
    let b_dir = dirs.path().join("b");
    let b_flags = [
        "--set".to_string(),
        gateway_flag.clone(),
        "--set".to_string(),
        format!("tls-ca-file={}", ca.display()),
    ];
    let b = start(&b_dir, &other_file, &b_flags);
    for (k, id) in ids.iter().enumerate().rev() {
        let (status, body) = result(&b, id);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, a_results[k], "result {k} differs from A's");
    }
    let (status, raw) = b.request("GET", &format!("/raw/{}", module.id()), b"");
    assert_eq!(status, 200, "B keeps the fetched module");
    assert!(raw.starts_with("\0asm"), "B serves the module's WASM");
    // B's height is G's, and B says where it came from.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut now = timestamp(&b);
    while now["block_height_source"] != "gateway" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        now = timestamp(&b);
    }
    assert_eq!(now["block_height"], format!("{HEIGHT:0>12}"), "{now}");
    assert_eq!(now["block_height_gateway"], format!("https://{g}"), "{now}");
    // A, with no gateway, reports the configured height and says so.
    assert_eq!(timestamp(&a)["block_height_source"], "config");
    drop(b);
    // Restarted with no gateway at all, B still has the last height it read.
    let b = start(&b_dir, &other_file, &[]);
    let kept = timestamp(&b);
    assert_eq!(kept["block_height"], format!("{HEIGHT:0>12}"), "{kept}");
    assert_eq!(kept["block_height_source"], "stored", "{kept}");
    drop(b);

    // C: the same without the CA file: refused, the certificate problem named.
    let c = start(
        &dirs.path().join("c"),
        &other_file,
        &["--set".to_string(), gateway_flag],
    );
    let (status, body) = result(&c, &ids[0]);
    assert!(status >= 400, "{status} {body}");
    assert!(body.contains("invalid peer certificate"), "{body}");
    assert!(body.contains("UnknownIssuer"), "{body}");
}
