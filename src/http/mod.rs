//! The HTTP server: tokio + hyper, one task per connection, graceful shutdown.
//!
//! [`route`] maps a request to its handler. Every handler runs in its own task so that a bug
//! in one request becomes a 500 answer instead of a dropped connection.

pub mod cu;
pub mod gateway;
pub mod hbu;
pub mod limit;
pub mod meta;
pub mod metrics;
pub mod mu;
pub mod pay;
pub mod query;
pub mod response;
mod signed;
pub mod su;

use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::ao::Id;
use crate::exec::PoolMonitor;
use crate::hw::Hardware;
use crate::hw::profile::Match;
use crate::meter::Meter;
use crate::node::NodeIdentity;
pub use response::{ApiError, HttpResponse};

/// How long open connections may take to finish after shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What every handler can see: the node's identity, hardware, matched profile and store.
#[derive(Debug)]
pub struct NodeState {
    /// Name, version, listen address, start time.
    pub identity: Arc<NodeIdentity>,
    /// Discovered hardware (taken once at start).
    pub hardware: Hardware,
    /// The hardware profile that matched, if any.
    pub profile: Option<Match>,
    /// The price schedule in force (the profile's, with the config's `[price]`).
    pub price: Arc<crate::price::Schedule>,
    /// Durable state (one open database per process: share this one).
    pub store: Arc<crate::store::Store>,
    /// The embedded scheduler; its wallet loads (or is generated) in the background at start.
    pub scheduler: Arc<crate::sched::NodeScheduler>,
    /// Block height the scheduler reports, with where it came from (`/timestamp`).
    pub block_height: crate::arweave::height::BlockHeight,
    /// Largest request body accepted (config `max-body-bytes`).
    pub max_body_bytes: u64,
    /// Counters of the executor pool, when one runs (`executors` in `~meta@1.0/info`).
    pub executors: Option<PoolMonitor>,
    /// The node's meter (`metering` in `~meta@1.0/info`).
    pub meter: Meter,
    /// The compute unit, when this node evaluates processes.
    pub cu: Option<Arc<crate::cu::ComputeUnit>>,
    /// HyperBEAM mode (config `hyperbeam-url`): the CU routes HyperBEAM calls.
    pub hyperbeam: Option<Arc<crate::cu::hbu::HyperBeam>>,
    /// Requests answered and their latency, for `/metrics`.
    pub http_metrics: metrics::HttpMetrics,
    /// `simple-pay@1.0`: the prepaid balances chargeable requests are debited from (`None`:
    /// the switch is off).
    pub pay: Option<Arc<crate::pay::SimplePay>>,
    /// Which processes and owners may be used (config `allow-processes`, `deny-processes`,
    /// `allow-owners`); the CU routes check a process ID here before anything else.
    pub access: Arc<crate::access::Access>,
    /// The per-client rate limit (config `rate-limit-per-minute`; `None`: off).
    pub limiter: Option<limit::RateLimiter>,
    /// Who may change the node message, and the changes so far (`None`: nobody).
    pub operator: Option<Arc<crate::operator::Operator>>,
}

/// Serve HTTP on `listener` until `shutdown` completes, then let open requests finish.
pub async fn serve(
    listener: TcpListener,
    state: Arc<NodeState>,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let state = state.clone();
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(state, peer.ip(), req).await) }
                    });
                    let conn = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(30))
                        .serve_connection(TokioIo::new(stream), service);
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                    });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}; closing anyway");
        }
    }
}

/// A request body as the handlers read it: the connection's, or the bytes a check before the
/// handler has already read (`simple-pay` verifies a signature that covers the body).
pub type Body = http_body_util::combinators::BoxBody<bytes::Bytes, hyper::Error>;

/// Run the router in its own task so that a panic answers 500 instead of dropping the socket.
/// A client over the rate limit is answered 429 before anything else happens.
async fn handle(state: Arc<NodeState>, client: IpAddr, req: Request<Incoming>) -> HttpResponse {
    let req = req.map(BodyExt::boxed);
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    if let Some(limited) = rate_limited(&state, client, &path) {
        tracing::debug!(%method, %path, %client, "rate limited");
        let status = limited.status().as_u16();
        state
            .http_metrics
            .observe(&method, &path, status, started.elapsed());
        return limited;
    }
    let routed = state.clone();
    let response = match tokio::spawn(async move { route(&routed, req).await }).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => error.into_response(),
        Err(join_error) => {
            tracing::error!(%method, %path, error = %join_error, "handler failed");
            ApiError::internal("the handler failed; the node logged the details").into_response()
        }
    };
    let status = response.status().as_u16();
    state
        .http_metrics
        .observe(&method, &path, status, started.elapsed());
    tracing::debug!(%method, %path, status, "request");
    response
}

/// The 429 answer for a client over `rate-limit-per-minute`, with `Retry-After` in seconds.
/// The liveness probes (`/healthcheck`, `/status`) are never limited.
fn rate_limited(state: &NodeState, client: IpAddr, path: &str) -> Option<HttpResponse> {
    let limiter = state.limiter.as_ref()?;
    if matches!(path.trim_matches('/'), "healthcheck" | "status") {
        return None;
    }
    let limited = limiter.check(client).err()?;
    let seconds = limited.retry_after_secs();
    let mut response = ApiError {
        status: hyper::StatusCode::TOO_MANY_REQUESTS,
        kind: "rate-limited",
        message: format!(
            "Rate limit exceeded: this node answers a client at most rate-limit-per-minute \
             requests a minute; retry after {seconds} s"
        ),
        allow: None,
    }
    .into_response();
    response
        .headers_mut()
        .insert(hyper::header::RETRY_AFTER, seconds.into());
    Some(response)
}

/// The node's `simple-pay@1.0`, or 404 when the switch is off.
fn simple_pay(state: &NodeState) -> Result<&crate::pay::SimplePay, ApiError> {
    state.pay.as_deref().ok_or_else(|| {
        ApiError::not_found("simple-pay@1.0 is off on this node (config `simple-pay`)")
    })
}

/// Map a request to its handler.
pub async fn route(state: &NodeState, req: Request<Body>) -> Result<HttpResponse, ApiError> {
    let segments = path_segments(req.uri().path())?;
    let req = match &state.pay {
        Some(pay) if crate::pay::is_chargeable(req.method().as_str(), req.uri().path()) => {
            match pay::charge(state, pay, req).await {
                Ok(req) => req,
                Err(refused) => return Ok(refused),
            }
        }
        _ => req,
    };
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    // The SU read API is keyed by an ID in the first segment: parse it once, here.
    let leading_id = segments.first().and_then(|s| s.parse::<Id>().ok());
    match (segments.as_slice(), leading_id) {
        (["~meta@1.0", "info"], _) if req.method() == Method::POST => {
            meta::post_info(state, req).await
        }
        (["~simple-pay@1.0", "balance"], _) => {
            require_method(&req, &[Method::GET, Method::HEAD], "GET, HEAD")?;
            pay::balance(simple_pay(state)?, req).await
        }
        (["~simple-pay@1.0", "topup"], _) => {
            require_method(&req, &[Method::POST], "POST")?;
            pay::topup(state, simple_pay(state)?, req).await
        }
        (["~meta@1.0", "info"], _) => {
            let allowed = [Method::GET, Method::HEAD, Method::POST];
            require_method(&req, &allowed, "GET, HEAD, POST")?;
            meta::get(state, &["info"], req.uri().query())
        }
        (["~meta@1.0", rest @ ..], _) => {
            require_method(&req, &[Method::GET, Method::HEAD], "GET, HEAD")?;
            meta::get(state, rest, req.uri().query())
        }
        (["graphql"], _) => gateway::graphql(state, req).await,
        (["raw", id], _) => {
            require_method(&req, &[Method::GET, Method::HEAD], "GET, HEAD")?;
            gateway::raw(state, id, req.method() == Method::HEAD).await
        }
        (["metrics"], _) => {
            require_method(&req, &[Method::GET, Method::HEAD], "GET, HEAD")?;
            metrics::get(state)
        }
        (["healthcheck"], _) => {
            require_method(&req, &[Method::GET, Method::HEAD], "GET, HEAD")?;
            Ok(response::json(&serde_json::json!({ "status": "ok" })))
        }
        // MU ingest. `GET /` belongs to the CU.
        ([], _) if req.method() == Method::POST => mu::post(state, req).await,
        (["~module@1.0"], _) => {
            require_method(&req, &[Method::POST], "POST")?;
            mu::post_module(state, req).await
        }
        // SU read API.
        (["timestamp"], _) => {
            require_method(&req, &[Method::GET, Method::HEAD], "GET, HEAD")?;
            Ok(su::timestamp(state))
        }
        (["processes", id], _) => {
            require_method(&req, &[Method::GET, Method::HEAD], "GET, HEAD")?;
            su::process(state, id).await
        }
        ([_, "latest"], Some(id)) => {
            require_method(&req, &[Method::GET, Method::HEAD], "GET, HEAD")?;
            su::latest(state, &id).await
        }
        ([_], Some(id)) => {
            require_method(&req, &[Method::GET, Method::HEAD], "GET, HEAD")?;
            su::read(state, &id, &req).await
        }
        // The CU API (AO's legacy CU) and AO-Core process paths.
        ([], _) if req.method() == Method::GET || req.method() == Method::HEAD => {
            cu::root(state).await
        }
        // HyperBEAM's CU routes (`POST /result/{slot}` in HyperBEAM mode only).
        (["result", slot], _) if req.method() == Method::POST && state.hyperbeam.is_some() => {
            hbu::result(state, slot, req).await
        }
        (["dry-run"], _) if req.method() == Method::POST && state.hyperbeam.is_some() => {
            hbu::dry_run(state, req).await
        }
        (["state"], _) if req.method() == Method::POST && state.hyperbeam.is_some() => {
            hbu::load_state(state, req).await
        }
        (["snapshot", process], _) => {
            require_method(&req, &[Method::POST], "POST")?;
            hbu::snapshot(state, process, req).await
        }
        (["status"], _) => {
            require_method(&req, &[Method::GET, Method::HEAD], "GET, HEAD")?;
            Ok(hbu::status(state))
        }
        (["result", message], _) => {
            require_method(&req, &[Method::GET, Method::HEAD], "GET, HEAD")?;
            cu::result(state, message, &req).await
        }
        (["results", process], _) => {
            require_method(&req, &[Method::GET, Method::HEAD], "GET, HEAD")?;
            cu::results(state, process, &req).await
        }
        (["dry-run"], _) => {
            require_method(&req, &[Method::POST], "POST")?;
            cu::dry_run(state, req).await
        }
        (["state", process], _) => {
            require_method(&req, &[Method::GET, Method::HEAD], "GET, HEAD")?;
            cu::state(state, process).await
        }
        (["cron", process], _) => {
            require_method(&req, &[Method::GET, Method::HEAD], "GET, HEAD")?;
            cu::cron(state, process, &req).await
        }
        ([first, rest @ ..], _) if !rest.is_empty() && first.ends_with(cu::PROCESS_DEVICE) => {
            require_method(&req, &[Method::GET, Method::HEAD], "GET, HEAD")?;
            let process = &first[..first.len() - cu::PROCESS_DEVICE.len()];
            cu::process_device(state, process, rest, &req).await
        }
        _ => Err(ApiError::not_found(format!(
            "no route for {} {}",
            req.method(),
            req.uri().path()
        ))),
    }
}

/// Read a whole request body, refusing (413) one larger than `limit` bytes before reading it
/// when `Content-Length` says so, and as soon as the streamed bytes pass the limit otherwise.
pub async fn read_body(req: Request<Body>, limit: u64) -> Result<bytes::Bytes, ApiError> {
    use http_body_util::BodyExt;
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::too_large(limit));
    }
    let limited = http_body_util::Limited::new(req.into_body(), limit as usize);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::too_large(limit)),
        Err(e) => Err(ApiError::bad_request(format!(
            "cannot read the request body: {e}"
        ))),
    }
}

fn require_method(
    req: &Request<Body>,
    allowed: &[Method],
    allow_header: &'static str,
) -> Result<(), ApiError> {
    if allowed.contains(req.method()) {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(allow_header))
    }
}

/// Split a path into percent-decoded segments, ignoring empty ones (`//a/` is `["a"]`).
///
/// Decoding is `percent_encoding`'s, as URL parsers do it: a `%` that is not followed by two
/// hex digits is literal text, so `info%+A` is a segment of that name (no route: 404), never a
/// newline. A segment that decodes to bytes that are not UTF-8 is a 400.
pub fn path_segments(path: &str) -> Result<Vec<String>, ApiError> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(std::borrow::Cow::into_owned)
                .map_err(|_| {
                    ApiError::bad_request(format!(
                        "path segment `{s}` does not decode to UTF-8 text"
                    ))
                })
        })
        .collect()
}

/// Decode `%XX` escapes strictly, for values (query parameters): `None` for a broken escape (a
/// `%` not followed by two hex digits) or a result that is not UTF-8.
///
/// `percent_encoding` decodes, but it keeps a broken escape as literal text; the check before
/// it makes a broken escape an error instead, so that a value `%+A` or `%zz` is refused, never
/// read as something else. (A path segment with a broken escape simply names nothing.)
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let well_formed = bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_decoded() {
        assert_eq!(
            path_segments("/%7Emeta%401.0//info/").unwrap(),
            vec!["~meta@1.0", "info"]
        );
        // Broken escapes are literal text; `from_str_radix` once read `%+A` as a newline.
        assert_eq!(
            path_segments("/info%+A/%zz/%4").unwrap(),
            vec!["info%+A", "%zz", "%4"]
        );
        assert_eq!(path_segments("/a%0Ab").unwrap(), vec!["a\nb"]);
        assert!(path_segments("/%ff").is_err());
        assert!(path_segments("/%C3").is_err());
    }

    #[test]
    fn escapes_are_two_hex_digits() {
        assert_eq!(percent_decode("a%2Fb%2fc").as_deref(), Some("a/b/c"));
        assert_eq!(percent_decode("%C3%A9+").as_deref(), Some("é+"));
        assert_eq!(percent_decode("plain é").as_deref(), Some("plain é"));
        assert_eq!(percent_decode("").as_deref(), Some(""));
        // `%25` is a literal percent sign; what follows it is not an escape.
        assert_eq!(percent_decode("%2541").as_deref(), Some("%41"));
        // `u8::from_str_radix` takes a leading `+`: `%+A` was read as a newline.
        for broken in [
            "%+A", "%-0", "%+a", "info%+A", "%", "%4", "a%", "%zz", "%4g", "% 41", "%%41",
            "%\u{e9}",
        ] {
            assert_eq!(percent_decode(broken), None, "{broken:?}");
        }
        assert_eq!(percent_decode("%ff"), None, "not UTF-8");
        assert_eq!(percent_decode("%C3"), None, "a cut UTF-8 sequence");
        assert_eq!(percent_decode("%00").as_deref(), Some("\0"));
    }
}
