//! Inputs of the CU API, validated: the `GET /results` query (bounds, order, page size) with
//! its cursors, and the `POST /dry-run` message.
//!
//! Cursors are AO's: base64 (standard alphabet, padded: JavaScript's `btoa`) of the JSON
//! `{"timestamp": <ms>, "ordinate": "<nonce>"}` of an evaluation (`servers/cu/src/domain/utils.js`,
//! `evaluationToCursor`). AO's CU also writes `sort` into its cursors and lets it override the
//! query's `sort`; aocu reads such cursors the same way but does not write `sort`, so that the
//! same evaluation has the same cursor in both orders. A bound that is not a cursor is a bare
//! timestamp (ms), as AO's CU treats it. `from` is exclusive and `to` inclusive for cursors;
//! a bare `from` timestamp includes evaluations at that very millisecond (AO compares
//! `processId,timestamp[,ordinate]` strings, and `p,t` sorts before `p,t,n`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

/// `limit` when the query has none (AO's CU: 25).
pub const DEFAULT_LIMIT: u64 = 25;
/// Largest `limit` AO's CU accepts (`Number.MAX_SAFE_INTEGER - 10`).
pub const MAX_LIMIT: u64 = 9_007_199_254_740_981;

/// A request input that does not validate; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidInput {
    /// The query parameter or body field at fault.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

fn invalid(field: &str, message: impl Into<String>) -> InvalidInput {
    InvalidInput {
        field: field.to_string(),
        message: message.into(),
    }
}

/// Order of a results page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Oldest first.
    Asc,
    /// Newest first.
    Desc,
}

impl Sort {
    fn parse(text: &str, field: &str) -> Result<Sort, InvalidInput> {
        match text {
            "ASC" => Ok(Sort::Asc),
            "DESC" => Ok(Sort::Desc),
            other => Err(invalid(
                field,
                format!("expected ASC or DESC, got `{other}`"),
            )),
        }
    }
}

/// Where an evaluation sits in a process' history: its timestamp, then its nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// ms since the Unix epoch, from its assignment.
    pub timestamp: u64,
    /// Its nonce (AO's "ordinate" of a scheduled message).
    pub ordinate: u64,
}

impl Position {
    /// The cursor of an evaluation at this position.
    pub fn cursor(&self) -> String {
        let text = json!({
            "timestamp": self.timestamp,
            "ordinate": self.ordinate.to_string(),
        })
        .to_string();
        STANDARD.encode(text)
    }
}

/// One bound of a results range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// A cursor: an exact position.
    Cursor(Position),
    /// A bare timestamp (ms).
    Timestamp(u64),
}

impl Bound {
    /// Whether `p` lies after this bound used as an (exclusive) `from`.
    pub fn after_from(&self, p: Position) -> bool {
        match *self {
            Bound::Cursor(c) => p > c,
            Bound::Timestamp(t) => p.timestamp >= t,
        }
    }

    /// Whether `p` lies within this bound used as an (inclusive) `to`.
    pub fn within_to(&self, p: Position) -> bool {
        match *self {
            Bound::Cursor(c) => p <= c,
            Bound::Timestamp(t) => p.timestamp <= t,
        }
    }
}

/// A validated `GET /results` query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultsQuery {
    /// Exclusive lower bound.
    pub from: Option<Bound>,
    /// Inclusive upper bound.
    pub to: Option<Bound>,
    /// Order of the page.
    pub sort: Sort,
    /// Page size.
    pub limit: u64,
}

impl ResultsQuery {
    /// Validate the query parameters (`from`, `to`, `sort`, `limit`; others are ignored, as
    /// AO's CU ignores them). An empty value counts as absent.
    pub fn parse(params: &[(String, String)]) -> Result<ResultsQuery, InvalidInput> {
        let get = |name: &str| param(params, name);
        let mut cursor_sort = None;
        let mut bound = |name: &str| -> Result<Option<Bound>, InvalidInput> {
            let Some(text) = get(name) else {
                return Ok(None);
            };
            let (bound, sort) = parse_bound(text, name)?;
            cursor_sort = cursor_sort.or(sort);
            Ok(Some(bound))
        };
        let from = bound("from")?;
        let to = bound("to")?;
        let query_sort = match get("sort") {
            Some(text) => Sort::parse(text, "sort")?,
            None => Sort::Asc,
        };
        let limit = match get("limit") {
            Some(text) => parse_limit(text)?,
            None => DEFAULT_LIMIT,
        };
        Ok(ResultsQuery {
            from,
            to,
            // As AO's CU: a sort carried by a cursor wins over the query's.
            sort: cursor_sort.unwrap_or(query_sort),
            limit,
        })
    }

    /// Whether an evaluation at `p` is in the range.
    pub fn contains(&self, p: Position) -> bool {
        self.from.is_none_or(|b| b.after_from(p)) && self.to.is_none_or(|b| b.within_to(p))
    }
}

fn parse_limit(text: &str) -> Result<u64, InvalidInput> {
    // JavaScript's Number() coercion accepts a decimal like "10.0"; a fraction is no page size.
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| invalid("limit", format!("expected a number, got `{text}`")))?;
    if !(value.is_finite() && value.fract() == 0.0 && value >= 1.0) {
        return Err(invalid(
            "limit",
            format!("expected a positive whole number, got `{text}`"),
        ));
    }
    if value > MAX_LIMIT as f64 {
        return Err(invalid("limit", format!("must be at most {MAX_LIMIT}")));
    }
    Ok(value as u64)
}

/// A `from`/`to` value: a cursor (base64 JSON object) or else a bare timestamp.
fn parse_bound(text: &str, field: &str) -> Result<(Bound, Option<Sort>), InvalidInput> {
    // A `+` of the base64 alphabet arrives as a space when the client did not escape it.
    let b64 = text.trim().replace(' ', "+");
    if let Some(object) = STANDARD
        .decode(b64.as_bytes())
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
    {
        return parse_cursor(&object, field);
    }
    let timestamp = text.trim().parse::<u64>().map_err(|_| {
        invalid(
            field,
            format!("expected a cursor from this API or a timestamp in ms, got `{text}`"),
        )
    })?;
    Ok((Bound::Timestamp(timestamp), None))
}

fn parse_cursor(
    object: &Map<String, Value>,
    field: &str,
) -> Result<(Bound, Option<Sort>), InvalidInput> {
    let number =
        |name: &str| -> Result<Option<u64>, InvalidInput> {
            match object.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
                    invalid(field, format!("cursor {name} is not a whole number: {n}"))
                }),
                Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
                    invalid(field, format!("cursor {name} is not a whole number: `{s}`"))
                }),
                Some(other) => Err(invalid(
                    field,
                    format!("cursor {name} is not a number: {other}"),
                )),
            }
        };
    let timestamp =
        number("timestamp")?.ok_or_else(|| invalid(field, "cursor has no timestamp"))?;
    let sort = match object.get("sort") {
        Some(Value::String(s)) => Some(Sort::parse(s, field)?),
        _ => None,
    };
    let bound = match number("ordinate")? {
        Some(ordinate) => Bound::Cursor(Position {
            timestamp,
            ordinate,
        }),
        None => Bound::Timestamp(timestamp),
    };
    Ok((bound, sort))
}

/// Check the dry-run body as AO's CU does (`routes/dryRun.js`): a JSON object whose `Id`,
/// `Signature`, `Owner`, `Target`, `Anchor` are strings, `Tags` a list of `{name, value}`
/// strings, `Timestamp` and `Block-Height` numbers (or numeric strings); each may be absent or
/// null; other fields pass through. Returns the object.
pub fn dry_run_message(body: &[u8]) -> Result<Map<String, Value>, InvalidInput> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| invalid("body", format!("not valid JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(invalid("body", "expected a JSON object (the message)"));
    };
    for name in ["Id", "Signature", "Owner", "Target", "Anchor"] {
        match object.get(name) {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(other) => {
                return Err(invalid(
                    name,
                    format!("expected a string, got {}", kind(other)),
                ));
            }
        }
    }
    match object.get("Tags") {
        None | Some(Value::Null) => {}
        Some(Value::Array(tags)) => {
            for (i, tag) in tags.iter().enumerate() {
                for part in ["name", "value"] {
                    if !tag.get(part).is_some_and(Value::is_string) {
                        return Err(invalid(&format!("Tags[{i}].{part}"), "expected a string"));
                    }
                }
            }
        }
        Some(other) => {
            return Err(invalid(
                "Tags",
                format!("expected a list of {{name, value}}, got {}", kind(other)),
            ));
        }
    }
    for name in ["Timestamp", "Block-Height"] {
        let coerced = match object.get(name) {
            None | Some(Value::Null) | Some(Value::Number(_)) => None,
            Some(Value::String(s)) => match s.trim().parse::<f64>() {
                Ok(n) if n.is_finite() => Some(number_value(n)),
                _ => {
                    return Err(invalid(name, format!("expected a number, got `{s}`")));
                }
            },
            Some(other) => {
                return Err(invalid(
                    name,
                    format!("expected a number, got {}", kind(other)),
                ));
            }
        };
        // zod's coerce turns a numeric string into a number: the process sees a number.
        if let Some(n) = coerced {
            object.insert(name.to_string(), n);
        }
    }
    Ok(object)
}

fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n >= 0.0 && n < u64::MAX as f64 {
        json!(n as u64)
    } else {
        json!(n)
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The value of query parameter `name`, when present and not empty (AO's CU treats an empty
/// value as absent).
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults() {
        let q = ResultsQuery::parse(&[]).unwrap();
        assert_eq!(
            q,
            ResultsQuery {
                from: None,
                to: None,
                sort: Sort::Asc,
                limit: 25
            }
        );
        let q = ResultsQuery::parse(&params(&[("sort", "DESC"), ("limit", "3")])).unwrap();
        assert_eq!((q.sort, q.limit), (Sort::Desc, 3));
    }

    #[test]
    fn bad_values_name_the_field() {
        for (pairs, field) in [
            (vec![("sort", "UP")], "sort"),
            (vec![("limit", "x")], "limit"),
            (vec![("limit", "0")], "limit"),
            (vec![("limit", "2.5")], "limit"),
            (vec![("limit", "1e300")], "limit"),
            (vec![("from", "yesterday")], "from"),
            (vec![("to", "-1")], "to"),
        ] {
            let err = ResultsQuery::parse(&params(&pairs)).unwrap_err();
            assert_eq!(err.field, field, "{err}");
        }
    }

    #[test]
    fn cursors_round_trip_and_compare() {
        let p = Position {
            timestamp: 1_732_000_000_123,
            ordinate: 7,
        };
        let cursor = p.cursor();
        let decoded = String::from_utf8(STANDARD.decode(&cursor).unwrap()).unwrap();
        assert_eq!(decoded, r#"{"timestamp":1732000000123,"ordinate":"7"}"#);
        let q = ResultsQuery::parse(&params(&[("from", &cursor), ("to", &cursor)])).unwrap();
        assert_eq!(q.from, Some(Bound::Cursor(p)));
        assert!(!q.contains(p), "from is exclusive");
        let q = ResultsQuery::parse(&params(&[("to", &cursor)])).unwrap();
        assert!(q.contains(p), "to is inclusive");
        let later = Position { ordinate: 8, ..p };
        assert!(!q.contains(later));
        // An unescaped `+` arrives as a space.
        let spaced = cursor.replace('+', " ");
        let q = ResultsQuery::parse(&params(&[("from", &spaced)])).unwrap();
        assert_eq!(q.from, Some(Bound::Cursor(p)));
    }

    #[test]
    fn legacy_cursors_and_bare_timestamps() {
        let legacy = STANDARD.encode(r#"{"timestamp":5,"ordinate":"2","sort":"DESC"}"#);
        let q = ResultsQuery::parse(&params(&[("from", &legacy), ("sort", "ASC")])).unwrap();
        assert_eq!(q.sort, Sort::Desc, "the cursor's sort wins");
        let q = ResultsQuery::parse(&params(&[("from", "5"), ("to", "9")])).unwrap();
        let at = |timestamp, ordinate| Position {
            timestamp,
            ordinate,
        };
        assert!(q.contains(at(5, 0)), "a bare from includes its millisecond");
        assert!(q.contains(at(9, 100)));
        assert!(!q.contains(at(4, 100)));
        assert!(!q.contains(at(10, 0)));
    }

    #[test]
    fn dry_run_bodies() {
        let ok = dry_run_message(
            br#"{"Id":"1234","Owner":"O","Target":"P","Data":{"any":1},
                 "Tags":[{"name":"Action","value":"Eval"}],"Anchor":"0",
                 "Timestamp":"1700000000000","Block-Height":null,"Extra":[1]}"#,
        )
        .unwrap();
        assert_eq!(ok["Timestamp"], 1_700_000_000_000u64);
        assert_eq!(ok["Extra"], json!([1]));
        for (body, field) in [
            (&br#"[1]"#[..], "body"),
            (b"{", "body"),
            (br#"{"Owner":5}"#, "Owner"),
            (br#"{"Tags":"Action"}"#, "Tags"),
            (br#"{"Tags":[{"name":"A","value":1}]}"#, "Tags[0].value"),
            (br#"{"Timestamp":"soon"}"#, "Timestamp"),
            (br#"{"Block-Height":true}"#, "Block-Height"),
        ] {
            assert_eq!(dry_run_message(body).unwrap_err().field, field);
        }
    }
}
