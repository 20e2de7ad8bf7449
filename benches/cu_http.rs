//! CU API latency and throughput on a warm AOS process (`aos-2-pure.wasm`), measured from this
//! process (the load generator) against an `aocu serve` child process over loopback, with
//! keep-alive HTTP/1.1:
//!
//! - `dry-run`: `POST /dry-run` of an Eval `return 1+1` (evaluated on the latest state, then the
//!   state is put back);
//! - `result/evaluate`: `GET /result` of a message scheduled just before (untimed), so the
//!   request evaluates it and stores the result (lazy evaluation);
//! - `result/stored`: `GET /result` of a message already evaluated.
//!
//! Besides criterion's estimates, each benchmark prints the p50/p99 of every request it timed.
//! Run: `cargo bench --bench cu_http`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Bench code: a panic is a failure.
#![allow(missing_docs)] // `criterion_group!` makes undocumented public functions.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aocu::ao::Tag;
use aocu::ao::{DataItem, Id, Wallet};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const AOS: &str = "../shared/testdata/wasm/aos-2-pure.wasm";

struct Node {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(wallet: &Wallet) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let wallet_path = dir.path().join("wallet.json");
    wallet.save(&wallet_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aocu"))
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(dir.path().join("state"))
        .arg("--set")
        .arg(format!("wallet={}", wallet_path.display()))
        .args(["--set", "log=warn"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start aocu serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("aocu listening on http://")
        .unwrap()
        .parse()
        .unwrap();
    Node {
        child,
        addr,
        _dir: dir,
    }
}

/// A keep-alive HTTP/1.1 connection that reads `Content-Length` bodies.
struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            reader: BufReader::new(stream),
        }
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line).unwrap();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap();
            }
        }
        let mut out = vec![0u8; length];
        self.reader.read_exact(&mut out).unwrap();
        (status, out)
    }
}

fn tag(name: &str, value: &str) -> Tag {
    Tag {
        name: name.into(),
        value: value.into(),
    }
}

fn eval(wallet: &Wallet, pid: &str, code: &str) -> DataItem {
    let tags = vec![
        tag("Data-Protocol", "ao"),
        tag("Variant", "ao.TN.1"),
        tag("Type", "Message"),
        tag("Action", "Eval"),
    ];
    DataItem::signed(
        wallet,
        pid.parse::<Id>().ok().map(Id::into_bytes),
        None,
        tags,
        code.as_bytes().to_vec(),
    )
    .unwrap()
}

/// A node with a warm AOS process: (node, process id).
fn setup(wallet: &Wallet) -> (Node, String) {
    let node = start(wallet);
    let mut conn = Conn::new(node.addr);
    let wasm = std::fs::read(AOS).expect("aos-2-pure.wasm");
    let (status, body) = conn.request("POST", "/~module@1.0", "application/wasm", &wasm);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let module: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let module = module["id"].as_str().unwrap().to_string();
    let tags = vec![
        tag("Data-Protocol", "ao"),
        tag("Variant", "ao.TN.1"),
        tag("Type", "Process"),
        tag("Module", &module),
        tag("Scheduler", wallet.address()),
    ];
    let spawn = DataItem::signed(wallet, None, None, tags, b"1984".to_vec()).unwrap();
    let (status, _) = conn.request("POST", "/", "application/octet-stream", &spawn.to_bytes());
    assert!((200..300).contains(&status));
    let pid = spawn.id();
    let warm = eval(wallet, &pid, "Counter = 0\nreturn 1");
    conn.request("POST", "/", "application/octet-stream", &warm.to_bytes());
    let (status, body) = conn.request(
        "GET",
        &format!("/result/{}?process-id={pid}", warm.id()),
        "text/plain",
        b"",
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    (node, pid)
}

fn percentiles(name: &str, samples: &mut [Duration]) {
    if samples.is_empty() {
        return;
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    let total: Duration = samples.iter().sum();
    println!(
        "{name}: {} requests, p50 {:?}, p99 {:?}, {:.0} req/s sequential",
        samples.len(),
        at(0.50),
        at(0.99),
        samples.len() as f64 / total.as_secs_f64()
    );
}

fn bench(c: &mut Criterion) {
    let wallet = Wallet::generate().unwrap();
    let (node, pid) = setup(&wallet);
    let mut conn = Conn::new(node.addr);
    let mut group = c.benchmark_group("cu_http");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(10));

    let dry_body = serde_json::json!({
        "Id": "1234", "Owner": wallet.address(), "Target": pid, "Data": "return 1+1",
        "Tags": [{"name": "Action", "value": "Eval"}], "Anchor": "0"
    })
    .to_string();
    let dry_path = format!("/dry-run?process-id={pid}");
    let mut samples = Vec::new();
    group.bench_function("dry-run", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let (status, _) =
                    conn.request("POST", &dry_path, "application/json", dry_body.as_bytes());
                let dt = t.elapsed();
                assert_eq!(status, 200);
                samples.push(dt);
                total += dt;
            }
            total
        })
    });
    percentiles("cu_http/dry-run", &mut samples);

    // Messages are signed and scheduled outside the timed part.
    let mut samples = Vec::new();
    let mut last = String::new();
    group.bench_function("result/evaluate", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let item = eval(&wallet, &pid, "Counter = Counter + 1\nreturn Counter");
                let (status, _) =
                    conn.request("POST", "/", "application/octet-stream", &item.to_bytes());
                assert!((200..300).contains(&status));
                let path = format!("/result/{}?process-id={pid}", item.id());
                let t = Instant::now();
                let (status, _) = conn.request("GET", &path, "text/plain", b"");
                let dt = t.elapsed();
                assert_eq!(status, 200);
                samples.push(dt);
                total += dt;
                last = path;
            }
            total
        })
    });
    percentiles("cu_http/result/evaluate", &mut samples);

    let mut samples = Vec::new();
    group.bench_function("result/stored", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let (status, _) = conn.request("GET", &last, "text/plain", b"");
                let dt = t.elapsed();
                assert_eq!(status, 200);
                samples.push(dt);
                total += dt;
            }
            total
        })
    });
    percentiles("cu_http/result/stored", &mut samples);
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
