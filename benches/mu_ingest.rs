//! Messages accepted per second by `POST /` (parsed, RSA-verified, assigned with a signed
//! assignment, durably committed), from this load generator process against `aocu serve` on
//! loopback, 1 and 8 concurrent clients. Baselines in the same run: verifying one item in
//! process, and signing one assignment (the two RSA operations on the ingest path).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Bench code: a panic is a failure.
#![allow(missing_docs)] // `criterion_group!` makes undocumented public functions.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aocu::ao::Tag;
use aocu::ao::{DataItem, Id, Wallet};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;

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

fn tag(name: &str, value: &str) -> Tag {
    Tag {
        name: name.into(),
        value: value.into(),
    }
}

fn post(addr: SocketAddr, path: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
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
        .unwrap();
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

fn messages(wallet: &Wallet, pid: &str, n: u64, seed: &mut u64) -> Vec<Vec<u8>> {
    let base = *seed;
    *seed += n;
    (base..base + n)
        .into_par_iter()
        .map(|i| {
            let tags = vec![
                tag("Data-Protocol", "ao"),
                tag("Type", "Message"),
                tag("Action", "Eval"),
            ];
            let data = format!("return {i}").into_bytes();
            DataItem::signed(
                wallet,
                pid.parse::<Id>().ok().map(Id::into_bytes),
                None,
                tags,
                data,
            )
            .unwrap()
            .to_bytes()
        })
        .collect()
}

fn ingest(c: &mut Criterion) {
    let wallet = Wallet::generate().unwrap();
    let node = start(&wallet);
    let wasm = wat::parse_str("(module (memory 1))").unwrap();
    let (status, body) = post(node.addr, "/~module@1.0", &wasm);
    assert_eq!(status, 200, "{body}");
    let module: serde_json::Value = serde_json::from_str(&body).unwrap();
    let spawn_tags = vec![
        tag("Data-Protocol", "ao"),
        tag("Type", "Process"),
        tag("Module", module["id"].as_str().unwrap()),
        tag("Scheduler", wallet.address()),
    ];
    let spawn = DataItem::signed(&wallet, None, None, spawn_tags, b"1".to_vec()).unwrap();
    let (status, body) = post(node.addr, "/", &spawn.to_bytes());
    assert_eq!(status, 202, "{body}");
    let pid = spawn.id();
    let mut seed = 0u64;

    let mut group = c.benchmark_group("mu_ingest");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(1));
    for clients in [1usize, 8] {
        group.bench_function(format!("post_message_{clients}_clients"), |b| {
            b.iter_custom(|iters| {
                let items = messages(&wallet, &pid, iters, &mut seed);
                let addr = node.addr;
                let start = Instant::now();
                std::thread::scope(|s| {
                    for chunk in items.chunks(items.len().div_ceil(clients).max(1)) {
                        s.spawn(move || {
                            for item in chunk {
                                let (status, body) = post(addr, "/", item);
                                assert_eq!(status, 202, "{body}");
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
    }
    let one = messages(&wallet, &pid, 1, &mut seed).remove(0);
    group.bench_function("baseline_verify_in_process", |b| {
        b.iter(|| DataItem::parse_verified(&one).unwrap())
    });
    group.bench_function("baseline_sign_assignment", |b| {
        b.iter(|| {
            DataItem::signed(&wallet, None, None, vec![tag("Type", "Assignment")], vec![]).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
