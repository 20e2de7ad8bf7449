//! The small part of the Arweave gateway interface that AO clients use to look things up:
//! `POST /graphql` (and `GET /graphql?query=`) over what the node holds, and `GET /raw/{id}`.
//!
//! `@permaweb/aoconnect`'s `spawn` reads the module's tags here; `@permaweb/ao-scheduler-utils`
//! finds a scheduler's URL through its `Scheduler-Location` record and a process' scheduler
//! through its `Scheduler` tag. See `docs/ao-http-api.md` for the exact queries.
//!
//! This is the HTTP adapter: it reads the request ([`request`]), hands it to the GraphQL
//! model and executor in [`crate::gateway`], and shapes the answer or the error.

pub mod request;

use super::Body;
use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use serde_json::json;

use super::response::{self, ApiError, HttpResponse};
use super::{NodeState, read_body};
use crate::ao::Id;
use crate::gateway::records::{self, NodeRecords, SchedulerLocation, data_bytes};
use crate::gateway::{self as model, ExecError, QueryError};
pub use request::{GraphqlRequest, RequestError, request_from_body, request_from_query};

/// Largest GraphQL request body: queries are small.
pub const GRAPHQL_BODY_LIMIT: u64 = 1024 * 1024;

/// `POST /graphql` or `GET /graphql?query=&variables=&operationName=`.
pub async fn graphql(state: &NodeState, req: Request<Body>) -> Result<HttpResponse, ApiError> {
    let location = node_address(state)
        .await
        .map(|(address, key)| scheduler_location(state, &req, address, key));
    let request = match *req.method() {
        Method::POST => {
            let body = read_body(req, GRAPHQL_BODY_LIMIT).await?;
            request_from_body(&body)
        }
        Method::GET => request_from_query(req.uri().query()),
        _ => return Err(ApiError::method_not_allowed("GET, POST")),
    };
    let request = match request {
        Ok(r) => r,
        Err(e) => return Ok(graphql_error("bad-query", &e.to_string())),
    };
    let store = state.store.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let fields = model::parse(
            &request.query,
            request.operation_name.as_deref(),
            &request.variables,
        )?;
        let source = NodeRecords {
            store: &store,
            scheduler: location,
        };
        model::execute(&fields, &source)
    })
    .await
    .map_err(|e| ApiError::internal(format!("the GraphQL task failed: {e}")))?;
    match answer {
        Ok(data) => Ok(response::json(&json!({ "data": data }))),
        Err(ExecError::Query(e @ QueryError::Unsupported(_))) => {
            Ok(graphql_error("unsupported-query", &e.to_string()))
        }
        Err(ExecError::Query(e)) => Ok(graphql_error("bad-query", &e.to_string())),
        Err(ExecError::Store(e)) => Err(ApiError::internal(e.to_string())),
    }
}

/// `GET /raw/{id}` (`HEAD` too): a module's bytes, or a scheduled message's `Data`.
pub async fn raw(state: &NodeState, id: &str, head: bool) -> Result<HttpResponse, ApiError> {
    let id: Id = id.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "`{id}` is not a transaction ID (43 base64url characters)"
        ))
    })?;
    let store = state.store.clone();
    let key = id.to_string();
    let found = tokio::task::spawn_blocking(move || -> Result<_, crate::store::StoreError> {
        let id = key;
        if let Some(module) = store.module(&id)? {
            let content_type = module
                .tags
                .get("Content-Type")
                .unwrap_or("application/wasm")
                .to_string();
            return Ok(store.module_bytes(&id)?.map(|b| (content_type, b)));
        }
        let records = NodeRecords {
            store: &store,
            scheduler: None,
        };
        Ok(records.message(&id)?.map(|m| {
            let record = records::message_record(&m);
            let content_type = record
                .data_type
                .unwrap_or_else(|| "application/octet-stream".to_string());
            (content_type, data_bytes(m.message.get("Data")))
        }))
    })
    .await
    .map_err(|e| ApiError::internal(format!("the raw-data task failed: {e}")))?
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let Some((content_type, bytes)) = found else {
        return Err(ApiError::not_found(format!(
            "no module or message with ID {id} on this node"
        )));
    };
    let length = bytes.len();
    let mut response = response::with_body(
        StatusCode::OK,
        "application/octet-stream",
        if head {
            Bytes::new()
        } else {
            Bytes::from(bytes)
        },
    );
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    Ok(response)
}

/// 400 in GraphQL's error shape and the node's (`error`, `kind`) at once.
fn graphql_error(kind: &str, message: &str) -> HttpResponse {
    response::json_with_status(
        StatusCode::BAD_REQUEST,
        &json!({ "errors": [{ "message": message }], "error": message, "kind": kind }),
    )
}

/// The node wallet's address and public key (base64url), once known. The one place the
/// gateway reads the node's identity: when the scheduler owns the wallet, this asks the
/// scheduler.
async fn node_address(state: &NodeState) -> Option<(String, String)> {
    state.scheduler.get().await.ok().map(|s| {
        let wallet = s.wallet();
        (
            wallet.address().to_string(),
            crate::ao::b64url(wallet.owner()),
        )
    })
}

/// The node's `Scheduler-Location`, reached at the host this request came to.
fn scheduler_location(
    state: &NodeState,
    req: &Request<Body>,
    address: String,
    key: String,
) -> SchedulerLocation {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| is_host(h))
        .map_or_else(|| state.identity.listen.to_string(), str::to_string);
    SchedulerLocation {
        address,
        key: Some(key),
        url: format!("http://{host}"),
    }
}

/// A `Host` header value we are willing to echo into a URL: host name or IP, optional port.
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_hosts() {
        assert!(is_host("127.0.0.1:6363"));
        assert!(is_host("[::1]:80"));
        assert!(is_host("node.example"));
        assert!(!is_host("evil/path"));
        assert!(!is_host("a b"));
        assert!(!is_host(""));
    }
}
