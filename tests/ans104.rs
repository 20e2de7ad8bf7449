//! ANS-104 data items made by AO's JavaScript reference (arbundles): aocu parses them, computes
//! the same IDs, owners, tags and deep hashes, verifies their signatures, re-serializes them
//! byte for byte, and refuses tampered copies, for every signature type AO uses (1 Arweave,
//! 2 ed25519, 3 Ethereum, 4 Solana, 7 typed Ethereum); types 5 and 6 and unknown numbers are
//! refused by name. Items signed here are read back by arbundles (`tests/node/verify-items.mjs`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod prereq;

use std::path::PathBuf;
use std::sync::Arc;

use aocu::ao::signature::VERIFIED;
use aocu::ao::{
    DataItem, ItemError, SignatureType, Signer, Tag, Wallet, b64url, b64url_decode, bundle,
};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ans104")
}

fn load(name: &str) -> (Vec<u8>, serde_json::Value) {
    let dir = fixtures();
    let bytes = std::fs::read(dir.join(format!("{name}.bin"))).unwrap();
    let meta = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
    (bytes, serde_json::from_str(&meta).unwrap())
}

#[test]
fn arweave_items_match_the_reference() {
    for name in ["message", "process", "bare", "binary"] {
        let (bytes, meta) = load(name);
        assert_eq!(meta["js_verified"], true, "{name}");
        let item = DataItem::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(item.id(), meta["id"], "{name}");
        assert_eq!(item.id().len(), 43);
        assert_eq!(item.owner_b64(), meta["owner"], "{name}");
        assert_eq!(item.owner_address(), meta["owner_address"], "{name}");
        // AO's CU keeps the SU's address for every key but a 65-byte Ethereum one.
        assert_eq!(item.ao_address(), item.owner_address(), "{name}");
        assert_eq!(item.signature_b64(), meta["signature"], "{name}");
        assert_eq!(
            item.target_id().unwrap_or_default(),
            meta["target"],
            "{name}"
        );
        let anchor = item.anchor.map(|a| b64url(&a)).unwrap_or_default();
        assert_eq!(anchor, meta["anchor"], "{name}");
        assert_eq!(
            serde_json::to_value(&item.tags).unwrap(),
            meta["tags"],
            "{name}"
        );
        let data = b64url_decode(meta["data_b64url"].as_str().unwrap()).unwrap();
        assert_eq!(item.data, data, "{name}");
        assert_eq!(
            hex::encode(item.deep_hash()),
            meta["deep_hash_hex"],
            "{name}"
        );
        item.verify().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(item.to_bytes(), bytes, "{name}: re-serialization");

        // Any flipped bit of the signed content breaks the signature.
        let mut tampered = bytes.clone();
        let at = bytes.len() - 1;
        tampered[at] ^= 0x01;
        assert!(matches!(
            DataItem::parse_verified(&tampered),
            Err(ItemError::BadSignature) | Err(ItemError::Malformed { .. })
        ));
        let mut bad_sig = bytes.clone();
        bad_sig[100] ^= 0x80;
        assert_eq!(
            DataItem::parse_verified(&bad_sig).unwrap_err(),
            ItemError::BadSignature
        );
    }
}

#[test]
fn the_process_fixture_carries_ao_tags() {
    let (bytes, _) = load("process");
    let item = DataItem::parse_verified(&bytes).unwrap();
    assert_eq!(item.tags.get("Type"), Some("Process"));
    assert_eq!(item.target, None);
    let (bytes, _) = load("message");
    let item = DataItem::parse_verified(&bytes).unwrap();
    assert_eq!(item.tags.get("Unicode"), Some("héllo ✓ 😀"));
    assert_eq!(
        item.anchor_text().as_deref(),
        Some("00000000000000000000000000001234")
    );
}

/// The fixtures of the other signature types, with their wire numbers.
const TYPED: [(&str, u16); 4] = [
    ("ed25519", 2),
    ("ethereum", 3),
    ("solana", 4),
    ("typed_ethereum", 7),
];

/// Where each signed field lies in an item's bytes.
/// For ECDSA (types 3 and 7) the signature range is `r ‖ s`: the last byte, `v`, is not signed
/// (see `ecdsa_v_is_read_as_arbundles_reads_it`).
fn field_ranges(item: &DataItem, len: usize) -> Vec<(&'static str, std::ops::Range<usize>)> {
    let sig_end = 2 + item.signature.len();
    let signed_sig_end = match item.signature_type {
        SignatureType::Ethereum | SignatureType::TypedEthereum => sig_end - 1,
        _ => sig_end,
    };
    let owner_end = sig_end + item.owner.len();
    let data_start = len - item.data.len();
    let tags_start = data_start - item.raw_tags().len();
    vec![
        ("signature", 2..signed_sig_end),
        ("owner", sig_end..owner_end),
        ("tag", tags_start..data_start),
        ("data", data_start..len),
    ]
}

#[test]
fn every_signature_type_matches_the_reference() {
    for (name, number) in TYPED {
        let (bytes, meta) = load(name);
        assert_eq!(meta["js_verified"], true, "{name}");
        let item = DataItem::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(item.signature_type.as_u16(), number, "{name}");
        assert_eq!(u64::from(number), meta["signature_type"], "{name}");
        assert_eq!(item.id(), meta["id"], "{name}");
        assert_eq!(item.owner_b64(), meta["owner"], "{name}");
        assert_eq!(item.signature_b64(), meta["signature"], "{name}");
        assert_eq!(item.owner_address(), meta["owner_address"], "{name}");
        assert_eq!(item.ao_address(), meta["ao_address"], "{name}");
        assert_eq!(item.target_id().unwrap_or_default(), meta["target"]);
        let anchor = item.anchor.map(|a| b64url(&a)).unwrap_or_default();
        assert_eq!(anchor, meta["anchor"], "{name}");
        assert_eq!(serde_json::to_value(&item.tags).unwrap(), meta["tags"]);
        let data = b64url_decode(meta["data_b64url"].as_str().unwrap()).unwrap();
        assert_eq!(item.data, data, "{name}");
        assert_eq!(hex::encode(item.deep_hash()), meta["deep_hash_hex"]);
        item.verify().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(item.to_bytes(), bytes, "{name}: re-serialization");

        // One flipped byte in each signed field: arbundles refused each copy, and so must we.
        let ranges = field_ranges(&item, bytes.len());
        for (field, range) in &ranges {
            let flip = &meta["tampered"][field];
            assert_eq!(flip["js_verified"], false, "{name} {field}");
            let at = flip["offset"].as_u64().unwrap() as usize;
            assert!(
                range.contains(&at),
                "{name}: offset {at} is not in the {field}"
            );
            for at in [at, range.start, range.end - 1] {
                let mut tampered = bytes.clone();
                tampered[at] ^= 0x01;
                let refused = DataItem::parse_verified(&tampered);
                assert!(
                    matches!(
                        refused,
                        Err(ItemError::BadSignature) | Err(ItemError::Malformed { .. })
                    ),
                    "{name}: a flipped byte at {at} ({field}) gave {refused:?}"
                );
            }
        }
    }
}

#[test]
fn ecdsa_v_is_read_as_arbundles_reads_it() {
    // Type 3: arbundles' `EthereumSigner.verify` drops `v` (`ecdsaVerify(r ‖ s)`), so another
    // `v` still verifies (with another ID: the ID hashes all 65 bytes).
    let (bytes, _) = load("ethereum");
    let v_at = 2 + 64;
    let mut other_v = bytes.clone();
    other_v[v_at] ^= 0x01;
    let item = DataItem::parse_verified(&other_v).unwrap();
    assert_ne!(item.id(), DataItem::parse(&bytes).unwrap().id());
    // Type 7: `verifyTypedData` recovers the key with `v`'s parity: another parity is another
    // key, and is refused; 0/1 for 27/28 is the same key.
    let (bytes, _) = load("typed_ethereum");
    let mut other_v = bytes.clone();
    other_v[v_at] = if bytes[v_at] == 27 { 28 } else { 27 };
    assert_eq!(
        DataItem::parse_verified(&other_v).unwrap_err(),
        ItemError::BadSignature
    );
    let mut recid = bytes.clone();
    recid[v_at] -= 27;
    DataItem::parse_verified(&recid).unwrap();
}

#[test]
fn ed25519_and_solana_sign_different_messages() {
    // Types 2 and 4 share key and signature lengths: the same bytes under the other type
    // number do not verify (the deep hash names the type, and type 4 signs its hex text).
    for (name, other) in [("ed25519", 4u8), ("solana", 2)] {
        let (mut bytes, _) = load(name);
        bytes[0] = other;
        let item = DataItem::parse(&bytes).unwrap();
        assert_eq!(item.verify(), Err(ItemError::BadSignature), "{name}");
    }
}

/// An item of signature type `number` with zero-filled signature and owner of `lengths`.
fn raw_item(number: u16, (sig_len, owner_len): (usize, usize)) -> Vec<u8> {
    let mut bytes = number.to_le_bytes().to_vec();
    bytes.extend(std::iter::repeat_n(0u8, sig_len + owner_len));
    bytes.extend([0, 0]);
    bytes.extend([0u8; 16]);
    bytes.extend(b"some data");
    bytes
}

#[test]
fn unsupported_and_unknown_types_are_refused_by_name() {
    for (number, name) in [(5u16, "injectedAptos"), (6, "multiAptos")] {
        let t = SignatureType::from_u16(number).unwrap();
        let bytes = raw_item(number, t.lengths());
        let item = DataItem::parse(&bytes).unwrap();
        let err = item.verify().unwrap_err();
        assert!(
            matches!(err, ItemError::Unsupported { number: n, .. } if n == number),
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains(&format!("{number} ({name})")), "{text}");
        assert!(text.contains("not supported"), "{text}");
        assert!(text.contains("7 (typedEthereum)"), "{text}");
    }
    for number in [0u16, 8, 99, u16::MAX] {
        let err = DataItem::parse(&raw_item(number, (64, 32))).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("signature type") && text.contains(&format!("unknown type {number}")),
            "{text}"
        );
    }
}

/// Items of every type signed here, as an AO message to `target`.
fn signed_here() -> Vec<(SignatureType, DataItem)> {
    VERIFIED
        .into_iter()
        .map(|t| {
            let signer = Signer::generate(t).unwrap().unwrap();
            let item = DataItem::signed_by(
                &signer,
                Some([5; 32]),
                Some(*b"aocu-signed-anchor-0000000000000"),
                vec![
                    Tag::new("Data-Protocol", "ao"),
                    Tag::new("Type", "Message"),
                    Tag::new("Action", t.name()),
                ],
                format!("signed by a {} key", t.name()).into_bytes(),
            )
            .unwrap();
            (t, item)
        })
        .collect()
}

#[test]
fn items_signed_here_verify_here_and_in_arbundles() {
    let items = signed_here();
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (t, item) in &items {
        assert_eq!(item.signature_type, *t);
        let bytes = item.to_bytes();
        let parsed = DataItem::parse_verified(&bytes).unwrap_or_else(|e| panic!("{t:?}: {e}"));
        assert_eq!(&parsed, item);
        let file = dir.path().join(format!("{}.bin", t.name()));
        std::fs::write(&file, &bytes).unwrap();
        files.push(file);
    }
    // AO's JavaScript reference reads and verifies each one, with the same ID.
    let Some(node_dir) = prereq::node_project() else {
        return;
    };
    let out = std::process::Command::new("node")
        .arg("verify-items.mjs")
        .args(&files)
        .current_dir(&node_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), items.len(), "{stdout}");
    for ((t, item), line) in items.iter().zip(&lines) {
        assert_eq!(line["verified"], true, "{t:?}: {line}");
        assert_eq!(line["id"], item.id(), "{t:?}");
        assert_eq!(line["owner"], item.owner_b64(), "{t:?}");
        assert_eq!(line["signature_type"], u64::from(t.as_u16()), "{t:?}");
    }
}

#[test]
fn truncated_items_name_the_field() {
    let (bytes, _) = load("message");
    let cases = [
        (1, "length"),
        (90, "signature"),
        (600, "owner"),
        (2 + 512 + 512 + 10, "target"),
        (2 + 1024 + 33 + 20, "anchor"),
        (2 + 1024 + 66 + 12, "tag bytes length"),
        (2 + 1024 + 66 + 16 + 5, "tags"),
    ];
    for (cut, field) in cases {
        let err = DataItem::parse(&bytes[..cut]).unwrap_err().to_string();
        assert!(err.contains(field), "cut at {cut}: {err}");
    }
}

/// Items the node signs (assignments, through the embedded SU, and any item its wallet makes)
/// verify with AO's JavaScript libraries (arbundles' `DataItem.verify` and arweave-js' RSA-PSS
/// check) and with aocu's own verifier; a copy with one flipped signature byte verifies with
/// neither.
#[test]
fn items_the_node_signs_verify_with_the_javascript_libraries() {
    let Some(node_dir) = prereq::node_project() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(aocu::store::Store::open(&dir.path().join("state")).unwrap());
    let wallet = Arc::new(Wallet::generate().unwrap());
    let module = aocu::store::ModuleRecord {
        id: "M".repeat(43),
        owner: None,
        tags: vec![Tag::new("Type", "Module")].into(),
        size: 4,
        added_at_ms: 0,
    };
    store.put_module(&module, b"\0asm").unwrap();
    let scheduler = aocu::sched::Scheduler::new(store.clone(), wallet.clone(), 0);
    let ao = |kind: &str| vec![Tag::new("Data-Protocol", "ao"), Tag::new("Type", kind)];
    let mut spawn_tags = ao("Process");
    spawn_tags.push(Tag::new("Module", &module.id));
    spawn_tags.push(Tag::new("Scheduler", wallet.address()));
    let spawn = DataItem::signed(&wallet, None, None, spawn_tags, b"1984".to_vec()).unwrap();
    let message = DataItem::signed(
        &wallet,
        Some(spawn.raw_id()),
        Some([b'a'; 32]),
        ao("Message"),
        b"return 1+1".to_vec(),
    )
    .unwrap();
    scheduler.submit(&spawn).unwrap();
    scheduler.submit(&message).unwrap();
    let pid = spawn.id();
    let mut items: Vec<DataItem> = (0..2)
        .map(|slot| {
            let raw = store.item(&pid, slot).unwrap().unwrap();
            bundle::decode(&raw).unwrap().remove(0)
        })
        .collect();
    assert!(
        items
            .iter()
            .all(|a| a.tags.get("Type") == Some("Assignment"))
    );
    items.push(message);

    let mut files = Vec::new();
    for (n, item) in items.iter().enumerate() {
        item.verify().expect("aocu verifies its own signature");
        let bytes = item.to_bytes();
        let mut flipped = bytes.clone();
        flipped[100] ^= 1; // inside the signature
        assert!(DataItem::parse_verified(&flipped).is_err());
        for (name, content) in [
            (format!("{n}.bin"), bytes),
            (format!("{n}-bad.bin"), flipped),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, content).unwrap();
            files.push(path);
        }
    }
    let script = node_dir.join("verify-items.mjs");
    let out = std::process::Command::new("node")
        .arg(&script)
        .args(&files)
        .current_dir(&node_dir)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), files.len(), "{stdout}");
    for (k, line) in lines.iter().enumerate() {
        let good = k % 2 == 0;
        assert_eq!(line["arbundles"], good, "{line}");
        assert_eq!(line["arweave"], good, "{line}");
        if good {
            assert_eq!(line["id"], items[k / 2].id(), "{line}");
        }
    }
}
