use std::sync::OnceLock;

use super::*;
use crate::ao::Tags;
use crate::store::ModuleRecord;
use serde_json::Value;

fn wallet() -> Arc<Wallet> {
    static W: OnceLock<Arc<Wallet>> = OnceLock::new();
    W.get_or_init(|| Arc::new(Wallet::generate().unwrap()))
        .clone()
}

fn t(name: &str, value: &str) -> Tag {
    Tag::new(name, value)
}

fn setup() -> (tempfile::TempDir, Scheduler, String) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let module = crate::ao::b64url(&[42; 32]);
    store
        .put_module(
            &ModuleRecord {
                id: module.clone(),
                owner: None,
                tags: Tags::new(),
                size: 4,
                added_at_ms: 0,
            },
            b"\0asm",
        )
        .unwrap();
    let sched = Scheduler::new(store, wallet(), 1_500_000);
    (dir, sched, module)
}

fn spawn_item(sched: &Scheduler, module: &str) -> DataItem {
    let tags = vec![
        t("Data-Protocol", "ao"),
        t("Variant", "ao.TN.1"),
        t("Type", "Process"),
        t("Module", module),
        t("Scheduler", sched.address()),
    ];
    DataItem::signed(&wallet(), None, None, tags, b"1984".to_vec()).unwrap()
}

fn message_item(pid: &str, n: u32) -> DataItem {
    let target = pid.parse::<crate::ao::Id>().unwrap().into_bytes();
    let tags = vec![
        t("Data-Protocol", "ao"),
        t("Type", "Message"),
        t("Action", "Eval"),
    ];
    let data = format!("return {n}").into_bytes();
    DataItem::signed(&wallet(), Some(target), None, tags, data).unwrap()
}

#[test]
fn slots_links_assignments_and_pages() {
    let (_dir, sched, module) = setup();
    let spawn = spawn_item(&sched, &module);
    let pid = spawn.id();
    let first = sched.submit(&spawn).unwrap();
    assert_eq!(first.assignment.slot, 0);
    assert_eq!(
        first.assignment.hash_chain,
        chain::first_link(&pid.parse().unwrap()).to_string()
    );
    assert!(matches!(
        sched.submit(&spawn),
        Err(SchedError::ProcessExists(_))
    ));

    let mut prev = su_api::entry(sched.store(), &pid, 0).unwrap().unwrap();
    assert!(prev.assignment.verify().is_ok());
    assert_eq!(prev.assignment.tags.get("Nonce"), Some("0"));
    assert_eq!(prev.assignment.tags.get("Message"), None);
    assert_eq!(
        prev.assignment.tags.get("Block-Height"),
        Some("000001500000")
    );
    assert_eq!(prev.assignment.owner_address(), sched.address());
    for n in 1..=4u32 {
        let msg = message_item(&pid, n);
        let scheduled = sched.submit(&msg).unwrap();
        assert_eq!(scheduled.assignment.slot, u64::from(n));
        let entry = su_api::entry(sched.store(), &pid, u64::from(n))
            .unwrap()
            .unwrap();
        assert!(entry.assignment.verify().is_ok());
        assert_eq!(entry.item, msg);
        assert_eq!(
            entry.assignment.tags.get("Message"),
            Some(msg.id().as_str())
        );
        // The link covers the previous *assignment*, as AO's SU and CU compute it.
        let link = chain::next_link(
            &prev.assignment.raw_id().into(),
            &prev
                .assignment
                .tags
                .get("Hash-Chain")
                .unwrap()
                .parse()
                .unwrap(),
        )
        .to_string();
        assert_eq!(entry.assignment.tags.get("Hash-Chain"), Some(link.as_str()));
        assert_eq!(scheduled.assignment.hash_chain, link);
        assert!(entry.timestamp > prev.timestamp);
        assert_eq!(scheduled.message["Data"], format!("return {n}"));
        assert_eq!(scheduled.message["From"], wallet().address());
        prev = entry;
        assert!(matches!(
            sched.submit(&msg),
            Err(SchedError::Duplicate { slot, .. }) if slot == u64::from(n)
        ));
    }

    let page = su_api::page(sched.store(), &pid, &su_api::PageQuery::default()).unwrap();
    let edges = page["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 5);
    assert_eq!(page["page_info"]["has_next_page"], false);
    assert_eq!(edges[0]["node"]["message"]["id"], pid);
    assert_eq!(edges[0]["node"]["message"]["target"], Value::Null);
    assert_eq!(edges[1]["node"]["message"]["data"], "return 1");

    // Paging by timestamp cursor and by nonce reaches every slot exactly once.
    let mut seen = Vec::new();
    let mut query = su_api::PageQuery {
        limit: Some(2),
        ..Default::default()
    };
    loop {
        let page = su_api::page(sched.store(), &pid, &query).unwrap();
        let edges = page["edges"].as_array().unwrap().clone();
        for e in &edges {
            seen.push(
                e["node"]["assignment"]["tags"][2]["value"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        if page["page_info"]["has_next_page"] != true {
            break;
        }
        query.from = Some(
            edges.last().unwrap()["cursor"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap(),
        );
    }
    assert_eq!(seen, ["0", "1", "2", "3", "4"]);
    let by_nonce = su_api::PageQuery {
        from_nonce: Some(1),
        to_nonce: Some(3),
        ..Default::default()
    };
    let page = su_api::page(sched.store(), &pid, &by_nonce).unwrap();
    let cursors: Vec<&str> = page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["cursor"].as_str().unwrap())
        .collect();
    assert_eq!(cursors, ["2", "3"]);
    assert_eq!(sched.store().process(&pid).unwrap().unwrap().next_slot, 5);
}

#[test]
fn refusals_store_nothing() {
    let (_dir, sched, module) = setup();
    let unknown = message_item(&crate::ao::b64url(&[9; 32]), 1);
    assert!(matches!(
        sched.submit(&unknown),
        Err(SchedError::UnknownProcess(_))
    ));

    let w = wallet();
    let no_type = DataItem::signed(&w, None, None, vec![t("Data-Protocol", "ao")], vec![]).unwrap();
    assert!(
        sched
            .submit(&no_type)
            .unwrap_err()
            .to_string()
            .contains("Type tag")
    );
    let no_proto = DataItem::signed(&w, None, None, vec![t("Type", "Process")], vec![]).unwrap();
    assert!(
        sched
            .submit(&no_proto)
            .unwrap_err()
            .to_string()
            .contains("Data-Protocol")
    );
    let link = DataItem::signed(
        &w,
        None,
        None,
        vec![
            t("Data-Protocol", "ao"),
            t("Type", "Message"),
            t("X", "y+link"),
        ],
        vec![],
    )
    .unwrap();
    assert!(
        sched
            .submit(&link)
            .unwrap_err()
            .to_string()
            .contains("+link")
    );
    let other_sched = DataItem::signed(
        &w,
        None,
        None,
        vec![
            t("Data-Protocol", "ao"),
            t("Type", "Process"),
            t("Module", &module),
            t("Scheduler", &crate::ao::b64url(&[1; 32])),
        ],
        vec![],
    )
    .unwrap();
    assert!(
        sched
            .submit(&other_sched)
            .unwrap_err()
            .to_string()
            .contains("Scheduler")
    );
    let no_module = DataItem::signed(
        &w,
        None,
        None,
        vec![
            t("Data-Protocol", "ao"),
            t("Type", "Process"),
            t("Module", &crate::ao::b64url(&[2; 32])),
            t("Scheduler", sched.address()),
        ],
        vec![],
    )
    .unwrap();
    assert!(
        sched
            .submit(&no_module)
            .unwrap_err()
            .to_string()
            .contains("Module")
    );
    assert!(sched.store().process_ids().unwrap().is_empty());
}

/// A schedule rendered as SU pages verifies back into the same items, page after page; a page
/// in the wrong order or from another scheduler is refused, naming the slot.
#[test]
fn su_pages_verify_back_into_the_schedule() {
    use remote::page::{self, Expect};
    let (_dir, sched, module) = setup();
    let spawn = spawn_item(&sched, &module);
    let pid = spawn.id();
    sched.submit(&spawn).unwrap();
    for n in 0..5 {
        sched.submit(&message_item(&pid, n)).unwrap();
    }
    let store = sched.store();
    let first = su_api::page(
        store,
        &pid,
        &su_api::PageQuery {
            limit: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    let first = page::parse(first.to_string().as_bytes()).unwrap();
    assert!(first.has_next);
    let expect = Expect {
        process: &pid,
        scheduler: sched.address(),
        next_slot: 0,
        previous: None,
        last_timestamp: 0,
    };
    let head = page::verify(&first.edges, &expect).unwrap();
    assert_eq!(head.len(), 2);
    assert_eq!(head[0].item.id(), pid);
    // The assignments' random binary anchors survive the JSON round trip.
    assert!(head.iter().all(|e| e.assignment.anchor.is_some()));

    let last = &head[1];
    let rest = su_api::page(
        store,
        &pid,
        &su_api::PageQuery {
            from: Some(last.timestamp),
            ..Default::default()
        },
    )
    .unwrap();
    let rest = page::parse(rest.to_string().as_bytes()).unwrap();
    assert!(!rest.has_next);
    let last_id = last.assignment.id();
    let expect = Expect {
        process: &pid,
        scheduler: sched.address(),
        next_slot: 2,
        previous: Some((&last_id, &last.hash_chain)),
        last_timestamp: last.timestamp,
    };
    let tail = page::verify(&rest.edges, &expect).unwrap();
    let stored = store.messages(&pid, 2, 5, 10).unwrap();
    assert_eq!(tail.len(), 4);
    for (entry, stored) in tail.iter().zip(&stored) {
        assert_eq!(entry.item.id(), stored.id);
        assert_eq!(entry.hash_chain, stored.assignment.hash_chain);
        assert_eq!(entry.timestamp, stored.assignment.timestamp);
    }

    // Two entries swapped: the first one out of place is named.
    let mut swapped = rest.edges.clone();
    swapped.swap(1, 2);
    let err = page::verify(&swapped, &expect).unwrap_err();
    assert!(err.to_string().contains("slot 3"), "{err}");
    // The right page, but the chain does not continue from what was kept.
    let wrong_previous = Expect {
        previous: Some((&pid, &last.hash_chain)),
        ..expect.clone()
    };
    let err = page::verify(&rest.edges, &wrong_previous).unwrap_err();
    assert!(err.to_string().contains("slot 2"), "{err}");
    assert!(err.to_string().contains("Hash-Chain"), "{err}");
    // Another scheduler's address: its assignments are not the scheduler's.
    let impostor = crate::ao::b64url(&[1; 32]);
    let err = page::verify(
        &rest.edges,
        &Expect {
            scheduler: &impostor,
            ..expect.clone()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("slot 2"), "{err}");
    assert!(err.to_string().contains("signed by"), "{err}");
}
