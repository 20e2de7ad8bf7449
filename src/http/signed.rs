//! What the handlers of signed requests share: who the operator is, and a request read whole
//! as [`crate::httpsig::Message`] sees it.

use bytes::Bytes;
use hyper::http::request::Parts;
use hyper::{Request, StatusCode};

use super::{ApiError, Body, NodeState};

/// The operator's address as far as it is known now: `operator-key`'s, else the node
/// wallet's once it is loaded (`None` before; and on a node without an operator).
pub fn known_operator(state: &NodeState) -> Option<String> {
    match state.operator.as_ref()?.configured_address() {
        Some(address) => Some(address.to_string()),
        None => state.scheduler.ready().map(|s| s.address().to_string()),
    }
}

/// The operator's address: `operator-key`'s, or the node wallet's (loaded, or generated now).
pub async fn operator_address(state: &NodeState) -> Result<String, ApiError> {
    if let Some(address) = known_operator(state) {
        return Ok(address);
    }
    let scheduler = state.scheduler.get().await.map_err(|e| ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        kind: "no-wallet",
        message: format!("the node wallet (the operator) is not available: {e}"),
        allow: None,
    })?;
    Ok(scheduler.address().to_string())
}

/// The request's head and its whole body (at most `limit` bytes: 413 above).
pub async fn read_whole(req: Request<Body>, limit: u64) -> Result<(Parts, Bytes), ApiError> {
    let (parts, body) = req.into_parts();
    let body = super::read_body(Request::from_parts(parts.clone(), body), limit).await?;
    Ok((parts, body))
}

/// The request as its signature covers it.
pub fn message<'a>(parts: &'a Parts, body: &'a [u8]) -> crate::httpsig::Message<'a> {
    let authority = parts
        .headers
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("");
    crate::httpsig::Message {
        method: parts.method.as_str(),
        scheme: "http",
        authority,
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
        body,
    }
}
