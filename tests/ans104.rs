//! ANS-104 data items made by AO's JavaScript reference (arbundles): aocu parses them, computes
//! the same IDs, owners, tags and deep hashes, verifies their signatures, re-serializes them
//! byte for byte, and refuses tampered copies and signature types it cannot verify yet.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod prereq;

use std::path::PathBuf;
use std::sync::Arc;

use aocu::ao::{DataItem, ItemError, Tag, Wallet, b64url, b64url_decode, bundle};

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

#[test]
fn other_signature_types_parse_but_are_not_supported_yet() {
    for (name, number) in [("ethereum", 3u16), ("ed25519", 2)] {
        let (bytes, meta) = load(name);
        let item = DataItem::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(item.id(), meta["id"], "{name}");
        assert_eq!(
            u64::from(item.signature_type.as_u16()),
            meta["signature_type"]
        );
        let err = item.verify().unwrap_err();
        assert!(
            matches!(err, ItemError::Unsupported { number: n, .. } if n == number),
            "{name}: {err}"
        );
        assert!(err.to_string().contains("not supported yet"), "{err}");
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
