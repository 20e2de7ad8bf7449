//! What a process is fed: the message JSON and the environment JSON, built from a scheduled
//! message, its process and its module, with the field names and types of AO's legacy CU.
//!
//! The message is the data item's fields (`Id`, `Signature`, `Owner`, `From`, `Anchor`,
//! `Forwarded-By`, `Tags`, `Data`, `Target`) merged with the assignment's (`Epoch`, `Nonce`,
//! `Timestamp`, `Block-Height`, `Hash-Chain`), plus `Module` and `Cron: false`. The environment
//! is `{Process: {Id, Owner, Tags}, Module: {Id, Owner, Tags}}`.

use serde_json::{Map, Value, json};

use crate::store::{ModuleRecord, ProcessRecord, ScheduledMessage, Tag};

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
            "Tags": tags_json(&process.tags),
        },
        "Module": {
            "Id": module.id,
            "Owner": module.owner,
            "Tags": tags_json(&module.tags),
        },
    })
}

/// Tags as AO's JSON: `[{"name": ..., "value": ...}]` in their original order.
pub fn tags_json(tags: &[Tag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| json!({ "name": t.name, "value": t.value }))
            .collect(),
    )
}

/// The value of the first tag named `name`.
pub fn tag<'a>(tags: &'a [Tag], name: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.name == name)
        .map(|t| t.value.as_str())
}

/// The data-item fields of a message as the process sees them. `From` is the `From-Process`
/// tag when present (a message forwarded by a MU on a process' behalf), else the owner; then
/// `Forwarded-By` is the signer.
pub fn item_fields(
    id: &str,
    owner_address: &str,
    signature: Option<&str>,
    target: Option<&str>,
    anchor: Option<&str>,
    tags: &[Tag],
    data: Value,
) -> Value {
    let from_process = tag(tags, "From-Process").filter(|v| !v.is_empty());
    let mut fields = Map::new();
    fields.insert("Id".into(), json!(id));
    if let Some(signature) = signature {
        fields.insert("Signature".into(), json!(signature));
    }
    fields.insert("Owner".into(), json!(owner_address));
    fields.insert("From".into(), json!(from_process.unwrap_or(owner_address)));
    if tag(tags, "From-Process").is_some() {
        fields.insert("Forwarded-By".into(), json!(owner_address));
    }
    if let Some(target) = target {
        fields.insert("Target".into(), json!(target));
    }
    if let Some(anchor) = anchor {
        fields.insert("Anchor".into(), json!(anchor));
    }
    fields.insert("Tags".into(), tags_json(tags));
    fields.insert("Data".into(), data);
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Assignment;

    fn t(name: &str, value: &str) -> Tag {
        Tag {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn forwarded_messages_come_from_the_process() {
        let tags = vec![t("Action", "Eval"), t("From-Process", "PROC")];
        let fields = item_fields(
            "ID",
            "SIGNER",
            Some("sig"),
            Some("T"),
            None,
            &tags,
            json!("x"),
        );
        assert_eq!(fields["From"], "PROC");
        assert_eq!(fields["Forwarded-By"], "SIGNER");
        assert_eq!(fields["Owner"], "SIGNER");
        assert!(fields.get("Anchor").is_none());

        let direct = item_fields(
            "ID",
            "SIGNER",
            None,
            None,
            Some("A"),
            &tags[..1],
            json!("x"),
        );
        assert_eq!(direct["From"], "SIGNER");
        assert!(direct.get("Forwarded-By").is_none());
        assert_eq!(direct["Tags"], json!([{"name": "Action", "value": "Eval"}]));
    }

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
