//! Lookups across processes, for the gateway's GraphQL: every module, and where a message ID
//! was scheduled.

use redb::{ReadableDatabase, ReadableTable};

use super::{MESSAGE_INDEX, MODULES, ModuleRecord, Store, StoreError, decode};

impl Store {
    /// Every stored module's record, in ID order.
    pub fn modules(&self) -> Result<Vec<ModuleRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(MODULES)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            out.push(decode(value.value(), &format!("module {}", key.value()))?);
        }
        Ok(out)
    }

    /// The processes a message was scheduled on and its slot in each, in process ID order.
    pub fn message_locations(&self, message_id: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(MESSAGE_INDEX)?;
        let mut out = Vec::new();
        // Keys are (message id, process id): all of one message's keys are contiguous from
        // (id, "").
        for entry in table.range((message_id, "")..)? {
            let (key, slot) = entry?;
            let (id, process) = key.value();
            if id != message_id {
                break;
            }
            out.push((process.to_string(), slot.value()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{Assignment, ModuleRecord, ProcessRecord, ScheduledMessage, Store};

    fn module(id: &str) -> ModuleRecord {
        ModuleRecord {
            id: id.to_string(),
            owner: None,
            tags: Default::default(),
            size: 3,
            added_at_ms: 1,
        }
    }

    fn append(store: &Store, process: &str, message: &str) -> u64 {
        let scheduled = store
            .append(process, None, |current| {
                let slot = current.as_ref().map_or(0, |p| p.next_slot);
                let record = ProcessRecord {
                    id: process.to_string(),
                    owner: "O".into(),
                    module: "M".into(),
                    scheduler: "S".into(),
                    tags: Default::default(),
                    next_slot: slot + 1,
                    last_message_id: message.to_string(),
                    last_hash_chain: String::new(),
                    last_timestamp: slot,
                };
                let msg = ScheduledMessage {
                    id: message.to_string(),
                    assignment: Assignment {
                        process: process.to_string(),
                        slot,
                        epoch: 0,
                        timestamp: slot,
                        block_height: 0,
                        hash_chain: String::new(),
                    },
                    message: serde_json::json!({}),
                };
                Ok((record, msg))
            })
            .unwrap();
        scheduled.assignment.slot
    }

    #[test]
    fn lists_modules_and_locates_messages() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.modules().unwrap().is_empty());
        store.put_module(&module("b"), b"wsm").unwrap();
        store.put_module(&module("a"), b"wsm").unwrap();
        let ids: Vec<String> = store.modules().unwrap().into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["a", "b"]);

        append(&store, "P1", "P1");
        append(&store, "P1", "m");
        append(&store, "P2", "P2");
        append(&store, "P2", "m");
        append(&store, "P2", "m2");
        // "m" was assigned to both processes; "m2" (a longer ID with "m" as prefix) is not it.
        assert_eq!(
            store.message_locations("m").unwrap(),
            [("P1".to_string(), 1), ("P2".to_string(), 1)]
        );
        assert_eq!(
            store.message_locations("m2").unwrap(),
            [("P2".to_string(), 2)]
        );
        assert!(store.message_locations("x").unwrap().is_empty());
    }
}
