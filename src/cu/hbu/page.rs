//! The aos-2 page HyperBEAM's scheduler writes (`lib_scheduler_formats:assignments_to_aos2`):
//! what arrives as the body of `POST /result/{slot}` and from
//! `GET {HB_URL}/~scheduler@1.0/schedule?...&accept=application/aos-2`.
//!
//! ```json
//! {"page_info": {"process", "has_next_page", "timestamp", "block-height", "block-hash"},
//!  "edges": [{"cursor": <slot>, "node": {"message": {...}, "assignment": {...}}}]}
//! ```
//!
//! An edge is read as AO's Node CU reads it (`servers/cu/src/effects/hb/index.js`, `mapNode`):
//! from the assignment its `Id` and the tags `Process`, `Epoch`, `Slot` (else `Nonce`), `Skip`,
//! `Original-Assignment-Id`, `Timestamp`, `Block-Height` and `Hash-Chain`; from the message its
//! `Id`, `Signature`, `Owner`, `Anchor`, `Data` and `Tags` (values coerced to text), with
//! `From`/`Forwarded-By` from a `From-Process` tag. The message's `Target` is the assignment's
//! `Process`. HyperBEAM may send the whole JSON as a JSON string holding it; both are taken.

use serde_json::{Map, Value};

use crate::ao::{Tag, Tags};

/// Most edges one page may hold (HyperBEAM sends at most 1000 assignments a page).
pub const MAX_EDGES: usize = 1000;

/// A body or answer that is not an aos-2 page; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an aos-2 page: {0}")]
pub struct PageError(pub String);

fn bad(message: impl Into<String>) -> PageError {
    PageError(message.into())
}

/// One scheduled message of a page.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// Its slot (`Slot` tag, else `Nonce`).
    pub slot: u64,
    /// The assignment's ID (links of a legacy hash chain are computed from it).
    pub assignment_id: String,
    /// The process it is assigned to (`Process` tag), when given.
    pub process: Option<String>,
    /// `Epoch` (0 when absent).
    pub epoch: u64,
    /// `Timestamp` (ms).
    pub timestamp: u64,
    /// `Block-Height`.
    pub block_height: u64,
    /// `Hash-Chain`, when the assignment carries one.
    pub hash_chain: Option<String>,
    /// `Skip: "true"`: the slot advances without an evaluation.
    pub skip: bool,
    /// `Original-Assignment-Id` (a skipped repeat names the assignment it repeats).
    pub original_assignment_id: Option<String>,
    /// The message's ID.
    pub message_id: String,
    /// The message's tags.
    pub tags: Tags,
    /// The message's fields as a process sees them (`Id`, `Signature`, `Owner`, `From`,
    /// `Forwarded-By`, `Anchor`, `Tags`, `Data`); the assignment's are added at evaluation.
    pub fields: Value,
}

/// A page: where it comes from and its edges, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// `page_info.process`.
    pub process: Option<String>,
    /// `page_info.timestamp` (HyperBEAM's clock when it wrote the page).
    pub timestamp: Option<u64>,
    /// `page_info.block-height`.
    pub block_height: Option<u64>,
    /// `page_info.has_next_page` (`"false"` and `"undefined"` count as false, as AO's CU reads
    /// them).
    pub has_next_page: bool,
    /// The edges.
    pub edges: Vec<Edge>,
}

/// Parse a page from bytes: a JSON object, or a JSON string holding one.
pub fn parse(bytes: &[u8]) -> Result<Page, PageError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
    let value = match value {
        Value::String(inner) => serde_json::from_str(&inner)
            .map_err(|e| bad(format!("the JSON string does not hold JSON: {e}")))?,
        other => other,
    };
    let Value::Object(object) = value else {
        return Err(bad("expected a JSON object with `page_info` and `edges`"));
    };
    let info = match object.get("page_info") {
        Some(Value::Object(info)) => Some(info),
        None | Some(Value::Null) => None,
        Some(_) => return Err(bad("`page_info` is not an object")),
    };
    let Some(Value::Array(edges)) = object.get("edges") else {
        return Err(bad("`edges` is missing or not a list"));
    };
    if edges.len() > MAX_EDGES {
        return Err(bad(format!(
            "{} edges; a page holds at most {MAX_EDGES}",
            edges.len()
        )));
    }
    let edges = edges
        .iter()
        .enumerate()
        .map(|(i, edge)| parse_edge(edge).map_err(|e| bad(format!("edges[{i}]: {}", e.0))))
        .collect::<Result<Vec<_>, _>>()?;
    let info_text = |name: &str| info.and_then(|i| i.get(name)).and_then(scalar_text);
    let info_number = |name: &str| -> Result<Option<u64>, PageError> {
        info_text(name)
            .map(|t| number(&t, &format!("page_info.{name}")))
            .transpose()
    };
    Ok(Page {
        process: info_text("process"),
        timestamp: info_number("timestamp")?,
        block_height: info_number("block-height")?,
        has_next_page: info
            .and_then(|i| i.get("has_next_page"))
            .is_some_and(truthy),
        edges,
    })
}

fn parse_edge(edge: &Value) -> Result<Edge, PageError> {
    let node = edge
        .get("node")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("`node` is missing or not an object"))?;
    let assignment = node
        .get("assignment")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("`node.assignment` is missing or not an object"))?;
    let message = node
        .get("message")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("`node.message` is missing or not an object"))?;
    let a_tags = tags_of(assignment, "node.assignment.Tags")?;
    let slot_text = a_tags
        .get("Slot")
        .or_else(|| a_tags.get("Nonce"))
        .ok_or_else(|| bad("the assignment has no `Slot` or `Nonce` tag"))?;
    let slot = number(slot_text, "the assignment's Slot")?;
    let required = |name: &str| {
        a_tags
            .get(name)
            .ok_or_else(|| bad(format!("the assignment has no `{name}` tag")))
            .and_then(|t| number(t, &format!("the assignment's {name}")))
    };
    let assignment_id = id_text(assignment, "node.assignment.Id")?;
    let message_id = id_text(message, "node.message.Id")?;
    let tags = tags_of(message, "node.message.Tags")?;
    let text = |name: &str| message.get(name).and_then(Value::as_str);
    let owner = text("Owner").unwrap_or_default();
    let fields = crate::ao::fields::item_fields(
        &message_id,
        owner,
        text("Signature"),
        None,
        text("Anchor"),
        &tags,
        message.get("Data").cloned().unwrap_or(Value::Null),
    );
    Ok(Edge {
        slot,
        assignment_id,
        process: a_tags.get("Process").map(str::to_string),
        epoch: match a_tags.get("Epoch") {
            Some(t) => number(t, "the assignment's Epoch")?,
            None => 0,
        },
        timestamp: required("Timestamp")?,
        block_height: required("Block-Height")?,
        hash_chain: a_tags.get("Hash-Chain").map(str::to_string),
        skip: a_tags.get("Skip") == Some("true"),
        original_assignment_id: a_tags.get("Original-Assignment-Id").map(str::to_string),
        message_id,
        tags,
        fields,
    })
}

/// An `Id`: a non-empty string.
fn id_text(object: &Map<String, Value>, field: &str) -> Result<String, PageError> {
    match object.get("Id") {
        Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
        _ => Err(bad(format!("`{field}` is missing or not a string"))),
    }
}

/// `Tags`: a list of `{name, value}`; names are text, values are coerced to text (HyperBEAM
/// sends some as numbers).
fn tags_of(object: &Map<String, Value>, field: &str) -> Result<Tags, PageError> {
    let list = match object.get("Tags") {
        None | Some(Value::Null) => return Ok(Tags::default()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(bad(format!("`{field}` is not a list"))),
    };
    let mut tags = Vec::with_capacity(list.len());
    for (i, tag) in list.iter().enumerate() {
        let name = tag.get("name").and_then(Value::as_str);
        let value = tag.get("value").and_then(scalar_text);
        match (name, value) {
            (Some(name), Some(value)) => tags.push(Tag::new(name, value)),
            _ => {
                return Err(bad(format!(
                    "`{field}[{i}]` is not a {{name, value}} pair of text"
                )));
            }
        }
    }
    Ok(Tags::from(tags))
}

/// A string, number or boolean as text (what JavaScript's template string makes of it).
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A whole number written as text (block heights come left-padded: `000001331218`).
fn number(text: &str, field: &str) -> Result<u64, PageError> {
    text.trim()
        .parse()
        .map_err(|_| bad(format!("{field} `{text}` is not a whole number")))
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => !(s.is_empty() || s == "false" || s == "undefined"),
        Value::Null => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn edge(slot: u64) -> Value {
        json!({
            "cursor": slot,
            "node": {
                "message": {
                    "Id": "MSG", "Owner": "OWNER", "Signature": "SIG", "Anchor": "",
                    "Target": "IGNORED", "Data": "return 1",
                    "Tags": [{"name": "Action", "value": "Eval"}, {"name": "N", "value": 7}]
                },
                "assignment": {
                    "Id": "ASSIGN",
                    "Tags": [
                        {"name": "Process", "value": "PID"}, {"name": "Epoch", "value": "0"},
                        {"name": "Slot", "value": slot.to_string()},
                        {"name": "Timestamp", "value": "1700000000000"},
                        {"name": "Block-Height", "value": "000001331218"}
                    ]
                }
            }
        })
    }

    #[test]
    fn an_edge_reads_as_aos_cu_reads_it() {
        let body = json!({"page_info": {"process": "PID", "has_next_page": false,
            "timestamp": "1700000000001", "block-height": "5"}, "edges": [edge(3)]});
        let page = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(page.timestamp, Some(1_700_000_000_001));
        assert!(!page.has_next_page);
        let e = &page.edges[0];
        assert_eq!((e.slot, e.block_height, e.epoch), (3, 1_331_218, 0));
        assert_eq!(e.assignment_id, "ASSIGN");
        assert_eq!(e.fields["From"], "OWNER");
        assert_eq!(
            e.fields["Tags"][1]["value"], "7",
            "values are coerced to text"
        );
        assert!(
            e.fields.get("Target").is_none(),
            "the target is the process"
        );
        assert!(!e.skip);
        // The same page as a JSON string holding it.
        let wrapped = Value::String(body.to_string()).to_string();
        assert_eq!(parse(wrapped.as_bytes()).unwrap(), page);
    }

    #[test]
    fn what_is_not_a_page_is_named() {
        for (body, needle) in [
            ("nope".to_string(), "not JSON"),
            ("[1]".to_string(), "JSON object"),
            (json!({"edges": 1}).to_string(), "edges"),
            (json!({"edges": [{"node": {}}]}).to_string(), "edges[0]"),
            (json!({"edges": [{"node": {"message": {"Id": "M"}, "assignment": {"Id": "A", "Tags": []}}}]}).to_string(), "Slot"),
            (json!({"edges": [{"node": {"message": {"Id": "M"}, "assignment": {"Id": "A",
                "Tags": [{"name": "Slot", "value": "x"}]}}}]}).to_string(), "whole number"),
            (json!({"edges": [{"node": {"message": {"Id": "M", "Tags": [{"name": 1}]},
                "assignment": {"Id": "A", "Tags": [{"name": "Slot", "value": "1"}]}}}]}).to_string(),
                "Tags[0]"),
        ] {
            let err = parse(body.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(needle), "{body}: {err}");
        }
    }
}
