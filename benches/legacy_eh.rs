//! Load-time cost of the legacy exception-handling translation on the real `aos-2-pure.wasm`.
//!
//! Reported next to the cost of validating the same module alone with wasmparser (the
//! translation validates its input first), so the ratio shows what the rewrite itself adds.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Bench code: a panic is a failure.
#![allow(missing_docs)] // `criterion_group!` makes undocumented public functions.

use std::hint::black_box;
use std::path::PathBuf;

use aocu::wasm::legacy_eh::{translate, uses_legacy_eh};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wasmparser::{Validator, WasmFeatures};

fn module() -> Vec<u8> {
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    let shared = if beside.join("testdata").is_dir() {
        beside
    } else {
        PathBuf::from("/work/shared")
    };
    let path = shared.join("testdata/wasm/aos-2-pure.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bench(c: &mut Criterion) {
    let wasm = module();
    let mut g = c.benchmark_group("legacy_eh/aos-2-pure");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(wasm.len() as u64));
    g.bench_function("validate_only", |b| {
        b.iter(|| {
            Validator::new_with_features(WasmFeatures::all())
                .validate_all(black_box(&wasm))
                .unwrap()
        })
    });
    g.bench_function("uses_legacy_eh", |b| {
        b.iter(|| uses_legacy_eh(black_box(&wasm)).unwrap())
    });
    g.bench_function("translate", |b| {
        b.iter(|| translate(black_box(&wasm)).unwrap().len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
