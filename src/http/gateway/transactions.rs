//! Answering the `transactions` and `transaction` root fields of the Arweave gateway schema
//! over a [`Source`] of records: filters, sort, cursor paging and field selection.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::graphql::{Field, QueryError};
use super::records::{Source, TxRecord};
use crate::store::StoreError;

/// Page size when `first` is not given (as Arweave gateways default).
pub const DEFAULT_FIRST: usize = 10;
/// Largest page; a larger `first` is reduced to it (as Arweave gateways cap).
pub const MAX_FIRST: usize = 100;

/// Answering failed: the query, or the store.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The query asks for something wrong or unsupported.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Answer a parsed query's root fields: the `data` object of the response.
pub fn execute(fields: &[Field], source: &dyn Source) -> Result<Value, ExecError> {
    let mut data = Map::new();
    for field in fields {
        let value = match field.name.as_str() {
            "transactions" => transactions(field, source)?,
            "transaction" => transaction(field, source)?,
            "__typename" => scalar(field, json!("Query"))?,
            other => {
                return Err(unsupported(format!(
                    "root field `{other}` (this gateway answers `transactions` and `transaction`)"
                )));
            }
        };
        data.insert(field.response_key().to_string(), value);
    }
    Ok(Value::Object(data))
}

fn unsupported(message: String) -> ExecError {
    ExecError::Query(QueryError::Unsupported(message))
}

fn invalid(message: String) -> ExecError {
    ExecError::Query(QueryError::Invalid(message))
}

// ---- arguments ----

/// Sort order of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    HeightDesc,
    HeightAsc,
}

/// One `tags` filter.
#[derive(Debug, Clone, PartialEq)]
struct TagFilter {
    name: String,
    values: Vec<String>,
    negate: bool,
}

impl TagFilter {
    /// EQ: some tag of this name has one of the values. NEQ: some tag of this name has a value
    /// that is none of them.
    fn matches(&self, tx: &TxRecord) -> bool {
        tx.tags
            .iter()
            .filter(|t| t.name == self.name)
            .any(|t| self.values.contains(&t.value) != self.negate)
    }
}

#[derive(Debug, Default)]
struct Filters {
    ids: Option<Vec<String>>,
    owners: Option<Vec<String>>,
    recipients: Option<Vec<String>>,
    tags: Vec<TagFilter>,
}

impl Filters {
    fn matches(&self, tx: &TxRecord) -> bool {
        let within = |list: &Option<Vec<String>>, value: Option<&str>| {
            list.as_ref()
                .is_none_or(|l| value.is_some_and(|v| l.iter().any(|x| x == v)))
        };
        within(&self.ids, Some(&tx.id))
            && within(&self.owners, tx.owner_address.as_deref())
            && within(&self.recipients, Some(&tx.recipient))
            && self.tags.iter().all(|f| f.matches(tx))
    }
}

/// A list of strings; a single string is a list of one (GraphQL input coercion); null is absent.
fn string_list(field: &str, arg: &str, value: &Value) -> Result<Option<Vec<String>>, ExecError> {
    let bad = || invalid(format!("`{field}(`{arg}`)` must be a list of strings"));
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(vec![s.clone()])),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
            .collect::<Result<_, _>>()
            .map(Some),
        _ => Err(bad()),
    }
}

fn tag_filters(value: &Value) -> Result<Vec<TagFilter>, ExecError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items.clone(),
        single @ Value::Object(_) => vec![single.clone()],
        _ => {
            return Err(invalid(
                "`transactions(tags:)` must be a list of {name, values}".into(),
            ));
        }
    };
    items
        .iter()
        .map(|item| {
            let Value::Object(obj) = item else {
                return Err(invalid(
                    "each `tags` filter must be an object {name, values}".into(),
                ));
            };
            let mut name = None;
            let mut values = None;
            let mut negate = false;
            for (key, v) in obj {
                match key.as_str() {
                    "name" => {
                        name = Some(
                            v.as_str()
                                .ok_or_else(|| {
                                    invalid("a tag filter's `name` must be a string".into())
                                })?
                                .to_string(),
                        );
                    }
                    "values" => values = string_list("transactions", "tags.values", v)?,
                    "op" => {
                        negate = match v.as_str() {
                            Some("EQ") => false,
                            Some("NEQ") => true,
                            _ => {
                                return Err(unsupported(format!(
                                    "tag filter `op: {v}` (EQ and NEQ are)"
                                )));
                            }
                        };
                    }
                    other => {
                        return Err(unsupported(format!(
                            "tag filter field `{other}` (name, values and op are)"
                        )));
                    }
                }
            }
            Ok(TagFilter {
                name: name.ok_or_else(|| invalid("a tag filter needs a `name`".into()))?,
                values: values.ok_or_else(|| invalid("a tag filter needs `values`".into()))?,
                negate,
            })
        })
        .collect()
}

/// A page request: filters, order, size and position.
struct Page {
    filters: Filters,
    sort: Sort,
    first: usize,
    after: Option<(u64, String)>,
}

fn page_arguments(field: &Field) -> Result<Page, ExecError> {
    let mut page = Page {
        filters: Filters::default(),
        sort: Sort::HeightDesc,
        first: DEFAULT_FIRST,
        after: None,
    };
    for (name, value) in &field.arguments {
        match name.as_str() {
            "ids" => page.filters.ids = string_list("transactions", name, value)?,
            "owners" => page.filters.owners = string_list("transactions", name, value)?,
            "recipients" => page.filters.recipients = string_list("transactions", name, value)?,
            "tags" => page.filters.tags = tag_filters(value)?,
            "sort" => {
                page.sort = match (value, value.as_str()) {
                    (Value::Null, _) | (_, Some("HEIGHT_DESC")) => Sort::HeightDesc,
                    (_, Some("HEIGHT_ASC")) => Sort::HeightAsc,
                    _ => {
                        return Err(unsupported(format!(
                            "`sort: {value}` (HEIGHT_DESC and HEIGHT_ASC are)"
                        )));
                    }
                };
            }
            "first" => {
                page.first = match value {
                    Value::Null => DEFAULT_FIRST,
                    v => v
                        .as_u64()
                        .ok_or_else(|| {
                            invalid(format!("`first` must be a non-negative integer, got {v}"))
                        })?
                        .min(MAX_FIRST as u64) as usize,
                };
            }
            "after" => {
                page.after = match value {
                    Value::Null => None,
                    Value::String(c) if c.is_empty() => None,
                    Value::String(c) => Some(decode_cursor(c)?),
                    v => return Err(invalid(format!("`after` must be a cursor string, got {v}"))),
                };
            }
            other => {
                return Err(unsupported(format!(
                    "argument `{other}` of `transactions` (ids, owners, recipients, tags, first, after and sort are)"
                )));
            }
        }
    }
    Ok(page)
}

// ---- cursors ----

fn encode_cursor(tx: &TxRecord) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", tx.order, tx.id))
}

fn decode_cursor(cursor: &str) -> Result<(u64, String), ExecError> {
    let bad = || {
        invalid(format!(
            "`after: \"{cursor}\"` is not a cursor of this gateway"
        ))
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (order, id) = text.split_once(':').ok_or_else(bad)?;
    Ok((order.parse().map_err(|_| bad())?, id.to_string()))
}

// ---- root fields ----

fn transactions(field: &Field, source: &dyn Source) -> Result<Value, ExecError> {
    let page = page_arguments(field)?;
    let candidates = match &page.filters.ids {
        Some(ids) => source.by_ids(ids)?,
        None => source.all()?,
    };
    let mut matching: Vec<TxRecord> = candidates
        .into_iter()
        .filter(|tx| page.filters.matches(tx))
        .collect();
    matching.sort_by(|a, b| (a.order, &a.id).cmp(&(b.order, &b.id)));
    if page.sort == Sort::HeightDesc {
        matching.reverse();
    }
    let start = match &page.after {
        None => 0,
        Some((order, id)) => matching
            .iter()
            .position(|tx| {
                let key = (tx.order, &tx.id);
                match page.sort {
                    Sort::HeightAsc => key > (*order, id),
                    Sort::HeightDesc => key < (*order, id),
                }
            })
            .unwrap_or(matching.len()),
    };
    let end = start.saturating_add(page.first).min(matching.len());
    let has_next = end < matching.len();
    connection(field, &matching[start..end], has_next)
}

fn transaction(field: &Field, source: &dyn Source) -> Result<Value, ExecError> {
    let mut id = None;
    for (name, value) in &field.arguments {
        match (name.as_str(), value) {
            ("id", Value::String(s)) => id = Some(s.clone()),
            ("id", v) => {
                return Err(invalid(format!(
                    "`transaction(id:)` must be a string, got {v}"
                )));
            }
            (other, _) => {
                return Err(unsupported(format!(
                    "argument `{other}` of `transaction` (only `id`)"
                )));
            }
        }
    }
    let id = id.ok_or_else(|| invalid("`transaction` needs an `id` argument".into()))?;
    require_selection(field, "Transaction")?;
    match source.by_ids(std::slice::from_ref(&id))?.first() {
        Some(tx) => node(tx, &field.selection),
        None => Ok(Value::Null),
    }
}

// ---- output ----

fn connection(field: &Field, page: &[TxRecord], has_next: bool) -> Result<Value, ExecError> {
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
fn node(tx: &TxRecord, selection: &[Field]) -> Result<Value, ExecError> {
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

fn no_arguments(field: &Field) -> Result<(), ExecError> {
    match field.arguments.first() {
        None => Ok(()),
        Some((name, _)) => Err(unsupported(format!(
            "argument `{name}` of field `{}`",
            field.name
        ))),
    }
}

fn require_selection(field: &Field, type_name: &str) -> Result<(), ExecError> {
    if field.selection.is_empty() {
        Err(invalid(format!(
            "field `{}` is a {type_name} and needs a selection of fields",
            field.name
        )))
    } else {
        Ok(())
    }
}

fn scalar(field: &Field, value: Value) -> Result<Value, ExecError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::gateway::graphql;
    use crate::store::Tag;

    struct List(Vec<TxRecord>);

    impl Source for List {
        fn by_ids(&self, ids: &[String]) -> Result<Vec<TxRecord>, StoreError> {
            Ok(self
                .0
                .iter()
                .filter(|r| ids.contains(&r.id))
                .cloned()
                .collect())
        }
        fn all(&self) -> Result<Vec<TxRecord>, StoreError> {
            Ok(self.0.clone())
        }
    }

    fn tx(id: &str, owner: &str, order: u64, tags: &[(&str, &str)]) -> TxRecord {
        TxRecord {
            id: id.to_string(),
            owner_address: Some(owner.to_string()),
            owner_key: None,
            recipient: String::new(),
            anchor: String::new(),
            signature: None,
            tags: tags
                .iter()
                .map(|(n, v)| Tag {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            data_size: 5,
            data_type: None,
            order,
        }
    }

    fn source() -> List {
        let mut msg = tx(
            "m1",
            "alice",
            30,
            &[("Type", "Message"), ("Action", "Eval")],
        );
        msg.recipient = "p1".into();
        List(vec![
            tx(
                "mod",
                "alice",
                10,
                &[("Data-Protocol", "ao"), ("Type", "Module")],
            ),
            tx(
                "p1",
                "alice",
                20,
                &[("Data-Protocol", "ao"), ("Type", "Process")],
            ),
            msg,
            tx(
                "sl-old",
                "sched",
                5,
                &[
                    ("Data-Protocol", "ao"),
                    ("Type", "Scheduler-Location"),
                    ("Url", "http://old"),
                ],
            ),
            tx(
                "sl",
                "sched",
                40,
                &[
                    ("Data-Protocol", "ao"),
                    ("Type", "Scheduler-Location"),
                    ("Url", "http://new"),
                ],
            ),
        ])
    }

    fn run(query: &str, variables: Value) -> Result<Value, ExecError> {
        let vars = variables.as_object().cloned().unwrap_or_default();
        let fields = graphql::parse(query, None, &vars)?;
        execute(&fields, &source())
    }

    fn ids(data: &Value, key: &str) -> Vec<String> {
        data[key]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn the_module_lookup_of_aoconnect() {
        let q = "query GetTransactions ($transactionIds: [ID!]!) { transactions(ids: $transactionIds) { edges { node { owner { address } tags { name value } block { id height timestamp } } } } }";
        let data = run(q, json!({"transactionIds": ["mod"]})).unwrap();
        assert_eq!(
            data,
            json!({"transactions": {"edges": [{"node": {
                "owner": {"address": "alice"},
                "tags": [{"name": "Data-Protocol", "value": "ao"}, {"name": "Type", "value": "Module"}],
                "block": null
            }}]}})
        );
        // Field order follows the query, not the schema.
        let text = serde_json::to_string(&data).unwrap();
        assert!(text.find("owner").unwrap() < text.find("block").unwrap());
        let none = run(q, json!({"transactionIds": ["nope"]})).unwrap();
        assert_eq!(none, json!({"transactions": {"edges": []}}));
    }

    #[test]
    fn the_scheduler_location_lookup_finds_the_newest() {
        let q = r#"query GetSchedulerLocation ($owner: String!) {
            transactions (owners: [$owner]
              tags: [{ name: "Data-Protocol", values: ["ao"] }, { name: "Type", values: ["Scheduler-Location"] }]
              sort: HEIGHT_DESC first: 1) { edges { node { tags { name value } } } } }"#;
        let data = run(q, json!({"owner": "sched"})).unwrap();
        let edges = data["transactions"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), 1);
        assert_eq!(
            edges[0]["node"]["tags"][2],
            json!({"name": "Url", "value": "http://new"})
        );
        assert!(
            run(q, json!({"owner": "alice"})).unwrap()["transactions"]["edges"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn sort_first_after_and_has_next_page() {
        let q = "query ($after: String, $sort: SortOrder) { t: transactions(owners: [\"alice\"], first: 2, after: $after, sort: $sort) { pageInfo { hasNextPage } edges { cursor node { id } } } }";
        let page1 = run(q, json!({})).unwrap();
        assert_eq!(ids(&page1, "t"), ["m1", "p1"]);
        assert_eq!(page1["t"]["pageInfo"]["hasNextPage"], json!(true));
        let cursor = page1["t"]["edges"][1]["cursor"]
            .as_str()
            .unwrap()
            .to_string();
        let page2 = run(q, json!({"after": cursor})).unwrap();
        assert_eq!(ids(&page2, "t"), ["mod"]);
        assert_eq!(page2["t"]["pageInfo"]["hasNextPage"], json!(false));

        let asc = run(q, json!({"sort": "HEIGHT_ASC"})).unwrap();
        assert_eq!(ids(&asc, "t"), ["mod", "p1"]);
        let cursor = asc["t"]["edges"][1]["cursor"].as_str().unwrap().to_string();
        let asc2 = run(q, json!({"sort": "HEIGHT_ASC", "after": cursor})).unwrap();
        assert_eq!(ids(&asc2, "t"), ["m1"]);

        assert!(matches!(
            run(q, json!({"after": "garbage!"})),
            Err(ExecError::Query(QueryError::Invalid(_)))
        ));
        assert!(matches!(
            run(q, json!({"sort": "INGESTED"})),
            Err(ExecError::Query(QueryError::Unsupported(_)))
        ));
    }

    #[test]
    fn default_page_size_and_cap() {
        let many = List(
            (0..150)
                .map(|i| tx(&format!("id{i:03}"), "o", i, &[]))
                .collect(),
        );
        let count = |q: &str| {
            let fields = graphql::parse(q, None, &Map::new()).unwrap();
            execute(&fields, &many).unwrap()["transactions"]["edges"]
                .as_array()
                .unwrap()
                .len()
        };
        assert_eq!(
            count("{ transactions { edges { cursor } } }"),
            DEFAULT_FIRST
        );
        assert_eq!(
            count("{ transactions(first: 1000) { edges { cursor } } }"),
            MAX_FIRST
        );
        assert_eq!(count("{ transactions(first: 0) { edges { cursor } } }"), 0);
    }

    #[test]
    fn tag_recipient_and_neq_filters() {
        let q = r#"{ a: transactions(tags: {name: "Type", values: ["Process", "Module"]}, sort: HEIGHT_ASC) { edges { node { id } } }
                    b: transactions(recipients: ["p1"]) { edges { node { id recipient } } }
                    c: transactions(tags: [{name: "Type", values: ["Scheduler-Location"], op: NEQ}], sort: HEIGHT_ASC) { edges { node { id } } } }"#;
        let data = run(q, json!({})).unwrap();
        assert_eq!(ids(&data, "a"), ["mod", "p1"]);
        assert_eq!(ids(&data, "b"), ["m1"]);
        assert_eq!(ids(&data, "c"), ["mod", "p1", "m1"]);
    }

    #[test]
    fn every_transaction_field() {
        let q = "{ transaction(id: \"m1\") { __typename id anchor signature recipient owner { address key } fee { winston ar } quantity { ar } data { size type } tags { name } block { id } parent { id } bundledIn { id } } }";
        let data = run(q, json!({})).unwrap();
        assert_eq!(
            data["transaction"],
            json!({"__typename": "Transaction", "id": "m1", "anchor": "", "signature": null,
                   "recipient": "p1", "owner": {"address": "alice", "key": null},
                   "fee": {"winston": "0", "ar": "0.000000000000"}, "quantity": {"ar": "0.000000000000"},
                   "data": {"size": "5", "type": null}, "tags": [{"name": "Type"}, {"name": "Action"}],
                   "block": null, "parent": null, "bundledIn": null})
        );
        assert_eq!(
            run("{ transaction(id: \"zz\") { id } }", json!({})).unwrap(),
            json!({"transaction": null})
        );
    }

    #[test]
    fn unsupported_parts_are_named() {
        let cases = [
            ("{ blocks { edges { cursor } } }", "blocks"),
            (
                "{ transactions(block: {min: 1}) { edges { cursor } } }",
                "block",
            ),
            ("{ transactions { count } }", "count"),
            ("{ transactions { edges { node { fooBar } } } }", "fooBar"),
            (
                "{ transactions { edges { node { owner { ens } } } } }",
                "ens",
            ),
            (
                "{ transactions { edges { node { block { nonce } } } } }",
                "nonce",
            ),
            (
                "{ transactions(tags: [{name: \"a\", values: [\"b\"], match: FUZZY_OR}]) { edges { cursor } } }",
                "match",
            ),
            (
                "{ transactions { edges { node { id(x: 1) } } } }",
                "argument `x`",
            ),
        ];
        for (q, what) in cases {
            match run(q, json!({})) {
                Err(ExecError::Query(QueryError::Unsupported(m))) => {
                    assert!(m.contains(what), "{q}: {m}")
                }
                other => panic!("{q}: {other:?}"),
            }
        }
        for q in [
            "{ transactions }",
            "{ transactions { edges { node { id { x } } } } }",
            "{ transactions { edges { node { owner } } } }",
            "{ transactions(ids: 5) { edges { cursor } } }",
            "{ transactions(first: -1) { edges { cursor } } }",
            "{ transactions(tags: [{values: [\"x\"]}]) { edges { cursor } } }",
            "{ transaction { id } }",
        ] {
            assert!(
                matches!(
                    run(q, json!({})),
                    Err(ExecError::Query(QueryError::Invalid(_)))
                ),
                "{q}"
            );
        }
    }
}
