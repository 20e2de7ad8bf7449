//! HyperBEAM's CU routes (`UNIT_MODE=hbu`, config `hyperbeam-url`), thin adapters over
//! [`crate::cu::hbu`]:
//!
//! | route | answer |
//! | --- | --- |
//! | `POST /result/{slot}?process-id=` | the slot's result; headers `slot`, `timestamp`, `block-height`, `ao-types`, ... |
//! | `POST /dry-run?process-id=` | a result for HyperBEAM's message JSON on the held state |
//! | `POST /snapshot/{process}` | a durable checkpoint now; `snapshot-*` headers |
//! | `GET /status` | 200 at once (HyperBEAM's 100 ms liveness probe) |
//!
//! | `POST /state` | `Successfully cached process memory for process <pid>` (text) |
//!
//! `POST /state` is HyperBEAM's load of an Arweave checkpoint it imported
//! (`genesis-wasm@1.0/import`): the body is the gzipped memory, the headers are the
//! checkpoint's tags ([`crate::cu::loaded`]). Bad headers or memory are 400 and load nothing.
//!
//! Refusals: a body that is not an aos-2 page, or not the page of the slot in the path, is 400;
//! a slot that is not the next one, or a broken hash chain, is 422 (the Node CU's status for
//! those); a slot already evaluated with another message is 409; HyperBEAM's scheduler failing
//! on a cold start is 502. Every refusal leaves the process as it was.

use super::Body;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, StatusCode};

use super::NodeState;
use super::cu::api_error;
use super::query::query_pairs;
use super::response::{self, ApiError, HttpResponse};
use crate::ao::Id;
use crate::ao::checkpoint_item;
use crate::cu::hbu::{HbuError, HyperBeam, answer};
use crate::cu::loaded::{Loaded, LoadedState};

fn hyperbeam(state: &NodeState) -> Result<&HyperBeam, ApiError> {
    state
        .hyperbeam
        .as_deref()
        .ok_or_else(|| ApiError::not_found("this node is not in HyperBEAM mode (no hyperbeam-url)"))
}

fn process_id(req: &Request<Body>) -> Result<Id, ApiError> {
    let params = query_pairs(req.uri().query())?;
    let text = params
        .iter()
        .find(|(k, _)| k == "process-id")
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request("process-id: a process-id is required"))?;
    text.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "process-id: `{text}` is not a 43-character base64url ID"
        ))
    })
}

/// How a refusal is answered.
pub fn hbu_error(error: HbuError) -> ApiError {
    let error = match error {
        HbuError::Cu(e) => return api_error(e),
        other => other,
    };
    let (status, kind) = match &error {
        HbuError::Cu(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        HbuError::Page(_) | HbuError::NotThisSlot(_) => (StatusCode::BAD_REQUEST, "bad-request"),
        HbuError::NotNext { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "not-next-slot"),
        HbuError::HashChain(_) => (StatusCode::UNPROCESSABLE_ENTITY, "hash-chain"),
        HbuError::Process(_) => (StatusCode::UNPROCESSABLE_ENTITY, "process"),
        HbuError::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
        HbuError::Scheduler(_) => (StatusCode::BAD_GATEWAY, "scheduler"),
    };
    ApiError {
        status,
        kind,
        message: error.to_string(),
        allow: None,
    }
}

fn with_headers(mut response: HttpResponse, headers: &[(&'static str, String)]) -> HttpResponse {
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(lower(name)), value);
        }
    }
    response
}

/// Header names are sent lower-case (HTTP/1.1 names are case-insensitive; hyper wants them so).
fn lower(name: &'static str) -> &'static str {
    match name {
        "Message" => "message",
        other => other,
    }
}

/// `POST /result/{slot}?process-id=`.
pub async fn result(
    state: &NodeState,
    slot: &str,
    req: Request<Body>,
) -> Result<HttpResponse, ApiError> {
    let hb = hyperbeam(state)?;
    let slot: u64 = slot
        .parse()
        .map_err(|_| ApiError::bad_request(format!("slot: `{slot}` is not a slot number")))?;
    let process = super::cu::admit(state, process_id(&req)?)?;
    let body = super::read_body(req, state.max_body_bytes).await?;
    let answer = hb.result(&process, slot, &body).await.map_err(hbu_error)?;
    Ok(with_headers(
        response::json(&answer.result),
        &answer.headers(),
    ))
}

/// `POST /dry-run?process-id=` in HyperBEAM mode.
pub async fn dry_run(state: &NodeState, req: Request<Body>) -> Result<HttpResponse, ApiError> {
    let hb = hyperbeam(state)?;
    let process = super::cu::admit(state, process_id(&req)?)?;
    let body = super::read_body(req, state.max_body_bytes).await?;
    let result = hb.dry_run(&process, &body).await.map_err(hbu_error)?;
    Ok(response::json(&result))
}

/// `POST /snapshot/{process}`.
pub async fn snapshot(
    state: &NodeState,
    process: &str,
    req: Request<Body>,
) -> Result<HttpResponse, ApiError> {
    let hb = hyperbeam(state)?;
    let pid: Id = process.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "process: `{process}` is not a 43-character base64url ID"
        ))
    })?;
    let pid = super::cu::admit(state, pid)?;
    // HyperBEAM sends `{}` or nothing; the body carries nothing this needs.
    super::read_body(req, state.max_body_bytes).await?;
    match hb.snapshot(&pid).await.map_err(hbu_error)? {
        Some(snapshot) => Ok(with_headers(
            response::json(&snapshot.body()),
            &snapshot.headers(),
        )),
        None => Ok(response::json_with_status(
            StatusCode::NOT_FOUND,
            &answer::no_memory(process),
        )),
    }
}

/// `POST /state`: the checkpoint's tags from the headers, its gzipped memory as the body (up
/// to the node's largest process memory: a gzip is smaller than what it holds).
pub async fn load_state(state: &NodeState, req: Request<Body>) -> Result<HttpResponse, ApiError> {
    let hb = hyperbeam(state)?;
    let tags = checkpoint_item::tags_from_fields(
        req.headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))),
    );
    let process = tags.get("Process").unwrap_or_default().to_string();
    let pid: Id = process.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "process: the `process` header `{process}` is not a 43-character base64url ID"
        ))
    })?;
    // Refused before the body is read, as every other route refuses.
    super::cu::admit(state, pid)?;
    let limit = hb.cu().limits().max_memory_bytes;
    let data = super::read_body(req, limit).await?.to_vec();
    match hb.load_state(LoadedState { tags, data }).await {
        Ok(Loaded::At(slot)) => tracing::info!(process, slot, "state loaded (POST /state)"),
        Ok(Loaded::Kept(slot)) => {
            tracing::info!(
                process,
                slot,
                "POST /state: the node holds the slot; its state is kept"
            )
        }
        Err(e) => return Err(hbu_error(e)),
    }
    Ok(response::with_body(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        format!("Successfully cached process memory for process {process}").into(),
    ))
}

/// `GET /status`: the liveness probe; it touches nothing, so it answers at once.
pub fn status(state: &NodeState) -> HttpResponse {
    response::json(&serde_json::json!({
        "status": "ok",
        "mode": if state.hyperbeam.is_some() { "hbu" } else { "cu" },
    }))
}
