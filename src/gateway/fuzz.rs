//! Property-based fuzzing of the GraphQL reader and executor: whatever the text (arbitrary
//! strings, GraphQL-looking noise, valid queries with bytes flipped, cut or spliced, hostile
//! nesting), `parse` and `execute` answer a value or an error and never panic or overflow the
//! stack; nesting past the limit is refused by name.
//!
//! 256 cases per property by default, so that CI stays quick; `AOCU_FUZZ_CASES=100000 cargo
//! test --lib gateway::fuzz` runs more.

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::Config;
use serde_json::{Map, Value as Json, json};

use super::records::{Source, TxRecord};
use super::{MAX_DEPTH, QueryError, execute, parse};
use crate::ao::Tag;
use crate::store::StoreError;

/// Cases per property: `AOCU_FUZZ_CASES`, else 256.
fn cases() -> u32 {
    std::env::var("AOCU_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn config() -> Config {
    Config {
        cases: cases(),
        // No regression files in the source tree: a failure prints its minimal input.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Queries AO's clients send (see `docs/ao-http-api.md`) and the rest of the subset.
const VALID: &[&str] = &[
    "query GetTransactions ($transactionIds: [ID!]!) {\n  transactions(ids: $transactionIds) {\n    edges { node { owner { address } tags { name value } block { id height timestamp } } }\n  }\n}",
    "query GetSchedulerLocation ($owner: String!) {\n  transactions (\n    owners: [$owner]\n    tags: [{ name: \"Data-Protocol\", values: [\"ao\"] }, { name: \"Type\", values: [\"Scheduler-Location\"] }]\n    # Only need the most recent Scheduler-Location\n    sort: HEIGHT_DESC\n    first: 1\n  ) { edges { node { tags { name value } } } }\n}",
    "query ($after: String, $sort: SortOrder = HEIGHT_ASC) { t: transactions(first: 2, after: $after, sort: $sort) { pageInfo { hasNextPage } edges { cursor node { id } } } }",
    "query ($a: Boolean!, $b: Boolean! = true) { transaction(id: \"x\") { id signature @skip(if: $a) anchor @include(if: $b) tags @skip(if: false) { name } } }",
    "{ transaction(id: \"m1\") { __typename id owner { address key } fee { winston ar } data { size type } block { id } } }",
    "{ a: transactions(tags: {name: \"T\", values: [\"P\"], op: NEQ}, first: 1, after: null) { edges { node { id } } } b: transaction(id: \"x\") { data(f: 1.5e1, n: null, t: true) { size } } }",
    "{ c: transactions { edges { node { id } } } }",
    "query A { transactions { edges { cursor } } } query B { transaction(id: \"\"\"\n  block \\\"\"\" string\n\"\"\") { id } }",
];

/// A source with one record, so that executing what parses reaches the output shaping.
struct One;

impl Source for One {
    fn by_ids(&self, _: &[String]) -> Result<Vec<TxRecord>, StoreError> {
        self.all()
    }
    fn all(&self) -> Result<Vec<TxRecord>, StoreError> {
        Ok(vec![TxRecord {
            id: "x".into(),
            owner_address: Some("o".into()),
            owner_key: None,
            recipient: String::new(),
            anchor: String::new(),
            signature: None,
            tags: vec![Tag::new("T", "P")].into(),
            data_size: 1,
            data_type: None,
            order: 1,
        }])
    }
}

fn variables() -> Map<String, Json> {
    json!({"transactionIds": ["x"], "owner": "o", "a": false, "after": null})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// Parse and, when that succeeds, execute: the property is that this returns at all.
fn answer(text: &str) -> Result<Json, String> {
    let fields = parse(text, None, &variables()).map_err(|e| e.to_string())?;
    execute(&fields, &One).map_err(|e| e.to_string())
}

/// A byte-level edit of a valid query.
#[derive(Debug, Clone)]
enum Edit {
    Flip(Index, u8),
    Delete(Index),
    Insert(Index, u8),
    Duplicate(Index, Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        any::<Index>().prop_map(Edit::Delete),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Duplicate(a, b)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for e in edits {
        let len = bytes.len().max(1);
        match e {
            Edit::Flip(i, b) => {
                if let Some(byte) = bytes.get_mut(i.index(len)) {
                    *byte ^= b | 1;
                }
            }
            Edit::Delete(i) => {
                if !bytes.is_empty() {
                    bytes.remove(i.index(len));
                }
            }
            Edit::Insert(i, b) => bytes.insert(i.index(len + 1).min(bytes.len()), *b),
            Edit::Duplicate(from, to) => {
                let start = from.index(len).min(bytes.len());
                let piece: Vec<u8> = bytes[start..].iter().take(16).copied().collect();
                let at = to.index(len + 1).min(bytes.len());
                bytes.splice(at..at, piece);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `depth` levels of one kind of nesting, closed or not.
fn nested(kind: &str, depth: usize, closed: bool) -> String {
    let (open, middle, close) = match kind {
        "selection" => ("{ a ", "b", " }"),
        "list" => ("[", "1", "]"),
        "object" => ("{k: ", "1", "}"),
        _ => ("[", "ID", "]"),
    };
    let body = format!("{}{middle}{}", open.repeat(depth), close.repeat(depth));
    let body = if closed {
        body
    } else {
        body[..open.len() * depth + middle.len()].to_string()
    };
    match kind {
        "selection" => body,
        "type" => format!("query ($v: {body}) {{ a }}"),
        _ => format!("{{ a(x: {body}) }}"),
    }
}

fn is_nesting_error(result: &Result<Vec<super::Field>, QueryError>) -> bool {
    matches!(result, Err(QueryError::Unsupported(m)) if m.contains("nesting"))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_strings_are_answered(text in any::<String>()) {
        let _ = answer(&text);
    }

    #[test]
    fn graphql_like_noise_is_answered(text in "[{}()\\[\\]:$@!=.,\"\\\\#a-z_0-9 \n\t-]{0,300}") {
        let _ = answer(&text);
    }

    #[test]
    fn mutated_valid_queries_are_answered(
        base in select(VALID),
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let _ = answer(&apply(base, &edits));
    }

    #[test]
    fn truncated_valid_queries_are_answered(base in select(VALID), cut in any::<Index>()) {
        let bytes = base.as_bytes();
        let text = String::from_utf8_lossy(&bytes[..cut.index(bytes.len() + 1)]).into_owned();
        let _ = answer(&text);
    }

    #[test]
    fn spliced_valid_queries_are_answered(
        a in select(VALID),
        b in select(VALID),
        i in any::<Index>(),
        j in any::<Index>(),
    ) {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        let mut bytes = a[..i.index(a.len() + 1)].to_vec();
        bytes.extend_from_slice(&b[j.index(b.len() + 1)..]);
        let _ = answer(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn deep_nesting_is_refused_by_name(
        kind in select(&["selection", "list", "object", "type"][..]),
        depth in (MAX_DEPTH + 1)..12_000,
    ) {
        let result = parse(&nested(kind, depth, true), None, &Map::new());
        prop_assert!(is_nesting_error(&result), "{kind} x{depth}: {result:?}");
    }

    #[test]
    fn deep_unclosed_nesting_is_refused_by_name(
        kind in select(&["selection", "list", "object", "type"][..]),
        depth in 1_000usize..12_000,
    ) {
        let result = parse(&nested(kind, depth, false), None, &Map::new());
        prop_assert!(is_nesting_error(&result), "{kind} x{depth}: {result:?}");
    }

    #[test]
    fn repeated_openers_are_refused(
        opener in select(&["{", "[", "(", "{ a(x: ", "\"\"\"", "@", "$", "..."][..]),
        count in 1usize..12_000,
    ) {
        prop_assert!(parse(&opener.repeat(count), None, &Map::new()).is_err());
    }
}

#[test]
fn the_valid_queries_parse() {
    for q in VALID {
        let fields = parse(
            q,
            Some("A").filter(|_| q.starts_with("query A")),
            &variables(),
        );
        assert!(fields.is_ok(), "{q}: {fields:?}");
    }
}

#[test]
fn ten_thousand_braces_are_refused_clearly() {
    for text in [
        "{".repeat(10_000),
        "{ a ".repeat(10_000),
        nested("selection", 10_000, true),
    ] {
        match parse(&text, None, &Map::new()) {
            Err(QueryError::Unsupported(m)) => assert!(m.contains("nesting"), "{m}"),
            Err(QueryError::Syntax { line: 1, .. }) => {}
            other => panic!("{other:?}"),
        }
    }
}
