//! The fields of a message as a process sees them: AO's JSON form of a data item (`Id`,
//! `Signature`, `Owner`, `From`, `Forwarded-By`, `Target`, `Anchor`, `Tags`, `Data`), with the
//! names and types of AO's legacy units. The scheduler stores these fields; the CU adds the
//! assignment's to them before a process runs.

use serde_json::{Map, Value, json};

use super::{DataItem, Tags};

/// The fields a process sees of `item` (its data as text, the way the SU serves it).
pub fn message_fields(item: &DataItem) -> Value {
    item_fields(
        &item.id(),
        &item.ao_address(),
        Some(&item.signature_b64()),
        item.target_id().as_deref(),
        item.anchor_text().as_deref(),
        &item.tags,
        Value::String(String::from_utf8_lossy(&item.data).into_owned()),
    )
}

/// The data-item fields of a message. `From` is the `From-Process` tag when present (a message
/// forwarded by a MU on a process' behalf), else the owner; then `Forwarded-By` is the signer.
pub fn item_fields(
    id: &str,
    owner_address: &str,
    signature: Option<&str>,
    target: Option<&str>,
    anchor: Option<&str>,
    tags: &Tags,
    data: Value,
) -> Value {
    let from_process = tags.get("From-Process").filter(|v| !v.is_empty());
    let mut fields = Map::new();
    fields.insert("Id".into(), json!(id));
    if let Some(signature) = signature {
        fields.insert("Signature".into(), json!(signature));
    }
    fields.insert("Owner".into(), json!(owner_address));
    fields.insert("From".into(), json!(from_process.unwrap_or(owner_address)));
    if tags.contains("From-Process") {
        fields.insert("Forwarded-By".into(), json!(owner_address));
    }
    if let Some(target) = target {
        fields.insert("Target".into(), json!(target));
    }
    if let Some(anchor) = anchor {
        fields.insert("Anchor".into(), json!(anchor));
    }
    fields.insert("Tags".into(), tags.to_json());
    fields.insert("Data".into(), data);
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ao::Tag;

    #[test]
    fn forwarded_messages_come_from_the_process() {
        let tags = Tags::from(vec![
            Tag::new("Action", "Eval"),
            Tag::new("From-Process", "PROC"),
        ]);
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
            &Tags::from(&tags[..1]),
            json!("x"),
        );
        assert_eq!(direct["From"], "SIGNER");
        assert!(direct.get("Forwarded-By").is_none());
        assert_eq!(direct["Tags"], json!([{"name": "Action", "value": "Eval"}]));
    }
}
