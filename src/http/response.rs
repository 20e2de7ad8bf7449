//! Building HTTP responses: JSON bodies and the `{"error", "kind"}` error shape.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde::Serialize;

/// The response type every handler returns.
pub type HttpResponse = Response<Full<Bytes>>;

/// An error a handler answers with: its status, a machine-readable kind and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Short stable identifier (`not-found`, `method-not-allowed`, `bad-request`, ...).
    pub kind: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// Methods allowed on the resource, for 405 answers.
    pub allow: Option<&'static str>,
}

impl ApiError {
    /// 404 for a path or key that does not exist.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            kind: "not-found",
            message: message.into(),
            allow: None,
        }
    }

    /// 405 for a known path with the wrong method.
    pub fn method_not_allowed(allow: &'static str) -> ApiError {
        ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            kind: "method-not-allowed",
            message: format!("method not allowed; allowed: {allow}"),
            allow: Some(allow),
        }
    }

    /// 400 for a malformed request.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "bad-request",
            message: message.into(),
            allow: None,
        }
    }

    /// 403 for a process or owner the node's access lists refuse.
    pub fn forbidden(refused: &crate::access::Refused) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            kind: refused.kind(),
            message: refused.to_string(),
            allow: None,
        }
    }

    /// 413 for a body over the configured limit.
    pub fn too_large(limit: u64) -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            kind: "body-too-large",
            message: format!("request body is larger than the limit of {limit} bytes"),
            allow: None,
        }
    }

    /// 500 for a fault of the node itself.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "internal",
            message: message.into(),
            allow: None,
        }
    }

    /// The JSON response for this error.
    pub fn into_response(self) -> HttpResponse {
        let body = serde_json::json!({ "error": self.message, "kind": self.kind });
        let mut response = json_with_status(self.status, &body);
        if let Some(allow) = self.allow {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

/// A 200 JSON response.
pub fn json<T: Serialize + ?Sized>(value: &T) -> HttpResponse {
    json_with_status(StatusCode::OK, value)
}

/// A JSON response with `status`.
pub fn json_with_status<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> HttpResponse {
    match serde_json::to_vec_pretty(value) {
        Ok(body) => with_body(status, "application/json", Bytes::from(body)),
        Err(e) => with_body(
            StatusCode::INTERNAL_SERVER_ERROR,
            "application/json",
            Bytes::from(format!(
                "{{\"error\":\"cannot encode response: {e}\",\"kind\":\"internal\"}}"
            )),
        ),
    }
}

/// A response with a body and content type.
pub fn with_body(status: StatusCode, content_type: &'static str, body: Bytes) -> HttpResponse {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
