//! `GET /cron/{process}?from=&to=&limit=`: pages of cron results as AO's Node CU answers them
//! (`routes/cron.js`, `domain/api/readCronResults.js`, `effects/ao-evaluation.js`).
//!
//! The Node CU keys every evaluation by the text `timestamp,ordinate,cron` and filters on it
//! as text: `from` exclusive, `to` inclusive, each either a cursor
//! (`base64(JSON {timestamp, ordinate, cron, sort})`) or a bare timestamp. A bare `from`
//! timestamp is a prefix of every key at that timestamp, so those keys sort after it: such a
//! `from` includes its own timestamp; a bare `to` timestamp includes all of its own. Pages are
//! ascending by (timestamp, ordinate, cron), at most 1,000 (default 500). aocu keeps those
//! rules; its ordinate is the slot a cron message follows.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::query::{InvalidInput, param};
use crate::store::{CronResult, Store, StoreError};

/// The Node CU's default and largest page.
const DEFAULT_LIMIT: usize = 500;
const MAX_LIMIT: usize = 1000;

/// A validated `/cron` query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CronQuery {
    from: Option<Bound>,
    to: Option<Bound>,
    limit: usize,
}

/// One end of the range, as the Node CU's key text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bound {
    key: String,
    /// The slot a cursor names (where a scan may start); `None` for a bare timestamp.
    slot: Option<u64>,
}

impl CronQuery {
    /// Parse `from`, `to` and `limit` (empty values count as absent).
    pub fn parse(params: &[(String, String)]) -> Result<CronQuery, InvalidInput> {
        let get = |name: &str| param(params, name);
        let limit = match get("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => text.trim().parse::<usize>().map_err(|_| InvalidInput {
                field: "limit".into(),
                message: format!("expected a non-negative integer, got {text:?}"),
            })?,
        };
        Ok(CronQuery {
            from: get("from").map(|t| bound(t, false)),
            to: get("to").map(|t| bound(t, true)),
            limit: limit.min(MAX_LIMIT),
        })
    }
}

/// A cursor's key, or a bare timestamp's: exclusive-from is the text itself; an inclusive `to`
/// that is a bare timestamp extends past every ordinate of it (the Node CU appends U+10FFFF).
fn bound(text: &str, to: bool) -> Bound {
    if let Some(cursor) = parse_cursor(text) {
        let field = |name: &str| match cursor.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        let timestamp = field("timestamp").unwrap_or_default();
        let ordinate = field("ordinate");
        let slot = ordinate.as_deref().and_then(|o| o.parse().ok());
        let ordinate = match ordinate {
            None if to => Some('\u{10FFFF}'.to_string()),
            other => other,
        };
        let parts = [Some(timestamp), ordinate, field("cron")];
        let key = parts.into_iter().flatten().collect::<Vec<_>>().join(",");
        return Bound { key, slot };
    }
    let key = if to {
        format!("{text},\u{10FFFF}")
    } else {
        text.to_string()
    };
    Bound { key, slot: None }
}

/// `JSON.parse(atob(text))` when that is an object (the Node CU's `maybeBase64Object`).
fn parse_cursor(text: &str) -> Option<serde_json::Map<String, Value>> {
    let cleaned: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let padded = match cleaned.len() % 4 {
        2 => format!("{cleaned}=="),
        3 => format!("{cleaned}="),
        _ => cleaned,
    };
    let bytes = STANDARD.decode(padded).ok()?;
    // atob yields one character per byte (Latin-1).
    let text: String = bytes.iter().map(|&b| char::from(b)).collect();
    match serde_json::from_str(&text).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The key text of a stored cron result.
fn key_of(slot: u64, result: &CronResult) -> String {
    format!("{},{},{}", result.timestamp, slot, result.cron)
}

/// The cursor of a stored cron result.
fn cursor_of(slot: u64, result: &CronResult) -> String {
    let cursor = json!({
        "timestamp": result.timestamp,
        "ordinate": slot.to_string(),
        "cron": result.cron,
        "sort": "ASC",
    });
    STANDARD.encode(cursor.to_string())
}

/// One page: `{pageInfo: {hasNextPage}, edges: [{node: result, cursor}]}`.
pub fn page(store: &Store, process_id: &str, query: &CronQuery) -> Result<Value, StoreError> {
    let start = query.from.as_ref().and_then(|b| b.slot).unwrap_or(0);
    let mut picked: Vec<(u64, CronResult)> = Vec::new();
    let mut next = (start, 0);
    // Stored order (slot, position) is ascending in time; the page's order ties by text, so
    // the scan runs on until the timestamp after the last needed one.
    'scan: loop {
        let chunk = store.cron_results(process_id, next, 256)?;
        let Some(&(slot, position, _)) = chunk.last() else {
            break;
        };
        next = (slot, position + 1);
        for (slot, _, result) in chunk {
            let key = key_of(slot, &result);
            if query
                .from
                .as_ref()
                .is_some_and(|f| key.as_str() <= f.key.as_str())
            {
                continue;
            }
            if query
                .to
                .as_ref()
                .is_some_and(|t| key.as_str() > t.key.as_str())
            {
                continue;
            }
            let full = picked.len() > query.limit;
            if full
                && picked
                    .last()
                    .is_some_and(|(_, last)| last.timestamp < result.timestamp)
            {
                break 'scan;
            }
            picked.push((slot, result));
        }
    }
    picked.sort_by(|(sa, a), (sb, b)| {
        (a.timestamp, sa.to_string(), &a.cron).cmp(&(b.timestamp, sb.to_string(), &b.cron))
    });
    let has_next = picked.len() > query.limit;
    let edges: Vec<Value> = picked
        .iter()
        .take(query.limit)
        .map(|(slot, r)| json!({"node": r.result, "cursor": cursor_of(*slot, r)}))
        .collect();
    Ok(json!({"pageInfo": {"hasNextPage": has_next}, "edges": edges}))
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
    fn cursors_round_trip_and_bare_timestamps_stay_text() {
        let r = CronResult {
            cron: "0-5-seconds".into(),
            timestamp: 1_700_000_005_000,
            block_height: 3,
            result: json!({}),
        };
        let cursor = cursor_of(7, &r);
        let b = bound(&cursor, false);
        assert_eq!(b.key, key_of(7, &r));
        assert_eq!(b.slot, Some(7));
        let bare = bound("1700000005000", false);
        assert_eq!((bare.key.as_str(), bare.slot), ("1700000005000", None));
        assert!(
            bare.key.as_str() < key_of(7, &r).as_str(),
            "a bare from includes its timestamp"
        );
        assert!(bound("1700000005000", true).key.as_str() > key_of(7, &r).as_str());
    }

    #[test]
    fn limits() {
        assert_eq!(CronQuery::parse(&params(&[])).unwrap().limit, 500);
        assert_eq!(
            CronQuery::parse(&params(&[("limit", "5000")]))
                .unwrap()
                .limit,
            1000
        );
        assert!(CronQuery::parse(&params(&[("limit", "-1")])).is_err());
        assert!(CronQuery::parse(&params(&[("limit", "ten")])).is_err());
    }
}
