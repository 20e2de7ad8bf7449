//! Shaping the answer: each object type of the schema (`TransactionConnection`,
//! `TransactionEdge`, `Transaction` and its sub-objects) with exactly the fields the query
//! selected, in the query's order and under their response keys.

use serde_json::{Map, Value, json};

use super::cursor::encode_cursor;
use super::execute::{ExecError, invalid, unsupported};
use super::query::Field;
use super::records::TxRecord;

/// A `TransactionConnection`: one page of records, and whether more follow.
pub(super) fn connection(
    field: &Field,
    page: &[TxRecord],
    has_next: bool,
) -> Result<Value, ExecError> {
    require_selection(field, "TransactionConnection")?;
    let mut out = Map::new();
    for sub in &field.selection {
        let value = match sub.name.as_str() {
            "__typename" => scalar(sub, json!("TransactionConnection"))?,
            "pageInfo" => object(sub, "PageInfo", |name| match name {
                "hasNextPage" => Some(json!(has_next)),
                _ => None,
            })?,
            "edges" => {
                require_selection(sub, "TransactionEdge")?;
                let mut edges = Vec::with_capacity(page.len());
                for tx in page {
                    edges.push(edge(sub, tx)?);
                }
                Value::Array(edges)
            }
            other => {
                return Err(unsupported(format!(
                    "field `{other}` of TransactionConnection (pageInfo and edges are)"
                )));
            }
        };
        out.insert(sub.response_key().to_string(), value);
    }
    Ok(Value::Object(out))
}

/// A `TransactionEdge`: a record and its cursor.
fn edge(field: &Field, tx: &TxRecord) -> Result<Value, ExecError> {
    let mut out = Map::new();
    for sub in &field.selection {
        let value = match sub.name.as_str() {
            "__typename" => scalar(sub, json!("TransactionEdge"))?,
            "cursor" => scalar(sub, json!(encode_cursor(tx)))?,
            "node" => {
                no_arguments(sub)?;
                require_selection(sub, "Transaction")?;
                node(tx, &sub.selection)?
            }
            other => {
                return Err(unsupported(format!(
                    "field `{other}` of TransactionEdge (cursor and node are)"
                )));
            }
        };
        out.insert(sub.response_key().to_string(), value);
    }
    Ok(Value::Object(out))
}

/// One transaction with the selected fields. Nothing the node holds is in an Arweave block,
/// so `block`, `parent` and `bundledIn` are null and fee and quantity are zero.
pub(super) fn node(tx: &TxRecord, selection: &[Field]) -> Result<Value, ExecError> {
    let zero = |name: &str| match name {
        "winston" => Some(json!("0")),
        "ar" => Some(json!("0.000000000000")),
        _ => None,
    };
    let mut out = Map::new();
    for sub in selection {
        let value = match sub.name.as_str() {
            "__typename" => scalar(sub, json!("Transaction"))?,
            "id" => scalar(sub, json!(tx.id))?,
            "anchor" => scalar(sub, json!(tx.anchor))?,
            "signature" => scalar(sub, json!(tx.signature))?,
            "recipient" => scalar(sub, json!(tx.recipient))?,
            "owner" => object(sub, "Owner", |name| match name {
                "address" => Some(json!(tx.owner_address)),
                "key" => Some(json!(tx.owner_key)),
                _ => None,
            })?,
            "fee" | "quantity" => object(sub, "Amount", zero)?,
            "data" => object(sub, "MetaData", |name| match name {
                "size" => Some(json!(tx.data_size.to_string())),
                "type" => Some(json!(tx.data_type)),
                _ => None,
            })?,
            "tags" => {
                let mut tags = Vec::with_capacity(tx.tags.len());
                for tag in &tx.tags {
                    tags.push(object(sub, "Tag", |name| match name {
                        "name" => Some(json!(tag.name)),
                        "value" => Some(json!(tag.value)),
                        _ => None,
                    })?);
                }
                Value::Array(tags)
            }
            "block" => null_object(sub, "Block", &["id", "height", "timestamp", "previous"])?,
            "parent" => null_object(sub, "Parent", &["id"])?,
            "bundledIn" => null_object(sub, "Bundle", &["id"])?,
            other => {
                return Err(unsupported(format!(
                    "field `{other}` of Transaction (id, anchor, signature, recipient, owner, fee, \
                     quantity, data, tags, block, parent and bundledIn are)"
                )));
            }
        };
        out.insert(sub.response_key().to_string(), value);
    }
    Ok(Value::Object(out))
}

/// The fields here take no arguments.
fn no_arguments(field: &Field) -> Result<(), ExecError> {
    match field.arguments.first() {
        None => Ok(()),
        Some((name, _)) => Err(unsupported(format!(
            "argument `{name}` of field `{}`",
            field.name
        ))),
    }
}

/// An object-typed field must select sub-fields.
pub(super) fn require_selection(field: &Field, type_name: &str) -> Result<(), ExecError> {
    if field.selection.is_empty() {
        Err(invalid(format!(
            "field `{}` is a {type_name} and needs a selection of fields",
            field.name
        )))
    } else {
        Ok(())
    }
}

/// A scalar field: no arguments and no selection.
pub(super) fn scalar(field: &Field, value: Value) -> Result<Value, ExecError> {
    no_arguments(field)?;
    if field.selection.is_empty() {
        Ok(value)
    } else {
        Err(invalid(format!(
            "field `{}` is a scalar and takes no selection",
            field.name
        )))
    }
}

/// An object field whose scalar sub-fields come from `resolve` (None: no such field).
fn object(
    field: &Field,
    type_name: &str,
    resolve: impl Fn(&str) -> Option<Value>,
) -> Result<Value, ExecError> {
    no_arguments(field)?;
    require_selection(field, type_name)?;
    let mut out = Map::new();
    for sub in &field.selection {
        let value = if sub.name == "__typename" {
            json!(type_name)
        } else {
            resolve(&sub.name)
                .ok_or_else(|| unsupported(format!("field `{}` of {type_name}", sub.name)))?
        };
        out.insert(sub.response_key().to_string(), scalar(sub, value)?);
    }
    Ok(Value::Object(out))
}

/// An object field that is always null here; its selection is still checked.
fn null_object(field: &Field, type_name: &str, known: &[&str]) -> Result<Value, ExecError> {
    no_arguments(field)?;
    require_selection(field, type_name)?;
    for sub in &field.selection {
        if sub.name != "__typename" && !known.contains(&sub.name.as_str()) {
            return Err(unsupported(format!("field `{}` of {type_name}", sub.name)));
        }
        scalar(sub, Value::Null)?;
    }
    Ok(Value::Null)
}
