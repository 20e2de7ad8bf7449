//! Data items verified per second on one core, per signature type (1 Arweave RSA-PSS-4096,
//! 2 ed25519, 3 Ethereum, 4 Solana, 7 typed Ethereum): `DataItem::verify` of an AO message
//! signed here (the deep hash included, as on the ingest path), and the bare deep hash of the
//! same item as the baseline that every type pays.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Bench code: a panic is a failure.
#![allow(missing_docs)] // `criterion_group!` makes undocumented public functions.

use aocu::ao::signature::VERIFIED;
use aocu::ao::{DataItem, Signer, Tag};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn item(signer: &Signer) -> DataItem {
    DataItem::signed_by(
        signer,
        Some([1; 32]),
        Some(*b"00000000000000000000000000000001"),
        vec![
            Tag::new("Data-Protocol", "ao"),
            Tag::new("Variant", "ao.TN.1"),
            Tag::new("Type", "Message"),
            Tag::new("Action", "Eval"),
        ],
        b"return 1 + 1".to_vec(),
    )
    .unwrap()
}

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(1));
    let items: Vec<DataItem> = VERIFIED
        .into_iter()
        .map(|t| item(&Signer::generate(t).unwrap().unwrap()))
        .collect();
    group.bench_function("deep hash only (baseline)", |b| {
        b.iter(|| std::hint::black_box(items[1].deep_hash()))
    });
    for item in &items {
        let name = format!(
            "type {} ({})",
            item.signature_type.as_u16(),
            item.signature_type.name()
        );
        group.bench_function(name, |b| b.iter(|| item.verify().unwrap()));
    }
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
