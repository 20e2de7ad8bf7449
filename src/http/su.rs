//! The Scheduler Unit's read API, as AO's legacy SU serves it (see [`crate::sched::su_api`]):
//! `GET /{process-id}?from=&to=&limit=&from-nonce=&to-nonce=` (a page),
//! `GET /{message-id}?process-id=` (one message with its assignment),
//! `GET /{process-id}/latest`, `GET /processes/{process-id}`, `GET /timestamp`.
//! The SU's `GET /` (`{timestamp, address}`) is left to the CU, which answers `GET /` too.

use super::Body;
use hyper::Request;

use super::NodeState;
use super::query::query_pairs;
use super::response::{self, ApiError, HttpResponse};
use crate::ao::Id;
use crate::sched::su_api::{self, PageQuery, SuError};

/// `GET /timestamp`.
pub fn timestamp(state: &NodeState) -> HttpResponse {
    let mut answer = su_api::timestamp(crate::clock::now_ms(), state.block_height.get());
    // Where the height came from: AO's SU answers only the two fields; these are extra.
    if let (serde_json::Value::Object(out), serde_json::Value::Object(source)) =
        (&mut answer, state.block_height.describe())
    {
        out.extend(source);
    }
    response::json(&answer)
}

/// `GET /processes/{id}`.
pub async fn process(state: &NodeState, id: &str) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let id = id.to_string();
    blocking(move || su_api::process(&store, &id)).await
}

/// `GET /{id}/latest`.
pub async fn latest(state: &NodeState, id: &Id) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let id = id.to_string();
    blocking(move || su_api::latest(&store, &id)).await
}

/// `GET /{id}`: a message of `process-id` when `id` is one of its messages, else a page of
/// the process `id`.
pub async fn read(
    state: &NodeState,
    id: &Id,
    req: &Request<Body>,
) -> Result<HttpResponse, ApiError> {
    let id = id.to_string();
    let params = query_pairs(req.uri().query())?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let query = PageQuery {
        from: number(get("from"), "from")?,
        to: number(get("to"), "to")?,
        from_nonce: number(get("from-nonce"), "from-nonce")?,
        to_nonce: number(get("to-nonce"), "to-nonce")?,
        limit: number(get("limit"), "limit")?,
    };
    let process_id = get("process-id").filter(|p| *p != id).map(str::to_string);
    let store = state.store.clone();
    blocking(move || match process_id {
        Some(pid) => su_api::message(&store, &pid, &id),
        None => su_api::page(&store, &id, &query),
    })
    .await
}

async fn blocking<F>(f: F) -> Result<HttpResponse, ApiError>
where
    F: FnOnce() -> Result<serde_json::Value, SuError> + Send + 'static,
{
    let value = tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("SU read task failed: {e}")))?
        .map_err(|e| match e {
            SuError::NotFound(m) => ApiError::not_found(m),
            other => ApiError::internal(other.to_string()),
        })?;
    Ok(response::json(&value))
}

fn number<T: std::str::FromStr>(value: Option<&str>, name: &str) -> Result<Option<T>, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse().map_err(|_| {
                ApiError::bad_request(format!(
                    "query parameter `{name}`: `{v}` is not a valid number"
                ))
            })
        })
        .transpose()
}
