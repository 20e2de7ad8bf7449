//! What a process is fed: the message JSON and the environment JSON, built from a scheduled
//! message, its process and its module, with the field names and types of AO's legacy CU.
//!
//! The message is the data item's fields (`Id`, `Signature`, `Owner`, `From`, `Anchor`,
//! `Forwarded-By`, `Tags`, `Data`, `Target`) merged with the assignment's (`Epoch`, `Nonce`,
//! `Timestamp`, `Block-Height`, `Hash-Chain`), plus `Module` and `Cron: false`. The environment
//! is `{Process: {Id, Owner, Tags}, Module: {Id, Owner, Tags}}`.

use serde_json::{Map, Value, json};

use crate::store::{ModuleRecord, ProcessRecord, ScheduledMessage};

/// The message JSON for one scheduled message.
pub fn process_message(scheduled: &ScheduledMessage, module_id: &str) -> Value {
    let mut fields = match &scheduled.message {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let a = &scheduled.assignment;
    fields.insert("Id".into(), json!(scheduled.id));
    fields.insert("Epoch".into(), json!(a.epoch));
    fields.insert("Nonce".into(), json!(a.slot));
    fields.insert("Timestamp".into(), json!(a.timestamp));
    fields.insert("Block-Height".into(), json!(a.block_height));
    fields.insert("Hash-Chain".into(), json!(a.hash_chain));
    fields.insert("Module".into(), json!(module_id));
    fields.insert("Cron".into(), json!(false));
    fields.entry("Target").or_insert_with(|| json!(a.process));
    Value::Object(fields)
}

/// The environment JSON of a process.
pub fn process_env(process: &ProcessRecord, module: &ModuleRecord) -> Value {
    json!({
        "Process": {
            "Id": process.id,
            "Owner": process.owner,
            "Tags": process.tags.to_json(),
        },
        "Module": {
            "Id": module.id,
            "Owner": module.owner,
            "Tags": module.tags.to_json(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Assignment;

    #[test]
    fn assignment_fields_are_merged() {
        let scheduled = ScheduledMessage {
            id: "MSG".into(),
            assignment: Assignment {
                process: "PID".into(),
                slot: 3,
                epoch: 0,
                timestamp: 1_732_000_001_000,
                block_height: 1_500_001,
                hash_chain: "LINK".into(),
            },
            message: json!({ "Owner": "O", "Data": "return 1" }),
        };
        let m = process_message(&scheduled, "MOD");
        assert_eq!(m["Nonce"], 3);
        assert_eq!(m["Timestamp"], 1_732_000_001_000u64);
        assert_eq!(m["Block-Height"], 1_500_001);
        assert_eq!(m["Hash-Chain"], "LINK");
        assert_eq!(m["Module"], "MOD");
        assert_eq!(m["Target"], "PID");
        assert_eq!(m["Data"], "return 1");
    }
}
