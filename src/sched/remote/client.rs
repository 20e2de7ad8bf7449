//! A small HTTP/1.1 GET client for remote Scheduler Units: one connection per request, a
//! timeout on each try, a cap on the body, and retries with exponential back-off on network
//! errors and on the answers that say "try again" (5xx, 429).
//!
//! Plain `http://` only: this build carries no TLS stack. An operator reaching an `https://`
//! SU puts a TLS-terminating proxy on loopback in front of it; the configuration refuses an
//! `https://` URL with that advice instead of failing at the first read.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;

/// Largest SU answer read (a page of 100 messages of up to 10 MiB each would not fit; AO's SU
/// pages are far smaller, and a page that does not fit is an error, not a truncation).
pub const MAX_BODY_BYTES: usize = 256 * 1024 * 1024;

/// Where a remote SU listens: `http://host[:port][/base]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuUrl {
    /// `host:port` to connect to.
    authority: String,
    /// The `Host` header.
    host_header: String,
    /// Path prefix without the trailing slash (`""` for none).
    base: String,
    /// The URL as configured, for messages.
    text: String,
}

impl SuUrl {
    /// Parse a configured URL; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<SuUrl, String> {
        if text.starts_with("https://") {
            return Err(format!(
                "`{text}`: https is not built into aocu; put a TLS-terminating proxy on \
                 loopback in front of the SU and give its http:// address"
            ));
        }
        let rest = text
            .strip_prefix("http://")
            .ok_or_else(|| format!("`{text}` is not an http:// URL"))?;
        let (authority, base) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains(['?', '#', '@', ' ']) {
            return Err(format!("`{text}`: no usable host in the URL"));
        }
        if base.contains(['?', '#']) {
            return Err(format!(
                "`{text}`: a query or fragment cannot be a base path"
            ));
        }
        let has_port = match authority.rfind(']') {
            // [v6]:port
            Some(close) => authority[close..].contains(':'),
            None => authority.contains(':'),
        };
        let connect = if has_port {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        if let Some((_, port)) = connect.rsplit_once(':')
            && port.parse::<u16>().is_err()
        {
            return Err(format!("`{text}`: port `{port}` is not a number"));
        }
        Ok(SuUrl {
            authority: connect,
            host_header: authority.to_string(),
            base: base.to_string(),
            text: text.trim_end_matches('/').to_string(),
        })
    }

    /// The URL as configured.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// How a remote SU is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries per request (at least 1).
    pub attempts: u32,
    /// Wait after the first failed try; doubled after each further one.
    pub first_backoff: Duration,
    /// Longest wait between tries.
    pub max_backoff: Duration,
    /// Limit on one try (connect, send, whole answer).
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 5,
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
        }
    }
}

/// What a GET came back with.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The body.
    pub body: Bytes,
}

/// GET `path_and_query` (starting with `/`) under `url`, retrying as `policy` says. The error
/// is the last try's, with the number of tries.
pub async fn get(url: &SuUrl, path_and_query: &str, policy: RetryPolicy) -> Result<Answer, String> {
    let attempts = policy.attempts.max(1);
    let mut backoff = policy.first_backoff;
    let mut last = String::new();
    for attempt in 1..=attempts {
        match tokio::time::timeout(policy.timeout, get_once(url, path_and_query)).await {
            Ok(Ok(answer)) if !retryable(answer.status) => return Ok(answer),
            Ok(Ok(answer)) => {
                last = format!(
                    "answered {}: {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)])
                );
            }
            Ok(Err(e)) => last = e,
            Err(_) => last = format!("no answer within {:?}", policy.timeout),
        }
        if attempt < attempts {
            tracing::debug!(url = url.as_str(), path_and_query, attempt, error = %last, "retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(policy.max_backoff);
        }
    }
    Err(format!(
        "GET {}{path_and_query}: {last} (after {attempts} tries)",
        url.as_str()
    ))
}

fn retryable(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

async fn get_once(url: &SuUrl, path_and_query: &str) -> Result<Answer, String> {
    let stream = tokio::net::TcpStream::connect(&url.authority)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", url.authority))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake with {}: {e}", url.authority))?;
    // The connection future drives the socket; it ends with the request.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = Request::get(format!("{}{path_and_query}", url.base))
        .header(hyper::header::HOST, &url.host_header)
        .header(hyper::header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("building the request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request to {}: {e}", url.authority))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| format!("reading the answer from {}: {e}", url.authority))?
        .to_bytes();
    Ok(Answer { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_or_say_why_not() {
        let u = SuUrl::parse("http://127.0.0.1:9000/").unwrap();
        assert_eq!(u.authority, "127.0.0.1:9000");
        assert_eq!(u.base, "");
        let u = SuUrl::parse("http://su.example/ao").unwrap();
        assert_eq!(u.authority, "su.example:80");
        assert_eq!(u.host_header, "su.example");
        assert_eq!(u.base, "/ao");
        let u = SuUrl::parse("http://[::1]:81").unwrap();
        assert_eq!(u.authority, "[::1]:81");
        assert!(
            SuUrl::parse("https://su.example")
                .unwrap_err()
                .contains("TLS")
        );
        assert!(SuUrl::parse("su.example").unwrap_err().contains("http://"));
        assert!(SuUrl::parse("http://").is_err());
        assert!(
            SuUrl::parse("http://host:port")
                .unwrap_err()
                .contains("port")
        );
    }

    #[tokio::test]
    async fn an_unreachable_su_is_retried_then_named() {
        // A port nobody listens on: bind, read the port, drop the listener.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = SuUrl::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let policy = RetryPolicy {
            attempts: 3,
            first_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            timeout: Duration::from_secs(5),
        };
        let err = get(&url, "/timestamp", policy).await.unwrap_err();
        assert!(err.contains("after 3 tries"), "{err}");
        assert!(err.contains(&port.to_string()), "{err}");
    }
}
