//! Answering the `transactions` and `transaction` root fields of the Arweave gateway schema
//! over a [`Source`] of records: filters, sort, cursor paging and field selection.

use serde_json::{Map, Value, json};

use super::filters::{Sort, page_arguments};
use super::output::{connection, node, require_selection, scalar};
use super::query::{Field, QueryError};
use super::records::{Source, TxRecord};
use crate::store::StoreError;

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

/// A query outside the subset.
pub(super) fn unsupported(message: String) -> ExecError {
    ExecError::Query(QueryError::Unsupported(message))
}

/// A query with wrong inputs.
pub(super) fn invalid(message: String) -> ExecError {
    ExecError::Query(QueryError::Invalid(message))
}

/// `transactions`: filter, order, then cut the page after the `after` cursor.
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

/// `transaction(id:)`: one record or null.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ao::Tag;
    use crate::gateway::bind::parse;
    use crate::gateway::{DEFAULT_FIRST, MAX_FIRST};

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
        let fields = parse(query, None, &vars)?;
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
            let fields = parse(q, None, &Map::new()).unwrap();
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
