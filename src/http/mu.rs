//! The Messenger Unit's ingest, as AO's legacy MU accepts it: `POST /` with a signed ANS-104
//! data item as the body. The item is verified, then scheduled (spawn or message) and committed
//! durably before the answer, which is the MU's: `202 {"message": "Processing DataItem",
//! "id": <item id>}`. A bad item is a 400 naming the reason; nothing is stored.
//! Also `POST /~module@1.0` (see [`crate::ao::module_item`]).

use super::Body;
use hyper::{Request, StatusCode};
use serde_json::json;

use super::response::{self, ApiError, HttpResponse};
use super::{NodeState, read_body};
use crate::ao::Tag;
use crate::ao::module_item::{self, ModuleError};
use crate::ao::{DataItem, ItemError};
use crate::sched::SchedError;

/// `POST /`: schedule a signed data item.
pub async fn post(state: &NodeState, req: Request<Body>) -> Result<HttpResponse, ApiError> {
    let body = read_body(req, state.max_body_bytes).await?;
    let scheduler = state.scheduler.get().await.map_err(sched_error)?.clone();
    let scheduled = tokio::task::spawn_blocking(move || {
        let item = DataItem::parse_verified(&body).map_err(item_error)?;
        scheduler.submit(&item).map_err(sched_error)
    })
    .await
    .map_err(|e| ApiError::internal(format!("scheduling task failed: {e}")))??;
    // With eager evaluation on, the process starts on the new message in the background.
    if let Some(cu) = &state.cu {
        cu.notify(&scheduled.assignment.process);
    }
    Ok(response::json_with_status(
        StatusCode::ACCEPTED,
        &json!({ "message": "Processing DataItem", "id": scheduled.id }),
    ))
}

/// `POST /~module@1.0`: store a module. The body is either a signed data item (AO tooling's
/// way: `Content-Type: application/octet-stream` or anything that is not WASM) or raw WASM,
/// which the node signs with its wallet, taking tag overrides from the query string
/// (`?Memory-Limit=4-gb&Name=x`). Answers `{"id", "owner", "tags", "size"}`.
pub async fn post_module(state: &NodeState, req: Request<Body>) -> Result<HttpResponse, ApiError> {
    let overrides: Vec<Tag> = super::query::query_pairs(req.uri().query())?
        .into_iter()
        .map(|(name, value)| Tag::new(name, value))
        .collect();
    let body = read_body(req, state.max_body_bytes).await?;
    let scheduler = state.scheduler.get().await.map_err(sched_error)?.clone();
    let record = tokio::task::spawn_blocking(move || {
        let item = module_from(&scheduler, &body, &overrides).map_err(module_error)?;
        scheduler
            .store()
            .put_module_item(&item)
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
    .map_err(|e| ApiError::internal(format!("module task failed: {e}")))??;
    Ok(response::json(&json!({
        "id": record.id,
        "owner": record.owner,
        "tags": record.tags,
        "size": record.size,
    })))
}

/// The module item of a `POST /~module@1.0` body: raw WASM signed here with `overrides`, or
/// the publisher's signed item, checked.
fn module_from(
    scheduler: &crate::sched::Scheduler,
    body: &[u8],
    overrides: &[Tag],
) -> Result<DataItem, ModuleError> {
    if body.starts_with(b"\0asm") {
        return module_item::build(scheduler.wallet(), body.to_vec(), overrides);
    }
    if !overrides.is_empty() {
        return Err(ModuleError::Invalid(
            "tags in the query apply to raw WASM only; a signed item carries its own".into(),
        ));
    }
    let item = DataItem::parse(body)?;
    module_item::check_signed(&item)?;
    Ok(item)
}

fn item_error(e: ItemError) -> ApiError {
    match e {
        ItemError::Sign(m) => ApiError::internal(m),
        other => ApiError::bad_request(other.to_string()),
    }
}

fn module_error(e: ModuleError) -> ApiError {
    match e {
        ModuleError::Invalid(m) => ApiError::bad_request(m),
        ModuleError::Item(e) => item_error(e),
    }
}

/// Map a scheduling error to its status: the sender's faults are 4xx, the node's 5xx.
pub fn sched_error(e: SchedError) -> ApiError {
    let message = e.to_string();
    match e {
        SchedError::Invalid(_) | SchedError::BadId(_) => ApiError::bad_request(message),
        SchedError::UnknownProcess(_) => ApiError::not_found(message),
        SchedError::ProcessExists(_) | SchedError::Duplicate { .. } => ApiError {
            status: StatusCode::CONFLICT,
            kind: "conflict",
            message,
            allow: None,
        },
        SchedError::Sign(_) | SchedError::Wallet(_) | SchedError::Store(_) => {
            ApiError::internal(message)
        }
    }
}
