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

use std::path::Path;
use std::time::{Duration, Instant};

use aocu::ao::Wallet;
use aocu::bench::dryrun::{Conn, LocalNode, eval_item, warm_process};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const AOS: &str = "../shared/testdata/wasm/aos-2-pure.wasm";

/// A node with a warm AOS process: (node, process id).
fn setup(wallet: &Wallet) -> (LocalNode, String) {
    let node = LocalNode::start(Path::new(env!("CARGO_BIN_EXE_aocu")), wallet).unwrap();
    let wasm = std::fs::read(AOS).expect("aos-2-pure.wasm");
    let pid = warm_process(&node, wallet, &wasm).unwrap();
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
    let mut conn = Conn::new(node.addr).unwrap();
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
                let (status, _) = conn
                    .request("POST", &dry_path, "application/json", dry_body.as_bytes())
                    .unwrap();
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
                let item =
                    eval_item(&wallet, &pid, "Counter = Counter + 1\nreturn Counter").unwrap();
                let (status, _) = conn
                    .request("POST", "/", "application/octet-stream", &item.to_bytes())
                    .unwrap();
                assert!((200..300).contains(&status));
                let path = format!("/result/{}?process-id={pid}", item.id());
                let t = Instant::now();
                let (status, _) = conn.request("GET", &path, "text/plain", b"").unwrap();
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
                let (status, _) = conn.request("GET", &last, "text/plain", b"").unwrap();
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
