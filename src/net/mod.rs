//! The node as an HTTP client: one module for every peer it reads (remote SUs, gateways,
//! HyperBEAM), so that TLS, connection reuse, timeouts, body limits and retries are the same
//! everywhere.
//!
//! - [`url`]: the configured URL of a peer (`http://` or `https://`).
//! - [`tls`]: rustls (ring provider) with the platform's roots plus `tls-ca-file`; verification
//!   off only through `tls-insecure-skip-verify`.
//! - [`retry`]: the retry policy (timeout per try, back-off, retry decided on the error variant).
//!
//! [`Client`] is hyper-util's pooled client over hyper-rustls: connections to a peer are kept
//! and reused, each try is bounded by the policy's timeout, and each answer by a body limit
//! given per call (an answer over it is an error, never a truncation).

pub mod retry;
pub mod tls;
pub mod url;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub use retry::{Exhausted, RetryPolicy, Retryable};
pub use tls::{TlsError, TlsSettings};
pub use url::{Url, UrlError};

/// What the client is built with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientSettings {
    /// TLS trust.
    pub tls: TlsSettings,
    /// Timeouts and retries.
    pub retry: RetryPolicy,
}

/// What a request came back with.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The body.
    pub body: Bytes,
}

impl Answer {
    /// The start of the body (lossy UTF-8), for messages.
    pub fn excerpt(&self) -> String {
        excerpt(&self.body)
    }
}

fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
}

/// One try of a request that did not bring a usable answer.
#[derive(Debug, thiserror::Error)]
pub enum TryError {
    /// The connection (TCP) could not be made or broke while the request was sent.
    #[error("cannot reach {authority}: {message}")]
    Connect {
        /// `host:port`.
        authority: String,
        /// The cause, with its chain.
        message: String,
    },
    /// The TLS handshake failed: the server's certificate is not trusted, is for another
    /// name, has expired, or the handshake broke. Not retried: the next try would fail the same.
    #[error("TLS with {authority} failed: {source}")]
    Tls {
        /// `host:port`.
        authority: String,
        /// rustls' reason (`invalid peer certificate: UnknownIssuer`, ...).
        source: rustls::Error,
    },
    /// No whole answer within the policy's timeout.
    #[error("no answer from {authority} within {timeout:?}")]
    Timeout {
        /// `host:port`.
        authority: String,
        /// The limit.
        timeout: Duration,
    },
    /// The peer answered a status that says "try again" (5xx, 429).
    #[error("{authority} answered {status}: {excerpt}")]
    Status {
        /// `host:port`.
        authority: String,
        /// The status.
        status: StatusCode,
        /// The start of the body (lossy UTF-8), for the message.
        excerpt: String,
    },
    /// The answer is larger than the call's limit.
    #[error("reading the answer from {authority}: the answer is larger than {limit} bytes")]
    TooLarge {
        /// `host:port`.
        authority: String,
        /// The limit.
        limit: usize,
    },
    /// The connection broke while the answer was read.
    #[error("reading the answer from {authority}: {source}")]
    Body {
        /// `host:port`.
        authority: String,
        /// The HTTP error.
        source: hyper::Error,
    },
    /// The request could not be built (a path that is not a valid URI path).
    #[error("building the request: {0}")]
    Request(#[from] hyper::http::Error),
}

impl Retryable for TryError {
    /// Network errors, timeouts, 5xx and 429 may pass; a TLS failure, a request that cannot
    /// be built or an answer too large for the limit will not.
    fn is_retryable(&self) -> bool {
        match self {
            TryError::Connect { .. } | TryError::Timeout { .. } | TryError::Body { .. } => true,
            TryError::Status { status, .. } => retryable(*status),
            TryError::Tls { .. } | TryError::TooLarge { .. } | TryError::Request(_) => false,
        }
    }
}

/// A request that failed: the last try's error, with the number of tries.
#[derive(Debug, thiserror::Error)]
#[error("{method} {target}: {last} ({})", retry::after(*.tries))]
pub struct RequestError {
    /// `GET`, `POST`.
    pub method: Method,
    /// The URL asked for.
    pub target: String,
    /// Tries made.
    pub tries: u32,
    /// Why the last one failed.
    pub last: TryError,
}

/// The client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TLS configuration (CA file, ...).
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// One request: method, URL and path, body, and the largest answer accepted.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// The method.
    pub method: Method,
    /// The peer.
    pub url: &'a Url,
    /// Path and query, starting with `/`, under the URL's base path.
    pub path_and_query: &'a str,
    /// `Accept`.
    pub accept: &'static str,
    /// The body and its `Content-Type` (`None`: no body).
    pub body: Option<(&'static str, Bytes)>,
    /// Largest answer body read.
    pub max_body: usize,
    /// Further header fields, sent as given (a `content-type` here wins over the body's).
    pub headers: Vec<(String, String)>,
}

impl<'a> Call<'a> {
    /// A GET of `path_and_query` under `url` accepting JSON, answers up to `max_body` bytes.
    pub fn get(url: &'a Url, path_and_query: &'a str, max_body: usize) -> Call<'a> {
        Call {
            method: Method::GET,
            url,
            path_and_query,
            accept: "application/json",
            body: None,
            max_body,
            headers: Vec::new(),
        }
    }

    /// A POST of a JSON body.
    pub fn post_json(
        url: &'a Url,
        path_and_query: &'a str,
        body: Bytes,
        max_body: usize,
    ) -> Call<'a> {
        Call {
            method: Method::POST,
            body: Some(("application/json", body)),
            ..Call::get(url, path_and_query, max_body)
        }
    }

    /// Accepting another type.
    pub fn accept(self, accept: &'static str) -> Call<'a> {
        Call { accept, ..self }
    }

    /// With these header fields too (a signed request's, sent byte for byte).
    pub fn with_headers(self, headers: Vec<(String, String)>) -> Call<'a> {
        Call { headers, ..self }
    }
}

type Inner =
    hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The node's pooled HTTP(S) client. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Client {
    inner: Inner,
    policy: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `settings` (reads the platform's roots and the CA file now).
    pub fn new(settings: &ClientSettings) -> Result<Client, ClientError> {
        let config = tls::client_config(&settings.tls)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(settings.retry.timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let inner = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(8)
            .build(https);
        Ok(Client {
            inner,
            policy: settings.retry,
        })
    }

    /// Its retry policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// `call`, retried as the policy says while the failure is retryable. A "try again" status
    /// (5xx, 429) counts as a failure; any other status is an answer.
    pub async fn send(&self, call: Call<'_>) -> Result<Answer, RequestError> {
        retry::retry(&self.policy, |_| self.try_once(call.clone()))
            .await
            .map_err(|e| RequestError {
                method: call.method.clone(),
                target: call.url.join(call.path_and_query),
                tries: e.tries,
                last: e.last,
            })
    }

    /// One try of `call` within the policy's timeout; a "try again" status is an error.
    pub async fn try_once(&self, call: Call<'_>) -> Result<Answer, TryError> {
        let timeout = self.policy.timeout;
        let authority = call.url.authority().to_string();
        let answer = tokio::time::timeout(timeout, self.exchange(call))
            .await
            .map_err(|_| TryError::Timeout {
                authority: authority.clone(),
                timeout,
            })??;
        if retryable(answer.status) {
            return Err(TryError::Status {
                authority,
                status: answer.status,
                excerpt: answer.excerpt(),
            });
        }
        Ok(answer)
    }

    async fn exchange(&self, call: Call<'_>) -> Result<Answer, TryError> {
        let authority = || call.url.authority().to_string();
        let mut builder = Request::builder()
            .method(call.method.clone())
            .uri(call.url.join(call.path_and_query))
            .header(hyper::header::ACCEPT, call.accept);
        let typed = call
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        for (name, value) in &call.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        // Built first: a request that cannot be built needs no connection.
        let request = match call.body {
            Some((content_type, body)) if !typed => builder
                .header(hyper::header::CONTENT_TYPE, content_type)
                .body(Full::new(body))?,
            Some((_, body)) => builder.body(Full::new(body))?,
            None => builder.body(Full::new(Bytes::new()))?,
        };
        let response = self
            .inner
            .request(request)
            .await
            .map_err(|e| match tls::tls_cause(&e) {
                Some(tls) => TryError::Tls {
                    authority: authority(),
                    source: tls.clone(),
                },
                None => TryError::Connect {
                    authority: authority(),
                    message: chain(&e),
                },
            })?;
        let status = response.status();
        let body = Limited::new(response.into_body(), call.max_body)
            .collect()
            .await
            .map_err(|e| match e.downcast::<hyper::Error>() {
                Ok(source) => TryError::Body {
                    authority: authority(),
                    source: *source,
                },
                // `Limited` fails with its own error only when the limit is passed.
                Err(_) => TryError::TooLarge {
                    authority: authority(),
                    limit: call.max_body,
                },
            })?
            .to_bytes();
        Ok(Answer { status, body })
    }
}

fn retryable(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// An error and its causes, `a: b: c` (hyper-util's connect errors say little on their own).
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        next = e.source();
    }
    text
}

#[cfg(test)]
mod tests;
