//! The Compute Unit API, as AO's legacy CU serves it (`servers/cu/src/routes`), plus the AO-Core
//! style process paths of HyperBEAM:
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /result/{message}?process-id=` | `{Messages, Assignments, Spawns, Output, Error?, GasUsed}` |
//! | `GET /results/{process}?from=&to=&sort=&limit=` | `{pageInfo: {hasNextPage}, edges: [{cursor, node}]}` |
//! | `POST /dry-run?process-id=` | like `/result`, for a message evaluated on the latest state and forgotten |
//! | `GET /state/{process}` | the memory after the latest slot (`application/octet-stream`), `Last-Ordinate` etc. headers |
//! | `GET /cron/{process}` | the results of its cron messages, evaluated up to now |
//! | `GET /{process}~process@1.0/compute?slot=N`, `.../now` | `{process, at-slot, results: {outbox, data, ...}}` |
//!
//! Bad input is 400 naming the field, unknown processes and messages 404, an evaluation error
//! is a 200 with `Error` set (as AO clients expect), a fault of the node 5xx.

use std::sync::Arc;

use super::Body;
use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::{Request, StatusCode};
use serde_json::{Map, Value, json};

use super::NodeState;
use super::query::query_pairs;
use super::response::{self, ApiError, HttpResponse};
use crate::ao::Id;
use crate::cu::cron_page::CronQuery;
use crate::cu::query::{self, InvalidInput, ResultsQuery};
use crate::cu::{ComputeUnit, CuError};

/// The path segment suffix of AO-Core process paths (`{process}~process@1.0`).
pub const PROCESS_DEVICE: &str = "~process@1.0";

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// A process ID the node's access lists allow: 403 before anything is read or evaluated.
pub fn admit(state: &NodeState, process: Id) -> Result<Id, ApiError> {
    state
        .access
        .process(&process)
        .map_err(|refused| ApiError::forbidden(&refused))?;
    Ok(process)
}

/// A required ID, parsed here once: 400 naming `field` when absent or malformed.
fn require_id(value: Option<&str>, field: &str) -> Result<Id, ApiError> {
    let Some(text) = value else {
        return Err(ApiError::bad_request(format!(
            "{field}: a {field} is required"
        )));
    };
    text.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "{field}: `{text}` is not a 43-character base64url ID"
        ))
    })
}

fn cu(state: &NodeState) -> Result<&Arc<ComputeUnit>, ApiError> {
    state
        .cu
        .as_ref()
        .ok_or_else(|| ApiError::internal("this node runs no compute unit"))
}

/// How a CU failure is answered.
pub fn api_error(error: CuError) -> ApiError {
    match error {
        CuError::Invalid(e) => ApiError::bad_request(e.to_string()),
        CuError::Refused(refused) => ApiError::forbidden(&refused),
        CuError::UnknownProcess(_)
        | CuError::UnknownMessage { .. }
        | CuError::UnknownSlot { .. } => ApiError::not_found(error.to_string()),
        CuError::Remote(_) => {
            tracing::warn!(error = %error, "remote scheduler");
            ApiError {
                status: StatusCode::BAD_GATEWAY,
                kind: error.kind(),
                message: error.to_string(),
                allow: None,
            }
        }
        CuError::OverBudget { .. } => ApiError {
            status: StatusCode::INSUFFICIENT_STORAGE,
            kind: error.kind(),
            message: error.to_string(),
            allow: None,
        },
        CuError::Busy(_) => ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            kind: "busy",
            message: error.to_string(),
            allow: None,
        },
        other => {
            tracing::error!(error = %other, "compute unit fault");
            ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                kind: other.kind(),
                message: other.to_string(),
                allow: None,
            }
        }
    }
}

fn invalid(e: InvalidInput) -> ApiError {
    ApiError::bad_request(e.to_string())
}

/// `GET /`: the node's address (its wallet's) and its clock, as AO's CU answers its
/// healthcheck (`domain/api/healthcheck.js`).
pub async fn root(state: &NodeState) -> Result<HttpResponse, ApiError> {
    // The node's address is its wallet's; a node without one yet makes it here (once).
    let scheduler = state.scheduler.get().await.map_err(|e| ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        kind: "no-wallet",
        message: format!("the node wallet is not available: {e}"),
        allow: None,
    })?;
    Ok(response::json(
        &json!({ "address": scheduler.address(), "timestamp": crate::clock::now_ms() }),
    ))
}

/// `GET /result/{message}?process-id=`.
pub async fn result(
    state: &NodeState,
    message: &str,
    req: &Request<Body>,
) -> Result<HttpResponse, ApiError> {
    let params = query_pairs(req.uri().query())?;
    let message = require_id(Some(message), "message")?;
    let process = admit(
        state,
        require_id(param(&params, "process-id"), "process-id")?,
    )?;
    let result = cu(state)?
        .result(&process, &message)
        .await
        .map_err(api_error)?;
    Ok(response::json(&result))
}

/// `GET /results/{process}?from=&to=&sort=&limit=`.
pub async fn results(
    state: &NodeState,
    process: &str,
    req: &Request<Body>,
) -> Result<HttpResponse, ApiError> {
    let process = admit(state, require_id(Some(process), "process")?)?;
    let params = query_pairs(req.uri().query())?;
    let query = ResultsQuery::parse(&params).map_err(invalid)?;
    let page = cu(state)?
        .results(&process, &query)
        .await
        .map_err(api_error)?;
    Ok(response::json(&page))
}

/// `POST /dry-run?process-id=` with the message as JSON.
pub async fn dry_run(state: &NodeState, req: Request<Body>) -> Result<HttpResponse, ApiError> {
    let params = query_pairs(req.uri().query())?;
    let process = admit(
        state,
        require_id(param(&params, "process-id"), "process-id")?,
    )?;
    if let Some(to) = param(&params, "to") {
        require_id(Some(to), "to")?;
    }
    let body = super::read_body(req, state.max_body_bytes).await?;
    let message = query::dry_run_message(&body).map_err(invalid)?;
    let (result, charge) = cu(state)?
        .dry_run(&process, message)
        .await
        .map_err(api_error)?;
    let mut response = response::json(&result);
    // What it cost, beside the result (whose shape is AO's): the amount, in the currency of
    // the node's price schedule.
    let headers = response.headers_mut();
    for (name, value) in [
        (CHARGE_HEADER, charge.amount.to_string()),
        (CHARGE_CURRENCY_HEADER, state.price.get().currency),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    Ok(response)
}

/// The header of a dry-run answer that says what it was charged.
pub const CHARGE_HEADER: &str = "aocu-charge";
/// The header that names the currency of [`CHARGE_HEADER`].
pub const CHARGE_CURRENCY_HEADER: &str = "aocu-charge-currency";

/// `GET /state/{process}`: the process memory, with the position of its last evaluated
/// message in `Last-Timestamp`, `Last-Ordinate` (its slot) and `Last-Block-Height`.
pub async fn state(state: &NodeState, process: &str) -> Result<HttpResponse, ApiError> {
    let process = admit(state, require_id(Some(process), "process")?)?;
    let memory = cu(state)?.state(&process).await.map_err(api_error)?;
    let mut response = response::with_body(
        StatusCode::OK,
        "application/octet-stream",
        Bytes::from(memory.memory),
    );
    if let Some(slot) = memory.slot {
        let headers = response.headers_mut();
        for (name, value) in [
            ("Last-Timestamp", memory.timestamp),
            ("Last-Ordinate", slot),
            ("Last-Block-Height", memory.block_height),
        ] {
            headers.insert(name, HeaderValue::from(value));
        }
    }
    Ok(response)
}

/// `GET /cron/{process}?from=&to=&limit=`: the results of its cron messages, after
/// evaluating up to now (see [`crate::cu::cron_page`]).
pub async fn cron(
    state: &NodeState,
    process: &str,
    req: &Request<Body>,
) -> Result<HttpResponse, ApiError> {
    let process = admit(state, require_id(Some(process), "process")?)?;
    let params = query_pairs(req.uri().query())?;
    let query = CronQuery::parse(&params).map_err(invalid)?;
    let page = cu(state)?.cron(&process, &query).await.map_err(api_error)?;
    Ok(response::json(&page))
}

/// Which slot an AO-Core process path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessPath {
    /// `compute?slot=N` (or `compute&slot=N`).
    Compute(u64),
    /// `now`: the latest slot.
    Now,
}

/// Parse the rest of `/{process}~process@1.0/...`: `compute` with a slot, or `now`.
pub fn process_path(rest: &[&str], params: &[(String, String)]) -> Result<ProcessPath, ApiError> {
    let slot_of = |text: &str| {
        text.trim().parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!("slot: expected a whole number, got `{text}`"))
        })
    };
    match rest {
        ["now"] => Ok(ProcessPath::Now),
        [key] if key.starts_with("compute") => {
            // HyperBEAM also takes parameters inside the path segment: `compute&slot=3`.
            let inline = key
                .split('&')
                .skip(1)
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "slot")
                .map(|(_, v)| v);
            if *key != "compute" && !key.starts_with("compute&") {
                return Err(ApiError::not_found(format!("no process key `{key}`")));
            }
            match inline.or_else(|| param(params, "slot")) {
                Some(text) => Ok(ProcessPath::Compute(slot_of(text)?)),
                None => Err(ApiError::bad_request("slot: a slot is required")),
            }
        }
        _ => Err(ApiError::not_found(format!(
            "no process key `{}` (known: compute, now)",
            rest.join("/")
        ))),
    }
}

/// `GET /{process}~process@1.0/compute?slot=N` and `.../now`.
pub async fn process_device(
    state: &NodeState,
    process: &str,
    rest: &[&str],
    req: &Request<Body>,
) -> Result<HttpResponse, ApiError> {
    let process = admit(state, require_id(Some(process), "process")?)?;
    let params = query_pairs(req.uri().query())?;
    let path = process_path(rest, &params)?;
    let cu = cu(state)?;
    let slot = match path {
        ProcessPath::Compute(slot) => slot,
        ProcessPath::Now => {
            let next = cu.evaluate_to(&process, None).await.map_err(api_error)?;
            next.saturating_sub(1)
        }
    };
    let result = cu.result_at(&process, slot).await.map_err(api_error)?;
    Ok(response::json(&ao_core_results(
        &process.to_string(),
        slot,
        &result,
    )))
}

/// A result in the shape of HyperBEAM's process state after a slot (`dev_json_iface`): the
/// outbox as a map numbered from 1, each message's tags lifted into its keys with
/// `from-process`, and `data` the output's `data` (or the error).
pub fn ao_core_results(process: &str, slot: u64, result: &Value) -> Value {
    let mut outbox = Map::new();
    if let Some(messages) = result.get("Messages").and_then(Value::as_array) {
        for (i, message) in messages.iter().enumerate() {
            outbox.insert((i + 1).to_string(), outbox_message(process, message));
        }
    }
    let data = match (result.get("Error"), result.get("Output")) {
        (Some(error), _) if !error.is_null() => error.clone(),
        (_, Some(Value::Object(output))) => output.get("data").cloned().unwrap_or(Value::Null),
        (_, Some(other)) => other.clone(),
        _ => Value::Null,
    };
    json!({
        "process": process,
        "at-slot": slot,
        "results": {
            "outbox": outbox,
            "data": data,
            "output": result.get("Output").cloned().unwrap_or(Value::Null),
            "spawns": result.get("Spawns").cloned().unwrap_or_else(|| json!([])),
            "assignments": result.get("Assignments").cloned().unwrap_or_else(|| json!([])),
        },
    })
}

fn outbox_message(process: &str, message: &Value) -> Value {
    let mut out = Map::new();
    if let Value::Object(fields) = message {
        for (k, v) in fields {
            let key = k.to_ascii_lowercase();
            if !matches!(
                key.as_str(),
                "tags" | "anchor" | "from-process" | "from-image"
            ) {
                out.insert(key, v.clone());
            }
        }
        if let Some(tags) = fields.get("Tags").and_then(Value::as_array) {
            for t in tags {
                if let (Some(name), Some(value)) =
                    (t.get("name").and_then(Value::as_str), t.get("value"))
                {
                    out.insert(name.to_string(), value.clone());
                }
            }
        }
    }
    out.insert("from-process".into(), json!(process));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        query_pairs(Some(query)).unwrap()
    }

    #[test]
    fn query_errors_are_the_apis_400() {
        // The parser's own cases are in `http::query`; here the error is the API's 400.
        let err = ApiError::from(query_pairs(Some("a=%zz")).unwrap_err());
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn ids_are_checked_and_named() {
        let id = "A".repeat(43);
        assert_eq!(require_id(Some(&id), "process-id").unwrap().to_string(), id);
        let err = require_id(None, "process-id").unwrap_err();
        assert!(err.message.starts_with("process-id:"), "{}", err.message);
        let err = require_id(Some("short"), "message").unwrap_err();
        assert!(err.message.starts_with("message:"), "{}", err.message);
        assert!(require_id(Some(&"A".repeat(42)), "to").is_err());
        assert!(require_id(Some(&format!("{}!", "A".repeat(42))), "to").is_err());
    }

    #[test]
    fn process_paths() {
        assert_eq!(process_path(&["now"], &[]).unwrap(), ProcessPath::Now);
        assert_eq!(
            process_path(&["compute"], &pairs("slot=3")).unwrap(),
            ProcessPath::Compute(3)
        );
        assert_eq!(
            process_path(&["compute&slot=7"], &[]).unwrap(),
            ProcessPath::Compute(7)
        );
        let err = process_path(&["compute"], &[]).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.message.starts_with("slot:"));
        let err = process_path(&["compute"], &pairs("slot=x")).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            process_path(&["state"], &[]).unwrap_err().status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            process_path(&["computed"], &[]).unwrap_err().status,
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn ao_core_shape() {
        let result = json!({
            "Output": {"data": "2", "prompt": "> "},
            "Messages": [{"Target": "T", "Data": "hi", "Anchor": "1",
                          "Tags": [{"name": "Action", "value": "Ping"}]}],
            "Spawns": [], "Assignments": [], "GasUsed": 5
        });
        let shaped = ao_core_results("P", 4, &result);
        assert_eq!(shaped["at-slot"], 4);
        assert_eq!(shaped["results"]["data"], "2");
        let m = &shaped["results"]["outbox"]["1"];
        assert_eq!(m["target"], "T");
        assert_eq!(m["Action"], "Ping");
        assert_eq!(m["from-process"], "P");
        assert!(m.get("anchor").is_none() && m.get("tags").is_none());
        let failed = ao_core_results("P", 1, &json!({"Error": "boom", "Output": ""}));
        assert_eq!(failed["results"]["data"], "boom");
    }
}
