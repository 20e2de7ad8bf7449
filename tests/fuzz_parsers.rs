//! Property-based fuzzing (proptest, stable Rust) of the parsers that read untrusted bytes:
//! ANS-104 data items, bundles, remote SU pages, the legacy exception-handling translator, URL
//! path segments and query strings (the GraphQL subset has its own, in `src/gateway/fuzz.rs`). Each gets random input and mutations of valid input (fixtures made by
//! AO's JavaScript reference, or items signed here with the crate's own wallet and scheduler);
//! the properties are that nothing panics, that whatever parses serializes back to the same
//! bytes, and that valid input round-trips.
//!
//! Each property runs 256 cases by default (the whole file takes well under a minute in the dev
//! profile); `AOCU_FUZZ_CASES=100000 cargo test --release --test fuzz_parsers` runs more. A
//! failure prints the smallest input proptest could shrink it to.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use aocu::ao::{
    DataItem, SignatureType, Signer, Wallet, b64url, b64url_decode, bundle, sha256, signature,
};
use aocu::sched::Scheduler;
use aocu::sched::remote::page::{self, Expect, VerifiedEntry};
use aocu::sched::su_api::{self, PageQuery};
use aocu::store::Store;
use aocu::wasm::legacy_eh::{translate, uses_legacy_eh};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Value, json};
use wasmparser::{Validator, WasmFeatures};

/// Cases per property: `AOCU_FUZZ_CASES`, else 256.
fn cases() -> u32 {
    std::env::var("AOCU_FUZZ_CASES")
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(256)
}

fn config() -> Config {
    Config {
        cases: cases(),
        // A failing case is printed (shrunk); CI's checkout is read-only to it anyway.
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Byte mutations.

/// One edit of a byte string; positions are taken modulo its length.
#[derive(Debug, Clone)]
enum Mutation {
    /// Set one byte.
    Set(usize, u8),
    /// XOR one byte with a non-zero mask.
    Flip(usize, u8),
    /// Insert bytes.
    Insert(usize, Vec<u8>),
    /// Remove up to n bytes.
    Remove(usize, usize),
    /// Cut the tail off.
    Truncate(usize),
    /// Overwrite 8 bytes with a little-endian length-like value.
    Word(usize, u64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let word = prop_oneof![
        Just(0u64),
        Just(1),
        Just(u32::MAX as u64),
        Just(u64::MAX),
        0u64..4096,
        any::<u64>(),
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), 1u8..).prop_map(|(i, m)| Mutation::Flip(i, m)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Remove(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), word).prop_map(|(i, w)| Mutation::Word(i, w)),
    ]
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..4)
}

fn mutate(seed: &[u8], edits: &[Mutation]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for edit in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match edit {
            Mutation::Set(i, b) if !out.is_empty() => {
                let i = at(*i, out.len());
                out[i] = *b;
            }
            Mutation::Flip(i, m) if !out.is_empty() => {
                let i = at(*i, out.len());
                out[i] ^= *m;
            }
            Mutation::Insert(i, bytes) => {
                let i = at(*i, out.len() + 1);
                out.splice(i..i, bytes.iter().copied());
            }
            Mutation::Remove(i, n) if !out.is_empty() => {
                let i = at(*i, out.len());
                let end = (i + n).min(out.len());
                out.drain(i..end);
            }
            Mutation::Truncate(n) => {
                let n = at(*n, out.len() + 1);
                out.truncate(n);
            }
            Mutation::Word(i, w) if out.len() >= 8 => {
                let i = at(*i, out.len() - 7);
                out[i..i + 8].copy_from_slice(&w.to_le_bytes());
            }
            _ => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// ANS-104 data items.

/// The fixture items made by AO's JavaScript reference (every signature type aocu parses).
fn item_seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ans104");
        [
            "message",
            "process",
            "bare",
            "binary",
            "ed25519",
            "ethereum",
            "solana",
            "typed_ethereum",
        ]
        .iter()
        .map(|name| {
            let path = dir.join(format!("{name}.bin"));
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
    })
}

/// Parse `bytes`; what parses must serialize back to exactly `bytes`, and every accessor must
/// work on it. Returns the item.
fn check_item(bytes: &[u8]) -> Option<DataItem> {
    let item = DataItem::parse(bytes).ok()?;
    assert_eq!(
        item.to_bytes(),
        bytes,
        "parse then serialize changed the bytes"
    );
    let _ = (item.id(), item.owner_address(), item.target_id());
    let _ = item.ao_address();
    let _ = (
        item.anchor_text(),
        item.anchor_field(),
        item.tags.get("Action"),
    );
    let _ = item.verify();
    Some(item)
}

#[test]
fn valid_items_round_trip() {
    for seed in item_seeds() {
        let item = check_item(seed).expect("a fixture item parses");
        assert_eq!(DataItem::parse(&item.to_bytes()).unwrap().id(), item.id());
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn items_from_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_item(&bytes);
    }

    #[test]
    fn items_from_random_bytes_with_a_valid_signature_type(
        kind in 1u16..=7,
        rest in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = kind.to_le_bytes().to_vec();
        bytes.extend(rest);
        check_item(&bytes);
    }

    #[test]
    fn items_from_mutated_fixtures(seed in 0..8usize, edits in mutations()) {
        let original = &item_seeds()[seed];
        let bytes = mutate(original, &edits);
        if let Some(item) = check_item(&bytes)
            && item.verify().is_ok()
            && bytes != *original
        {
            prop_assert!(
                signs_the_same_content(&item, &DataItem::parse(original).unwrap()),
                "a mutated item still verifies: {bytes:?}"
            );
        }
    }
}

/// Whether `changed`, a changed item that verifies, signs what `original` signs with the same
/// key and differs only in the one byte arbundles does not check: the `v` of an Ethereum
/// signature (type 3 does not read it; type 7 reads only its recovery bit). Anything else
/// that verifies after a change is a forgery.
fn signs_the_same_content(changed: &DataItem, original: &DataItem) -> bool {
    let reads_all_of_v = !matches!(
        changed.signature_type,
        SignatureType::Ethereum | SignatureType::TypedEthereum
    );
    let rs = signature::ethereum::SIGNATURE_LEN - 1;
    !reads_all_of_v
        && changed.signature_type == original.signature_type
        && changed.owner == original.owner
        && changed.deep_hash() == original.deep_hash()
        && changed.signature.len() == original.signature.len()
        && changed.signature[..rs] == original.signature[..rs]
}

/// A fixture of each verified type, parsed: its owner, deep hash and signature are the seeds of
/// the verifier cases below.
fn typed_seeds() -> &'static [DataItem] {
    static SEEDS: OnceLock<Vec<DataItem>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        [0usize, 4, 5, 6, 7]
            .iter()
            .map(|&i| DataItem::parse(&item_seeds()[i]).expect("fixture"))
            .collect()
    })
}

proptest! {
    #![proptest_config(config())]

    /// Every verifier, on arbitrary owner, message and signature bytes of any length: an
    /// answer (almost surely `false`), never a panic.
    #[test]
    fn signature_verifiers_on_random_bytes(
        kind in 1u16..=7,
        owner in prop::collection::vec(any::<u8>(), 0..600),
        message in prop::collection::vec(any::<u8>(), 0..100),
        sig in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let t = SignatureType::from_u16(kind).expect("1..=7");
        let mut deep_hash = [0u8; 48];
        for (d, m) in deep_hash.iter_mut().zip(&message) {
            *d = *m;
        }
        let verdict = signature::verify(t, &owner, &deep_hash, &sig);
        prop_assert_eq!(verdict.is_some(), t.is_verified());
        let _ = signature::ao_address(&owner);
        let _ = signature::ethereum::verify(&owner, &message, &sig);
        let _ = signature::ed25519::verify(&owner, &message, &sig);
        let _ = signature::solana::verify(&owner, &message, &sig);
        let _ = signature::typed_ethereum::verify(&owner, &message, &sig);
        let _ = signature::typed_ethereum::parse_owner(&owner);
        let _ = signature::ethereum::verifying_key(&owner);
    }

    /// A real owner and signature with some bytes changed: no panic, and no change to the owner,
    /// the signature or the signed deep hash still verifies.
    #[test]
    fn signature_verifiers_on_mutated_fixtures(
        seed in 0..5usize,
        part in 0..3usize,
        edits in mutations(),
    ) {
        let item = &typed_seeds()[seed];
        let deep_hash = item.deep_hash();
        let mut owner = item.owner.clone();
        let mut sig = item.signature.clone();
        let mut hash = deep_hash.to_vec();
        let target = match part {
            0 => &mut owner,
            1 => &mut sig,
            _ => &mut hash,
        };
        *target = mutate(target, &edits);
        let mut signed = [0u8; 48];
        let same_len = hash.len() == 48;
        if same_len {
            signed.copy_from_slice(&hash);
        }
        let t = item.signature_type;
        let verdict = signature::verify(t, &owner, &signed, &sig);
        let unchanged = owner == item.owner && sig == item.signature && signed == deep_hash;
        if verdict == Some(true) && !unchanged {
            // What may change and still verify: ECDSA's v byte, which is not signed (type 3
            // ignores it, type 7 reads its parity), the other spelling of the same key (a
            // hybrid 0x06/0x07 secp256k1 point; an address in another case).
            let ecdsa = matches!(t, SignatureType::Ethereum | SignatureType::TypedEthereum);
            let same_key = owner == item.owner
                || (t == SignatureType::Ethereum && owner[1..] == item.owner[1..])
                || (t == SignatureType::TypedEthereum && owner.eq_ignore_ascii_case(&item.owner));
            let same_rs = sig == item.signature
                || (ecdsa && sig.len() == 65 && sig[..64] == item.signature[..64]);
            prop_assert!(
                same_key && same_rs && signed == deep_hash,
                "a changed {:?} item still verifies", t
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bundles.

/// Bundles of the fixture items: one, two, and all of them.
fn bundle_seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let items: Vec<DataItem> = item_seeds()
            .iter()
            .map(|b| DataItem::parse(b).expect("fixture"))
            .collect();
        let refs: Vec<&DataItem> = items.iter().collect();
        vec![
            bundle::encode(&refs[..1]),
            bundle::encode(&refs[1..3]),
            bundle::encode(&refs),
            bundle::encode(&[]),
        ]
    })
}

/// Decode `bytes`; a bundle that decodes must be re-encoded as the bytes it was read from.
fn check_bundle(bytes: &[u8]) {
    if let Ok(items) = bundle::decode(bytes) {
        let refs: Vec<&DataItem> = items.iter().collect();
        let again = bundle::encode(&refs);
        assert!(
            bytes.starts_with(&again),
            "a decoded bundle does not encode back to its bytes"
        );
    }
}

#[test]
fn valid_bundles_round_trip() {
    for seed in bundle_seeds() {
        let items = bundle::decode(seed).expect("a bundle of fixtures decodes");
        let refs: Vec<&DataItem> = items.iter().collect();
        assert_eq!(&bundle::encode(&refs), seed);
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn bundles_from_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        check_bundle(&bytes);
    }

    #[test]
    fn bundles_from_a_random_header(
        count in 0u64..5,
        sizes in prop::collection::vec(0u64..4096, 0..5),
        rest in prop::collection::vec(any::<u8>(), 0..1024),
    ) {
        // A count and sizes that mostly fit, so decoding gets past the header.
        let mut bytes = [count.to_le_bytes().to_vec(), vec![0; 24]].concat();
        for size in sizes {
            bytes.extend(size.to_le_bytes());
            bytes.extend([0u8; 24 + 32]);
        }
        bytes.extend(rest);
        check_bundle(&bytes);
    }

    #[test]
    fn bundles_from_mutated_bundles(seed in 0..4usize, edits in mutations()) {
        check_bundle(&mutate(&bundle_seeds()[seed], &edits));
    }
}

// ---------------------------------------------------------------------------------------------
// Remote SU pages (`sched::remote::page::parse`, then `verify`, as the remote SU client calls
// them on a fetched body).

/// The signature types of the page seed's messages, slots 1 to 4.
const MESSAGE_TYPES: [SignatureType; 4] = [
    SignatureType::Ed25519,
    SignatureType::Ethereum,
    SignatureType::Solana,
    SignatureType::TypedEthereum,
];

/// A schedule of a process (signed with an Arweave key) and four messages (one per other
/// signature type), signed here, as an SU page.
struct PageSeed {
    body: Vec<u8>,
    process: String,
    scheduler: String,
    /// The entries the page verifies into, as (assignment bytes, item bytes).
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    _dir: tempfile::TempDir,
}

fn page_seed() -> &'static PageSeed {
    static SEED: OnceLock<PageSeed> = OnceLock::new();
    SEED.get_or_init(|| {
        let wallet = Arc::new(Wallet::generate().expect("wallet"));
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(Store::open(dir.path()).expect("store"));
        // base64url of 32 bytes of 42.
        let module_id = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio";
        let record = serde_json::from_value(json!({
            "id": module_id, "owner": null, "tags": [], "size": 4, "added-at-ms": 0
        }))
        .expect("module record");
        store.put_module(&record, b"\0asm").expect("module");
        let sched = Scheduler::new(store.clone(), wallet.clone(), 1_500_000);
        let tags = |list: Value| -> aocu::ao::Tags { serde_json::from_value(list).expect("tags") };
        let spawn = DataItem::signed(
            &wallet,
            None,
            None,
            tags(json!([
                {"name": "Data-Protocol", "value": "ao"},
                {"name": "Variant", "value": "ao.TN.1"},
                {"name": "Type", "value": "Process"},
                {"name": "Module", "value": module_id},
                {"name": "Scheduler", "value": sched.address()},
            ])),
            b"1984".to_vec(),
        )
        .expect("spawn item");
        sched.submit(&spawn).expect("spawn");
        // One message of each other signature type: a page verifies them all.
        for (n, t) in MESSAGE_TYPES.into_iter().enumerate() {
            let signer = Signer::generate(t).expect("key").expect("a signed type");
            let message = DataItem::signed_by(
                &signer,
                Some(spawn.raw_id()),
                None,
                tags(json!([
                    {"name": "Data-Protocol", "value": "ao"},
                    {"name": "Type", "value": "Message"},
                    {"name": "Action", "value": "Eval"},
                ])),
                format!("return {n}").into_bytes(),
            )
            .expect("message item");
            sched.submit(&message).expect("message");
        }
        let process = spawn.id().to_string();
        let body = su_api::page(&store, &process, &PageQuery::default())
            .expect("page")
            .to_string()
            .into_bytes();
        let mut seed = PageSeed {
            body,
            process,
            scheduler: sched.address().to_string(),
            entries: Vec::new(),
            _dir: dir,
        };
        let verified = verify_page(&seed.body, &seed).expect("the page verifies");
        seed.entries = verified
            .iter()
            .map(|e| (e.assignment.to_bytes(), e.item.to_bytes()))
            .collect();
        assert_eq!(seed.entries.len(), 1 + MESSAGE_TYPES.len());
        seed
    })
}

/// Parse and verify a page body as the first page of the seed's process.
fn verify_page(body: &[u8], seed: &PageSeed) -> Option<Vec<VerifiedEntry>> {
    let parsed = page::parse(body).ok()?;
    let expect = Expect {
        process: &seed.process,
        scheduler: &seed.scheduler,
        next_slot: 0,
        previous: None,
        last_timestamp: 0,
    };
    for edge in &parsed.edges {
        let _ = page::nonce_of(&edge.1);
    }
    page::verify(&parsed.edges, &expect).ok()
}

/// Whatever verifies must be the schedule that was signed, entry for entry.
fn check_page(body: &[u8]) -> Result<(), TestCaseError> {
    let seed = page_seed();
    if let Some(entries) = verify_page(body, seed) {
        prop_assert!(entries.len() <= seed.entries.len());
        for (entry, (assignment, item)) in entries.iter().zip(&seed.entries) {
            prop_assert_eq!(&entry.assignment.to_bytes(), assignment);
            prop_assert_eq!(&entry.item.to_bytes(), item);
        }
    }
    Ok(())
}

/// Every node of a JSON tree, as a JSON pointer.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let escaped = k.replace('~', "~0").replace('/', "~1");
                pointers(v, format!("{at}/{escaped}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// A replacement for one JSON node.
fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n.to_string())),
        "[A-Za-z0-9_-]{0,64}".prop_map(Value::String),
        ".{0,16}".prop_map(Value::String),
        Just(json!({})),
        Just(json!([])),
    ]
}

#[test]
fn a_valid_page_round_trips() {
    let seed = page_seed();
    let entries = verify_page(&seed.body, seed).expect("the page verifies");
    assert_eq!(entries.len(), 1 + MESSAGE_TYPES.len());
    assert_eq!(entries[0].item.id().to_string(), seed.process);
    for (entry, t) in entries[1..].iter().zip(MESSAGE_TYPES) {
        // The page names no type: the lengths (and, for 2 and 4, the signature) found it.
        assert_eq!(entry.item.signature_type, t);
    }
}

#[test]
fn a_broken_signature_of_any_type_rejects_the_page() {
    let seed = page_seed();
    for (slot, t) in (1..).zip(MESSAGE_TYPES) {
        let mut page: Value = serde_json::from_slice(&seed.body).unwrap();
        let message = &mut page["edges"][slot]["node"]["message"];
        let mut sig = b64url_decode(message["signature"].as_str().unwrap()).unwrap();
        sig[10] ^= 1;
        // The claimed ID follows the signature, so that the signature check itself refuses it.
        message["id"] = json!(b64url(&sha256(&sig)));
        message["signature"] = json!(b64url(&sig));
        let parsed = page::parse(page.to_string().as_bytes()).unwrap();
        let expect = Expect {
            process: &seed.process,
            scheduler: &seed.scheduler,
            next_slot: 0,
            previous: None,
            last_timestamp: 0,
        };
        let err = page::verify(&parsed.edges, &expect)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("slot {slot} ")) && err.contains("bad signature"),
            "{t:?}: {err}"
        );
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn pages_from_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_page(&bytes)?;
    }

    #[test]
    fn pages_from_byte_mutations(edits in mutations()) {
        check_page(&mutate(&page_seed().body, &edits))?;
    }

    #[test]
    fn pages_with_one_json_node_replaced(pick in any::<usize>(), with in json_value()) {
        let mut page: Value = serde_json::from_slice(&page_seed().body).unwrap();
        let mut all = Vec::new();
        pointers(&page, String::new(), &mut all);
        let at = &all[pick % all.len()];
        if let Some(node) = page.pointer_mut(at) {
            *node = with;
        }
        check_page(page.to_string().as_bytes())?;
    }

    #[test]
    fn pages_with_one_json_key_removed(pick in any::<usize>()) {
        let mut page: Value = serde_json::from_slice(&page_seed().body).unwrap();
        let mut all = Vec::new();
        pointers(&page, String::new(), &mut all);
        let at = all[pick % all.len()].clone();
        if let Some((parent, key)) = at.rsplit_once('/') {
            match page.pointer_mut(parent) {
                Some(Value::Object(map)) => {
                    map.remove(&key.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(items)) => {
                    if let Ok(i) = key.parse::<usize>() {
                        items.remove(i);
                    }
                }
                _ => {}
            }
        }
        check_page(page.to_string().as_bytes())?;
    }
}

// ---------------------------------------------------------------------------------------------
// The legacy exception-handling translator.

/// Small modules using every legacy construct: `try`/`catch`, `catch_all`, `rethrow`,
/// `delegate`, nested and with values.
const LEGACY_EH: &[&str] = &[
    r#"(module (tag $a) (func try catch $a end))"#,
    r#"(module
        (tag $e (param i32 i64))
        (func (export "f") (param i32) (result i64) (local $x i64)
          try (result i64)
            local.get 0
            if
              local.get 0
              i64.const 40
              throw $e
            end
            i64.const 7
          catch $e
            local.set $x
            i64.extend_i32_s
            local.get $x
            i64.add
          end))"#,
    r#"(module
        (tag $a (param i32))
        (tag $b)
        (func $thrower (param i32)
          local.get 0
          i32.eqz
          if
            i32.const 1
            throw $a
          end
          throw $b)
        (func (export "f") (param i32) (result i32)
          try (result i32)
            local.get 0
            call $thrower
            i32.const 0
          catch $a
          catch_all
            i32.const 2
          end))"#,
    r#"(module
        (tag $a)
        (func (export "f") (result i32)
          try (result i32)
            try
              throw $a
            catch $a
              rethrow 0
            end
            i32.const 0
          catch_all
            i32.const 1
          end))"#,
    r#"(module
        (tag $a)
        (func (export "f") (result i32)
          try $outer (result i32)
            block
              try
                throw $a
              delegate $outer
            end
            i32.const 0
          catch $a
            i32.const 5
          end))"#,
];

fn legacy_seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        LEGACY_EH
            .iter()
            .map(|src| wat::parse_str(src).unwrap_or_else(|e| panic!("seed WAT: {e}")))
            .collect()
    })
}

/// What the translator writes: standard exceptions, no legacy ones.
fn output_features() -> WasmFeatures {
    (WasmFeatures::default()
        | WasmFeatures::EXCEPTIONS
        | WasmFeatures::MEMORY64
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::GC)
        - WasmFeatures::LEGACY_EXCEPTIONS
}

/// Translate `wasm`; a module it rewrites must validate and hold no legacy opcode, and a second
/// translation leaves it as it is.
fn check_translation(wasm: &[u8]) {
    let _ = uses_legacy_eh(wasm);
    if let Ok(Cow::Owned(out)) = translate(wasm) {
        if let Err(e) = Validator::new_with_features(output_features()).validate_all(&out) {
            panic!("a translated module does not validate: {e}");
        }
        assert!(!uses_legacy_eh(&out).expect("the output reads"));
        assert!(matches!(translate(&out), Ok(Cow::Borrowed(_))));
    }
}

#[test]
fn valid_legacy_modules_translate() {
    for seed in legacy_seeds() {
        assert!(uses_legacy_eh(seed).unwrap());
        let out = translate(seed).expect("translates");
        assert!(matches!(out, Cow::Owned(_)));
        check_translation(seed);
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn translation_of_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_translation(&bytes);
    }

    #[test]
    fn translation_of_random_sections(rest in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend(rest);
        check_translation(&wasm);
    }

    #[test]
    fn translation_of_mutated_modules(seed in 0..LEGACY_EH.len(), edits in mutations()) {
        check_translation(&mutate(&legacy_seeds()[seed], &edits));
    }
}

// ---------------------------------------------------------------------------------------------
// URL path segments.

/// Percent-encode everything but RFC 3986's unreserved characters.
fn encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn path_segments_of_any_path(path in ".{0,64}") {
        let _ = aocu::http::path_segments(&path);
    }

    #[test]
    fn path_segments_of_escape_soup(path in "[/%0-9A-Fa-f+\\-zZ~]{0,48}") {
        let _ = aocu::http::path_segments(&path);
    }

    #[test]
    fn encoded_segments_decode_back(segments in prop::collection::vec(".{1,12}", 0..6)) {
        let path: String = segments.iter().map(|s| format!("/{}", encode_segment(s))).collect();
        let decoded = aocu::http::path_segments(&path).expect("an encoded path decodes");
        prop_assert_eq!(decoded, segments);
    }
}

// ---- query strings (`http::query`, the one parser of every query string) ----

proptest! {
    #![proptest_config(config())]

    #[test]
    fn query_pairs_of_any_query(query in ".{0,96}") {
        let _ = aocu::http::query::query_pairs(Some(&query));
    }

    #[test]
    fn query_pairs_of_escape_soup(query in "[&=%0-9A-Fa-f+zZ\\-]{0,64}") {
        // A refused query names a parameter; an accepted one never decodes a broken escape.
        match aocu::http::query::query_pairs(Some(&query)) {
            Ok(pairs) => prop_assert!(pairs.len() <= query.split('&').count()),
            Err(e) => prop_assert!(e.to_string().contains("query parameter")),
        }
    }

    #[test]
    fn encoded_pairs_decode_back(
        pairs in prop::collection::vec((".{1,12}", ".{0,12}"), 0..6)
    ) {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter())
            .finish();
        let decoded = aocu::http::query::query_pairs(Some(&query)).expect("an encoded query decodes");
        prop_assert_eq!(decoded, pairs);
    }
}

// ---- HyperBEAM's aos-2 pages (`POST /result/{slot}` bodies, `/~scheduler@1.0/schedule`) ----

fn aos2_seed() -> Vec<u8> {
    let tag = |name: &str, value: &str| json!({"name": name, "value": value});
    json!({
        "page_info": {"process": "P", "has_next_page": false, "timestamp": "1750000000000",
            "block-height": "1500000", "block-hash": "H"},
        "edges": [{"cursor": 3, "node": {
            "message": {"Id": "M", "Anchor": "", "Owner": "O", "From": "O", "Target": "P",
                "Data": "return 1", "Signature": "S", "PublicKey": "",
                "Tags": [tag("Action", "Eval"), tag("From-Process", "Q")]},
            "assignment": {"Id": "A", "Tags": [tag("Process", "P"), tag("Epoch", "0"),
                tag("Nonce", "3"), tag("Hash-Chain", "C"), tag("Block-Height", "000001500000"),
                tag("Timestamp", "1750000000000"), tag("Skip", "true"),
                tag("Original-Assignment-Id", "B")]}
        }}]
    })
    .to_string()
    .into_bytes()
}

/// Whatever parses is a page whose edges carry their IDs and the fields a process sees.
fn check_aos2(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(page) = aocu::cu::hbu::page::parse(bytes) {
        prop_assert!(page.edges.len() <= aocu::cu::hbu::page::MAX_EDGES);
        for edge in &page.edges {
            prop_assert!(!edge.message_id.is_empty() && !edge.assignment_id.is_empty());
            prop_assert_eq!(edge.fields["Id"].as_str(), Some(edge.message_id.as_str()));
        }
    }
    Ok(())
}

#[test]
fn a_valid_aos2_page_parses() {
    let page = aocu::cu::hbu::page::parse(&aos2_seed()).unwrap();
    let edge = &page.edges[0];
    assert_eq!(
        (edge.slot, edge.block_height, edge.skip),
        (3, 1_500_000, true)
    );
    assert_eq!(edge.fields["From"], "Q");
    assert_eq!(edge.fields["Forwarded-By"], "O");
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn aos2_pages_from_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_aos2(&bytes)?;
    }

    #[test]
    fn aos2_pages_from_byte_mutations(edits in mutations()) {
        check_aos2(&mutate(&aos2_seed(), &edits))?;
    }

    #[test]
    fn aos2_pages_with_one_json_node_replaced(pick in any::<usize>(), with in json_value()) {
        let mut page: Value = serde_json::from_slice(&aos2_seed()).unwrap();
        let mut all = Vec::new();
        pointers(&page, String::new(), &mut all);
        let at = &all[pick % all.len()];
        if let Some(node) = page.pointer_mut(at) {
            *node = with;
        }
        check_aos2(page.to_string().as_bytes())?;
        // The same page as a JSON string holding it parses the same way.
        let wrapped = Value::String(page.to_string()).to_string();
        prop_assert_eq!(
            aocu::cu::hbu::page::parse(wrapped.as_bytes()).ok(),
            aocu::cu::hbu::page::parse(page.to_string().as_bytes()).ok()
        );
    }
}
