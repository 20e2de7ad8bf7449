//! `GET /results`: a page of stored evaluations of a process, as AO's CU answers it:
//! `{"pageInfo": {"hasNextPage": bool}, "edges": [{"cursor": "...", "node": {...}}]}`.
//!
//! Evaluations are ordered by (timestamp, nonce). Slots carry non-decreasing timestamps and
//! their nonce is the slot, so that order is slot order and a range of positions is a range of
//! slots, found by binary search over the schedule. As AO's CU does, evaluations that ended in
//! an `Error` are left out (`domain/lib/gatherResults.js`).

use serde_json::{Value, json};

use super::output::{has_error, results_node};
use super::query::{Position, ResultsQuery, Sort};
use crate::store::{Store, StoreError};

/// How many results are read from the store at a time while filling a page.
const CHUNK: u64 = 128;

/// The position of a slot in a process' history, from its assignment.
pub fn position(
    store: &Store,
    process_id: &str,
    slot: u64,
) -> Result<Option<Position>, StoreError> {
    Ok(store
        .messages(process_id, slot, slot, 1)?
        .first()
        .map(|m| Position {
            timestamp: m.assignment.timestamp,
            ordinate: m.assignment.slot,
        }))
}

/// The slots `lo..=hi` (within `0..next_slot`) whose positions the query's range contains, or
/// `None` when it contains none.
pub fn slot_range(
    store: &Store,
    process_id: &str,
    next_slot: u64,
    query: &ResultsQuery,
) -> Result<Option<(u64, u64)>, StoreError> {
    if next_slot == 0 {
        return Ok(None);
    }
    // First slot after `from` (positions only grow with the slot, so the predicate is monotone).
    let lo = match query.from {
        None => 0,
        Some(from) => first_slot(next_slot, |slot| {
            Ok(position(store, process_id, slot)?.is_none_or(|p| from.after_from(p)))
        })?,
    };
    // First slot past `to`, minus one.
    let end = match query.to {
        None => next_slot,
        Some(to) => first_slot(next_slot, |slot| {
            Ok(position(store, process_id, slot)?.is_none_or(|p| !to.within_to(p)))
        })?,
    };
    if lo >= end {
        return Ok(None);
    }
    Ok(Some((lo, end - 1)))
}

/// The smallest slot in `0..n` for which `pred` holds (`n` when none), `pred` being monotone.
fn first_slot(
    n: u64,
    mut pred: impl FnMut(u64) -> Result<bool, StoreError>,
) -> Result<u64, StoreError> {
    let (mut lo, mut hi) = (0u64, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid)? {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(lo)
}

/// A page of the stored results in `lo..=hi`, in the query's order, at most `limit` edges,
/// without errored evaluations.
pub fn page(
    store: &Store,
    process_id: &str,
    range: Option<(u64, u64)>,
    query: &ResultsQuery,
) -> Result<Value, StoreError> {
    let mut edges = Vec::new();
    let mut has_next = false;
    let want = query.limit;
    if let Some((lo, hi)) = range {
        let mut next = match query.sort {
            Sort::Asc => Some(lo),
            Sort::Desc => Some(hi),
        };
        'chunks: while let Some(at) = next {
            let (a, b) = match query.sort {
                Sort::Asc => (at, at.saturating_add(CHUNK - 1).min(hi)),
                Sort::Desc => (at.saturating_sub(CHUNK - 1).max(lo), at),
            };
            let mut chunk = store.results(process_id, a, b, usize::MAX)?;
            let messages = store.messages(process_id, a, b, usize::MAX)?;
            if query.sort == Sort::Desc {
                chunk.reverse();
            }
            for (slot, stored) in chunk {
                if has_error(&stored.result) {
                    continue;
                }
                if edges.len() as u64 == want {
                    has_next = true;
                    break 'chunks;
                }
                let Some(m) = messages.iter().find(|m| m.assignment.slot == slot) else {
                    continue;
                };
                let cursor = Position {
                    timestamp: m.assignment.timestamp,
                    ordinate: slot,
                }
                .cursor();
                edges.push(json!({ "cursor": cursor, "node": results_node(&stored.result) }));
            }
            next = match query.sort {
                Sort::Asc => (b < hi).then_some(b + 1),
                Sort::Desc => (a > lo).then(|| a - 1),
            };
        }
    }
    Ok(json!({ "pageInfo": { "hasNextPage": has_next }, "edges": edges }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Assignment, ProcessRecord, ScheduledMessage, StoredResult};

    const PID: &str = "PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP";

    /// A process of `n` slots; slots 2k and 2k+1 share a timestamp; slot 4 errored.
    fn fixture(n: u64) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for slot in 0..n {
            store
                .append(PID, None, |_| {
                    let record = ProcessRecord {
                        id: PID.into(),
                        owner: "O".into(),
                        module: "M".into(),
                        scheduler: "S".into(),
                        tags: Default::default(),
                        next_slot: slot + 1,
                        last_message_id: format!("m{slot}"),
                        last_hash_chain: String::new(),
                        last_timestamp: 1000 + slot / 2,
                    };
                    let message = ScheduledMessage {
                        id: format!("m{slot}"),
                        assignment: Assignment {
                            process: PID.into(),
                            slot,
                            epoch: 0,
                            timestamp: 1000 + slot / 2,
                            block_height: 1,
                            hash_chain: String::new(),
                        },
                        message: json!({}),
                    };
                    Ok((record, message))
                })
                .unwrap();
            let result = if slot == 4 {
                json!({ "Error": "boom" })
            } else {
                json!({ "Output": format!("out {slot}") })
            };
            store
                .put_result(
                    PID,
                    slot,
                    &StoredResult {
                        message_id: format!("m{slot}"),
                        result,
                    },
                )
                .unwrap();
        }
        (dir, store)
    }

    fn outputs(page: &Value) -> Vec<String> {
        page["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["Output"].as_str().unwrap().to_string())
            .collect()
    }

    fn run(store: &Store, params: &[(&str, &str)]) -> Value {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let query = ResultsQuery::parse(&params).unwrap();
        let next_slot = store.process(PID).unwrap().unwrap().next_slot;
        let range = slot_range(store, PID, next_slot, &query).unwrap();
        page(store, PID, range, &query).unwrap()
    }

    #[test]
    fn pages_in_both_orders_without_errors() {
        let (_dir, store) = fixture(300);
        let all = run(&store, &[("limit", "1000")]);
        assert_eq!(all["edges"].as_array().unwrap().len(), 299);
        assert_eq!(all["pageInfo"]["hasNextPage"], false);
        assert!(!outputs(&all).contains(&"out 4".to_string()));
        let first = run(&store, &[("limit", "3")]);
        assert_eq!(outputs(&first), ["out 0", "out 1", "out 2"]);
        assert_eq!(first["pageInfo"]["hasNextPage"], true);
        let cursor = first["edges"][2]["cursor"].as_str().unwrap().to_string();
        let next = run(&store, &[("limit", "3"), ("from", &cursor)]);
        assert_eq!(outputs(&next), ["out 3", "out 5", "out 6"]);
        let desc = run(&store, &[("limit", "200"), ("sort", "DESC")]);
        assert_eq!(outputs(&desc)[0], "out 299");
        assert_eq!(desc["pageInfo"]["hasNextPage"], true);
        let all_cursors: Vec<&Value> = all["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["cursor"])
            .collect();
        let desc_all = run(&store, &[("limit", "1000"), ("sort", "DESC")]);
        let mut desc_cursors: Vec<&Value> = desc_all["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["cursor"])
            .collect();
        desc_cursors.reverse();
        assert_eq!(
            all_cursors, desc_cursors,
            "a cursor does not depend on the order"
        );
    }

    #[test]
    fn bounds_by_cursor_and_timestamp() {
        let (_dir, store) = fixture(20);
        let all = run(&store, &[]);
        let c = |i: usize| all["edges"][i]["cursor"].as_str().unwrap().to_string();
        // Edges skip slot 4: edge i is slot i for i < 4, slot i+1 after.
        let middle = run(&store, &[("from", &c(1)), ("to", &c(5))]);
        assert_eq!(outputs(&middle), ["out 2", "out 3", "out 5", "out 6"]);
        // Timestamps: slots 6 and 7 are at 1003 (bare from is inclusive), 10 and 11 at 1005.
        let by_time = run(&store, &[("from", "1003"), ("to", "1005")]);
        assert_eq!(
            outputs(&by_time),
            ["out 6", "out 7", "out 8", "out 9", "out 10", "out 11"]
        );
        let none = run(&store, &[("from", "2000")]);
        assert_eq!(none["edges"], json!([]));
        assert_eq!(none["pageInfo"]["hasNextPage"], false);
        let empty = slot_range(&store, PID, 0, &ResultsQuery::parse(&[]).unwrap()).unwrap();
        assert_eq!(empty, None);
    }
}
