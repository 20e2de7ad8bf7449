//! The Arweave gateways this node reads (config key `gateways`): modules by ID
//! ([`module`](Gateways::module)), Scheduler-Location records ([`location`]), the block
//! height ([`height`]) and what WeaveDrive reads ([`weave_get`](Gateways::weave_get),
//! [`graphql_has_edges`](Gateways::graphql_has_edges)).
//!
//! Every request goes through the node's [`net::Client`](crate::net::Client) (TLS, pooled
//! connections, the per-try timeout, body limits) and is retried with back-off, each try on the
//! next gateway of the list, so that one gateway down or slow costs one try, not the request.

pub mod blocks;
pub mod checkpoints;
pub mod height;
pub mod location;
mod module;
mod weave;

use std::sync::Arc;

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{Value, json};

use crate::net::{Call, Client, Exhausted, Retryable, TryError, Url};
use crate::store::Store;

pub use module::Module;

/// Largest GraphQL answer read (a few records of tags).
pub const MAX_GRAPHQL_BYTES: usize = 8 * 1024 * 1024;

/// A gateway request failed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No gateway is configured.
    #[error("no gateway is configured (key `gateways`)")]
    NoGateway,
    /// The request failed on the network or with a "try again" status (after the retries).
    #[error("gateway {url}: {source}")]
    Request {
        /// The gateway of the last try.
        url: String,
        /// Why (the client's error, naming TLS, timeouts, statuses).
        source: TryError,
    },
    /// A gateway answered something that is not what was asked for.
    #[error("gateway {url}: {message}")]
    Protocol {
        /// The gateway.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// No gateway has the transaction.
    #[error("transaction {0} was not found on any configured gateway")]
    NotFound(String),
    /// The transaction is there but is not what the node needs (a module whose tags are wrong,
    /// a module over the size limit, ...). Nothing of it is kept.
    #[error("{id}: {message}")]
    Refused {
        /// The transaction.
        id: String,
        /// Why.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The outcome of one try on one gateway, and whether another try may help.
enum Attempt {
    /// Another gateway (or the same one later) may answer.
    Again(GatewayError),
    /// Final: no other try will change it.
    Final(GatewayError),
}

impl std::fmt::Display for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Attempt::Again(e) | Attempt::Final(e) => e.fmt(f),
        }
    }
}

impl Retryable for Attempt {
    fn is_retryable(&self) -> bool {
        matches!(self, Attempt::Again(_))
    }
}

/// The configured gateways, the client that reads them and the store that caches what they give.
#[derive(Debug)]
pub struct Gateways {
    urls: Vec<Url>,
    client: Client,
    store: Arc<Store>,
    max_module_bytes: usize,
    locations: location::Cache,
}

impl Gateways {
    /// Gateways `urls` (tried in this order), read with `client`, caching into `store`;
    /// modules over `max_module_bytes` are refused.
    pub fn new(
        urls: Vec<Url>,
        client: Client,
        store: Arc<Store>,
        max_module_bytes: usize,
    ) -> Gateways {
        Gateways {
            urls,
            client,
            store,
            max_module_bytes,
            locations: location::Cache::default(),
        }
    }

    /// Whether none is configured.
    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// The store it caches into.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Run `one(url, try_number)` on the gateways in turn (try n on gateway n mod len) as the
    /// client's retry policy says, while the outcome says another try may help.
    async fn rotate<T, F, Fut>(&self, mut one: F) -> Result<T, GatewayError>
    where
        F: FnMut(Url, u32) -> Fut,
        Fut: std::future::Future<Output = Result<T, Attempt>>,
    {
        if self.urls.is_empty() {
            return Err(GatewayError::NoGateway);
        }
        let n = self.urls.len() as u32;
        crate::net::retry::retry(self.client.policy(), |attempt| {
            one(self.urls[(attempt % n) as usize].clone(), attempt)
        })
        .await
        .map_err(|Exhausted { last, .. }| match last {
            Attempt::Again(e) | Attempt::Final(e) => e,
        })
    }

    /// One GraphQL query on `url`; the `data` member of the answer.
    async fn graphql_on(&self, url: &Url, query: &str, variables: Value) -> Result<Value, Attempt> {
        let body = Bytes::from(json!({"query": query, "variables": variables}).to_string());
        let answer = self
            .client
            .try_once(Call::post_json(url, "/graphql", body, MAX_GRAPHQL_BYTES))
            .await
            .map_err(|e| request_failed(url, e))?;
        let protocol = |message: String| {
            Attempt::Again(GatewayError::Protocol {
                url: url.to_string(),
                message,
            })
        };
        if !answer.status.is_success() {
            return Err(protocol(format!(
                "POST /graphql answered {}: {}",
                answer.status,
                answer.excerpt()
            )));
        }
        let mut value: Value = serde_json::from_slice(&answer.body)
            .map_err(|e| protocol(format!("POST /graphql: the answer is not JSON: {e}")))?;
        if let Some(errors) = value.get("errors").filter(|e| !e.is_null()) {
            return Err(protocol(format!("POST /graphql answered errors: {errors}")));
        }
        match value.get_mut("data").map(Value::take) {
            Some(data) if data.is_object() => Ok(data),
            _ => Err(protocol(
                "POST /graphql: the answer has no `data` object".into(),
            )),
        }
    }

    /// `GET path` on `url` with a body limit; 404 is `Ok(None)`.
    async fn get_on(&self, url: &Url, path: &str, limit: usize) -> Result<Option<Bytes>, Attempt> {
        let answer = self
            .client
            .try_once(Call::get(url, path, limit).accept("*/*"))
            .await
            .map_err(|e| request_failed(url, e))?;
        match answer.status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(answer.body)),
            s => Err(Attempt::Again(GatewayError::Protocol {
                url: url.to_string(),
                message: format!("GET {path} answered {s}: {}", answer.excerpt()),
            })),
        }
    }
}

/// A client failure on `url`, retried when the client's error says so.
fn request_failed(url: &Url, source: TryError) -> Attempt {
    let retry = source.is_retryable();
    let error = GatewayError::Request {
        url: url.to_string(),
        source,
    };
    if retry {
        Attempt::Again(error)
    } else {
        Attempt::Final(error)
    }
}

#[cfg(test)]
mod tests;
