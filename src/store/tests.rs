use super::*;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn process(next_slot: u64) -> ProcessRecord {
    ProcessRecord {
        id: "P".repeat(43),
        owner: "O".repeat(43),
        module: "M".repeat(43),
        scheduler: "S".repeat(43),
        tags: vec![crate::ao::Tag::new("Type", "Process")].into(),
        next_slot,
        last_message_id: format!("msg-{}", next_slot.saturating_sub(1)),
        last_hash_chain: String::new(),
        last_timestamp: 1000 + next_slot,
    }
}

fn message(slot: u64) -> ScheduledMessage {
    ScheduledMessage {
        id: format!("msg-{slot}"),
        assignment: Assignment {
            process: "P".repeat(43),
            slot,
            epoch: 0,
            timestamp: 1000 + slot,
            block_height: 1,
            hash_chain: format!("link-{slot}"),
        },
        message: serde_json::json!({ "Data": format!("data {slot}") }),
    }
}

fn append(store: &Store, slot: u64) -> Result<ScheduledMessage, StoreError> {
    let pid = "P".repeat(43);
    store.append(&pid, Some(format!("raw {slot}").as_bytes()), |current| {
        assert_eq!(current.map(|p| p.next_slot).unwrap_or(0), slot);
        Ok((process(slot + 1), message(slot)))
    })
}

#[test]
fn schedule_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let pid = "P".repeat(43);
    {
        let store = Store::open(dir.path()).unwrap();
        for slot in 0..5 {
            append(&store, slot).unwrap();
        }
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.process(&pid).unwrap().unwrap().next_slot, 5);
    let page = store.messages(&pid, 1, 3, 10).unwrap();
    assert_eq!(
        page.iter().map(|m| m.assignment.slot).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(store.messages(&pid, 0, 100, 2).unwrap().len(), 2);
    assert_eq!(store.slot_of("msg-4", &pid).unwrap(), Some(4));
    assert_eq!(store.item(&pid, 2).unwrap().as_deref(), Some(&b"raw 2"[..]));
    assert_eq!(store.process_ids().unwrap(), vec![pid]);
}

#[test]
fn a_failed_append_writes_nothing() {
    let (_dir, store) = store();
    let pid = "P".repeat(43);
    append(&store, 0).unwrap();
    let err = store
        .append(&pid, Some(b"x"), |_| {
            Err(StoreError::Conflict("refused".into()))
        })
        .unwrap_err();
    assert!(err.to_string().contains("refused"));
    // A record whose next slot does not follow the message is refused too.
    let err = store
        .append(&pid, None, |_| Ok((process(7), message(1))))
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(store.process(&pid).unwrap().unwrap().next_slot, 1);
    assert_eq!(store.messages(&pid, 0, 10, 10).unwrap().len(), 1);
    assert_eq!(store.item(&pid, 1).unwrap(), None);
}

#[test]
fn results_checkpoints_and_modules() {
    let (_dir, store) = store();
    let pid = "P".repeat(43);
    for slot in 0..3 {
        let result = StoredResult {
            message_id: format!("msg-{slot}"),
            result: serde_json::json!({ "Output": slot }),
        };
        store.put_result(&pid, slot, &result).unwrap();
    }
    assert_eq!(store.result(&pid, 1).unwrap().unwrap().message_id, "msg-1");
    assert_eq!(store.results(&pid, 1, 9, 9).unwrap().len(), 2);
    assert_eq!(store.result(&pid, 9).unwrap(), None);
    let batch: Vec<(u64, StoredResult, Option<Charge>)> = (2..5)
        .map(|slot| {
            let result = serde_json::json!({ "Output": slot * 10 });
            let message_id = format!("msg-{slot}");
            (slot, StoredResult { message_id, result }, None)
        })
        .collect();
    assert_eq!(
        store.put_results(&pid, &batch).unwrap(),
        vec![false, true, true]
    );
    assert_eq!(store.result(&pid, 4).unwrap().unwrap().result["Output"], 40);

    store.put_checkpoint(&pid, 10, b"ten").unwrap();
    store.put_checkpoint(&pid, 20, b"twenty").unwrap();
    assert_eq!(
        store.latest_checkpoint(&pid, 15).unwrap(),
        None,
        "older ones are dropped"
    );
    assert_eq!(
        store.latest_checkpoint(&pid, 25).unwrap(),
        Some((20, b"twenty".to_vec()))
    );
    store.remove_checkpoint(&pid, 20).unwrap();
    assert_eq!(store.latest_checkpoint(&pid, 25).unwrap(), None);

    let module = ModuleRecord {
        id: "M".repeat(43),
        owner: None,
        tags: Default::default(),
        size: 4,
        added_at_ms: 1,
    };
    store.put_module(&module, b"\0asm").unwrap();
    assert_eq!(store.module(&module.id).unwrap(), Some(module.clone()));
    assert_eq!(store.module_bytes(&module.id).unwrap().unwrap(), b"\0asm");
    assert_eq!(store.module("nope").unwrap(), None);
}

#[test]
fn a_second_open_of_the_same_database_fails_clearly() {
    let (dir, _store) = store();
    let err = Store::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("aocu.redb"), "{err}");
}

fn charge(owner: &str, amount: u128, dry_run: bool) -> Charge {
    Charge {
        owner: owner.into(),
        dry_run,
        fuel: 10,
        memory_byte_ns: 3,
        amount,
    }
}

#[test]
fn charges_enter_the_ledger_once_with_their_new_results() {
    let (_dir, store) = store();
    let (p, q) = ("P".repeat(43), "Q".repeat(43));
    let stored = |slot: u64| StoredResult {
        message_id: format!("m{slot}"),
        result: serde_json::json!({}),
    };
    let batch = vec![
        (0, stored(0), Some(charge("alice", 5, false))),
        (1, stored(1), None),
        (2, stored(2), Some(charge("bob", 7, false))),
    ];
    assert_eq!(store.put_results(&p, &batch).unwrap(), vec![true; 3]);
    // The same slots again (evaluated again after a restart): stored, not charged.
    assert_eq!(store.put_results(&p, &batch).unwrap(), vec![false; 3]);
    store
        .put_results(&q, &[(0, stored(0), Some(charge("alice", 11, false)))])
        .unwrap();
    store.charge_dry_run(&q, &charge("bob", 2, true)).unwrap();

    let alice = store.account(AccountOf::Owner("alice")).unwrap();
    assert_eq!((alice.messages, alice.dry_runs, alice.charged), (2, 0, 16));
    assert_eq!((alice.fuel, alice.memory_byte_ns), (20, 6));
    let bob = store.account(AccountOf::Owner("bob")).unwrap();
    assert_eq!((bob.messages, bob.dry_runs, bob.charged), (1, 1, 9));
    assert_eq!(bob.charged_dry_runs, 2);
    let node = store.account(AccountOf::Node).unwrap();
    assert_eq!(node.charged, alice.charged + bob.charged);
    assert_eq!(node.messages, 3);
    let (by_p, by_q) = (
        store.account(AccountOf::Process(&p)).unwrap(),
        store.account(AccountOf::Process(&q)).unwrap(),
    );
    assert_eq!((by_p.charged, by_q.charged), (12, 13));
    assert_eq!(
        store.account(AccountOf::Owner("carol")).unwrap(),
        Account::default()
    );
    // Amounts past 2^53 are kept whole (decimal strings in JSON).
    store
        .charge_dry_run(&q, &charge("carol", u128::from(u64::MAX) * 3, true))
        .unwrap();
    let carol = store.account(AccountOf::Owner("carol")).unwrap();
    assert_eq!(carol.charged, u128::from(u64::MAX) * 3);
    let json = serde_json::to_value(&carol).unwrap();
    assert_eq!(json["charged"], (u128::from(u64::MAX) * 3).to_string());
}
