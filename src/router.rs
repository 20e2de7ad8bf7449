//! Joining an AO router, as HyperBEAM's `~router@1.0` device has a node do it: the node posts
//! the message `{subject: "self", action: "register", route: {prefix, price, template}}`,
//! signed with its key, to `<router>/~router@1.0/routes`. The router keeps the route when a
//! signer is one it trusts (its operator or `route_owners`), or hands it to its registrar
//! process. `docs/router.md` has the facts and where they were read.
//!
//! The message goes in AO-Core's HTTP encoding (HyperBEAM's `httpsig@1.0` codec): `subject`
//! and `action` are header fields; `route`, a nested message, is the one part of a
//! `multipart/form-data` body (its keys as the part's header fields, `price` typed through
//! `ao-types`), named by `body-keys`, its boundary the base64url SHA-256 of the part; the body is
//! covered by `content-digest`, and every header field by the RFC 9421 signature
//! ([`crate::httpsig::sign`]).
//!
//! [`Registrations`] makes registering idempotent: what a router accepted is recorded in the
//! state directory, and the same route is not posted to it again unless asked.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::ao::Wallet;
use crate::httpsig;
use crate::net::{Call, Client, Url};

/// The requests aocu offers by default: the CU API's reads and dry-runs.
pub const DEFAULT_TEMPLATE: &str = "^/(result/|results/|state/|cron/|dry-run)";
/// Where a router takes registrations.
pub const ROUTES_PATH: &str = "/~router@1.0/routes";
/// Longest `prefix` or `template`: each is one header line of the body part.
const MAX_FIELD_BYTES: usize = 4096;
/// Largest router answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
const CRLF: &str = "\r\n";

/// The route a node offers a router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The node's own base URL: where the router sends the traffic the template matches.
    pub prefix: String,
    /// The price asked per request, in the smallest unit of the node's currency.
    pub price: u64,
    /// The requests it takes: a path regex (`^/result/.*`) as HyperBEAM's routes match them.
    pub template: String,
}

/// Why a route was not registered.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// A field of the route cannot be sent.
    #[error("route `{field}`: {why}")]
    Route {
        /// `prefix` or `template`.
        field: &'static str,
        /// What is wrong.
        why: String,
    },
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] httpsig::SignError),
    /// The router could not be reached (after the client's retries).
    #[error("router {router}: {source}")]
    Unreachable {
        /// The router's URL.
        router: String,
        /// The last failure.
        source: crate::net::TryError,
    },
    /// The router answered, and not with the route added.
    #[error("router {router} refused the route: {status} {body}")]
    Refused {
        /// The router's URL.
        router: String,
        /// Its status.
        status: u16,
        /// The start of its answer.
        body: String,
    },
    /// The record of registrations could not be read or written.
    #[error("{path}: {why}")]
    Record {
        /// The record file.
        path: PathBuf,
        /// What went wrong.
        why: String,
    },
}

/// A registration as it goes on the wire: header fields in order, and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Header fields, lower case, sorted by name.
    pub headers: Vec<(String, String)>,
    /// The multipart body.
    pub body: Vec<u8>,
}

impl Route {
    /// Refuse a route a router could not route by: a prefix that is not an `http(s)` URL, a
    /// template that is empty or cannot be one header line.
    pub fn check(&self) -> Result<(), RouterError> {
        let field_error = |field, why: String| RouterError::Route { field, why };
        Url::parse(&self.prefix).map_err(|e| field_error("prefix", e.to_string()))?;
        for (field, value) in [("prefix", &self.prefix), ("template", &self.template)] {
            if value.is_empty() || value.len() > MAX_FIELD_BYTES {
                return Err(field_error(field, format!("1 to {MAX_FIELD_BYTES} bytes")));
            }
            if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                return Err(field_error(field, "printable ASCII only".into()));
            }
        }
        Ok(())
    }
}

/// The registration message for `route`, unsigned, in AO-Core's HTTP encoding.
pub fn encode(route: &Route) -> Encoded {
    // The nested message's keys, sorted as HyperBEAM's codec writes a part's header fields;
    // the integer travels as text, its type in `ao-types`.
    let part = [
        ("ao-types", "price=\"integer\"".to_string()),
        (
            "content-disposition",
            "form-data;name=\"route\"".to_string(),
        ),
        ("prefix", route.prefix.clone()),
        ("price", route.price.to_string()),
        ("template", route.template.clone()),
    ]
    .iter()
    .map(|(name, value)| format!("{name}: {value}"))
    .collect::<Vec<_>>()
    .join(CRLF);
    let boundary = crate::ao::b64url(&Sha256::digest(part.as_bytes()));
    let body = format!("--{boundary}{CRLF}{part}{CRLF}--{boundary}--").into_bytes();
    let headers = vec![
        ("action".to_string(), "register".to_string()),
        ("body-keys".to_string(), "\"route\"".to_string()),
        ("content-digest".to_string(), httpsig::content_digest(&body)),
        (
            "content-type".to_string(),
            format!("multipart/form-data; boundary=\"{boundary}\""),
        ),
        ("subject".to_string(), "self".to_string()),
    ];
    Encoded { headers, body }
}

/// The registration for `route`, signed by `wallet` over every header field.
pub fn signed(wallet: &Wallet, router: &Url, route: &Route) -> Result<Encoded, RouterError> {
    route.check()?;
    let mut encoded = encode(route);
    let mut map = HeaderMap::new();
    for (name, value) in &encoded.headers {
        // `Route::check` keeps every value printable ASCII, so this refuses nothing it let by.
        let invalid = |why: String| RouterError::Route {
            field: "header",
            why,
        };
        let name = HeaderName::try_from(name.as_str()).map_err(|e| invalid(e.to_string()))?;
        let value = HeaderValue::try_from(value.as_str()).map_err(|e| invalid(e.to_string()))?;
        map.append(name, value);
    }
    let message = httpsig::Message {
        method: "POST",
        scheme: if router.is_https() { "https" } else { "http" },
        authority: router.authority(),
        path: ROUTES_PATH,
        query: None,
        headers: &map,
        body: &encoded.body,
    };
    let covered: Vec<&str> = encoded.headers.iter().map(|(n, _)| n.as_str()).collect();
    let (input, signature) = httpsig::sign(wallet, &message, &covered)?;
    encoded.headers.push(("signature".into(), signature));
    encoded.headers.push(("signature-input".into(), input));
    Ok(encoded)
}

/// Post the signed registration of `route` to `router`; the router's answer when it took it.
pub async fn register(
    client: &Client,
    wallet: &Wallet,
    router: &Url,
    route: &Route,
) -> Result<String, RouterError> {
    let encoded = signed(wallet, router, route)?;
    let call = Call {
        method: hyper::Method::POST,
        body: Some(("multipart/form-data", Bytes::from(encoded.body))),
        ..Call::get(router, ROUTES_PATH, MAX_ANSWER_BYTES)
    }
    .accept("*/*")
    .with_headers(encoded.headers);
    let answer = client
        .send(call)
        .await
        .map_err(|e| RouterError::Unreachable {
            router: router.as_str().to_string(),
            source: e.last,
        })?;
    let body = String::from_utf8_lossy(&answer.body).into_owned();
    // HyperBEAM answers a route it does not trust with `not_authorized`, whatever the status.
    if !answer.status.is_success() || body.contains("not_authorized") {
        return Err(RouterError::Refused {
            router: router.as_str().to_string(),
            status: answer.status.as_u16(),
            body: answer.excerpt(),
        });
    }
    Ok(body)
}

/// One accepted registration, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// The router's URL.
    pub router: String,
    /// The route it took.
    pub route: Route,
    /// The address that signed it.
    pub signer: String,
    /// When, in ms since the epoch.
    pub at: u64,
    /// What the router answered.
    pub answer: String,
}

/// The routes routers have accepted from this node: `<state-dir>/router-registrations.json`.
#[derive(Debug, Clone)]
pub struct Registrations {
    path: PathBuf,
}

impl Registrations {
    /// The record in `state_dir`.
    pub fn in_dir(state_dir: &Path) -> Registrations {
        Registrations {
            path: state_dir.join("router-registrations.json"),
        }
    }

    /// Every accepted registration, oldest first (none when there is no record yet).
    pub fn all(&self) -> Result<Vec<Accepted>, RouterError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.error(e.to_string())),
        };
        serde_json::from_slice(&bytes).map_err(|e| self.error(format!("not a record: {e}")))
    }

    /// The accepted registration of exactly `route` by `signer` with `router`, if any.
    pub fn find(
        &self,
        router: &Url,
        route: &Route,
        signer: &str,
    ) -> Result<Option<Accepted>, RouterError> {
        Ok(self
            .all()?
            .into_iter()
            .find(|a| a.router == router.as_str() && &a.route == route && a.signer == signer))
    }

    /// Record `accepted`, replacing an older registration of the same route with that router;
    /// written whole (a temporary file renamed over the record) or not at all.
    pub fn record(&self, accepted: Accepted) -> Result<(), RouterError> {
        let mut all = self.all()?;
        all.retain(|a| !(a.router == accepted.router && a.route == accepted.route));
        all.push(accepted);
        let text = serde_json::to_vec_pretty(&all).map_err(|e| self.error(e.to_string()))?;
        let tmp = self.path.with_extension("json.part");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                self.error(e.to_string())
            })
    }

    fn error(&self, why: String) -> RouterError {
        RouterError::Record {
            path: self.path.clone(),
            why,
        }
    }
}

/// What [`join`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joined {
    /// The router took the route now.
    Registered(Accepted),
    /// The router had taken this very route from this key before; nothing was sent.
    AlreadyRegistered(Accepted),
}

/// Register `route` with `router` unless it has accepted exactly this route from `wallet`
/// before (`force`: post it again anyway), and record the router's acceptance.
pub async fn join(
    client: &Client,
    wallet: &Wallet,
    router: &Url,
    route: &Route,
    record: &Registrations,
    force: bool,
) -> Result<Joined, RouterError> {
    route.check()?;
    if !force && let Some(before) = record.find(router, route, wallet.address())? {
        return Ok(Joined::AlreadyRegistered(before));
    }
    let answer = register(client, wallet, router, route).await?;
    let accepted = Accepted {
        router: router.as_str().to_string(),
        route: route.clone(),
        signer: wallet.address().to_string(),
        at: crate::clock::now_ms(),
        answer,
    };
    record.record(accepted.clone())?;
    Ok(Joined::Registered(accepted))
}

#[cfg(test)]
mod tests;
