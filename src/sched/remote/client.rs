//! A small HTTP/1.1 GET client for remote Scheduler Units: one connection per request, a
//! timeout on each try, a cap on the body, and retries with exponential back-off on network
//! errors and on the answers that say "try again" (5xx, 429). What is retried is decided on the
//! error's variant ([`TryError::is_retryable`]); any other failure is final at once.
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

/// Why a configured SU URL cannot be used; each names the URL.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    /// An `https://` URL: this build has no TLS stack.
    #[error(
        "`{0}`: https is not built into aocu; put a TLS-terminating proxy on loopback in front \
         of the SU and give its http:// address"
    )]
    Https(String),
    /// Another scheme, or none.
    #[error("`{0}` is not an http:// URL")]
    NotHttp(String),
    /// No host, an empty one, or one with user information (`user@host`).
    #[error("`{0}`: no usable host in the URL")]
    NoHost(String),
    /// A `?query` or `#fragment`, which a base path cannot carry.
    #[error("`{0}`: a query or fragment cannot be a base path")]
    QueryOrFragment(String),
    /// A port that is not a number from 0 to 65535.
    #[error("`{url}`: port `{port}` is not a number")]
    Port {
        /// The URL.
        url: String,
        /// The port as written.
        port: String,
    },
    /// Not a URL at all (a space, a stray character, a broken bracket).
    #[error("`{url}` is not a valid URL: {source}")]
    Invalid {
        /// The URL.
        url: String,
        /// What the URI parser found.
        source: hyper::http::uri::InvalidUri,
    },
}

impl SuUrl {
    /// Parse a configured URL (through `hyper::Uri`); the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<SuUrl, UrlError> {
        let url = || text.to_string();
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| UrlError::NotHttp(url()))?;
        match scheme.to_ascii_lowercase().as_str() {
            "http" => {}
            "https" => return Err(UrlError::Https(url())),
            _ => return Err(UrlError::NotHttp(url())),
        }
        // `hyper::Uri` calls a URL without a host "invalid format"; say which part is missing.
        if rest.is_empty() || rest.starts_with(['/', '?', '#']) {
            return Err(UrlError::NoHost(url()));
        }
        // The URI parser drops a fragment silently; refuse it as a query is refused.
        if text.contains('#') {
            return Err(UrlError::QueryOrFragment(url()));
        }
        let uri: hyper::Uri = text
            .parse()
            .map_err(|source| UrlError::Invalid { url: url(), source })?;
        let authority = uri
            .authority()
            .filter(|a| !a.host().is_empty() && !a.as_str().contains('@'))
            .ok_or_else(|| UrlError::NoHost(url()))?;
        if uri.query().is_some() {
            return Err(UrlError::QueryOrFragment(url()));
        }
        // The URI parser checks a port only when asked for it: check the text after the host.
        let port = match authority.as_str()[authority.host().len()..].strip_prefix(':') {
            None => 80,
            Some(port) => port.parse::<u16>().map_err(|_| UrlError::Port {
                url: url(),
                port: port.to_string(),
            })?,
        };
        Ok(SuUrl {
            authority: format!("{}:{port}", authority.host()),
            host_header: authority.as_str().to_string(),
            base: uri.path().trim_end_matches('/').to_string(),
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

/// One try of a GET that did not bring a usable answer.
#[derive(Debug, thiserror::Error)]
pub enum TryError {
    /// The TCP connection could not be made.
    #[error("cannot connect to {authority}: {source}")]
    Connect {
        /// `host:port`.
        authority: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// The connection broke before or while the answer was read.
    #[error("{stage} {authority}: {source}")]
    Transport {
        /// What was being done (`HTTP handshake with`, `request to`, `reading the answer from`).
        stage: &'static str,
        /// `host:port`.
        authority: String,
        /// The HTTP error.
        source: hyper::Error,
    },
    /// No whole answer within the policy's timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The SU answered a status that says "try again" (5xx, 429).
    #[error("answered {status}: {excerpt}")]
    Status {
        /// The status.
        status: StatusCode,
        /// The start of the body (lossy UTF-8), for the message.
        excerpt: String,
    },
    /// The answer is larger than [`MAX_BODY_BYTES`].
    #[error(
        "reading the answer from {authority}: the answer is larger than {MAX_BODY_BYTES} bytes"
    )]
    TooLarge {
        /// `host:port`.
        authority: String,
    },
    /// The request could not be built (a path that is not a valid URI path).
    #[error("building the request: {0}")]
    Request(#[from] hyper::http::Error),
}

impl TryError {
    /// Whether trying again may help: network errors, timeouts, 5xx and 429 may pass; a
    /// request that cannot be built or an answer too large for the cap will not.
    pub fn is_retryable(&self) -> bool {
        match self {
            TryError::Connect { .. } | TryError::Transport { .. } | TryError::Timeout(_) => true,
            TryError::Status { status, .. } => retryable(*status),
            TryError::TooLarge { .. } | TryError::Request(_) => false,
        }
    }
}

/// A GET that failed: the last try's error, with the number of tries.
#[derive(Debug, thiserror::Error)]
#[error("GET {target}: {last} (after {tries} {})", if *.tries == 1 { "try" } else { "tries" })]
pub struct GetError {
    /// The URL and path asked for.
    pub target: String,
    /// Tries made.
    pub tries: u32,
    /// Why the last one failed.
    pub last: TryError,
}

/// GET `path_and_query` (starting with `/`) under `url`, retrying as `policy` says while the
/// failure [is retryable](TryError::is_retryable). The error is the last try's, with the number
/// of tries.
pub async fn get(
    url: &SuUrl,
    path_and_query: &str,
    policy: RetryPolicy,
) -> Result<Answer, GetError> {
    let attempts = policy.attempts.max(1);
    let mut backoff = policy.first_backoff;
    let mut attempt = 1;
    loop {
        let last = match get_within(url, path_and_query, policy.timeout).await {
            Ok(answer) => return Ok(answer),
            Err(e) => e,
        };
        if attempt >= attempts || !last.is_retryable() {
            return Err(GetError {
                target: format!("{}{path_and_query}", url.as_str()),
                tries: attempt,
                last,
            });
        }
        tracing::debug!(url = url.as_str(), path_and_query, attempt, error = %last, "retrying");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(policy.max_backoff);
        attempt += 1;
    }
}

fn retryable(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// One try within `timeout`; a "try again" status is an error, any other an answer.
async fn get_within(
    url: &SuUrl,
    path_and_query: &str,
    timeout: Duration,
) -> Result<Answer, TryError> {
    let answer = tokio::time::timeout(timeout, get_once(url, path_and_query))
        .await
        .map_err(|_| TryError::Timeout(timeout))??;
    if retryable(answer.status) {
        return Err(TryError::Status {
            status: answer.status,
            excerpt: String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)])
                .into_owned(),
        });
    }
    Ok(answer)
}

async fn get_once(url: &SuUrl, path_and_query: &str) -> Result<Answer, TryError> {
    let authority = || url.authority.clone();
    let transport = |stage: &'static str| {
        move |source: hyper::Error| TryError::Transport {
            stage,
            authority: url.authority.clone(),
            source,
        }
    };
    // Built first: a request that cannot be built needs no connection.
    let request = Request::get(format!("{}{path_and_query}", url.base))
        .header(hyper::header::HOST, &url.host_header)
        .header(hyper::header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())?;
    let stream = tokio::net::TcpStream::connect(&url.authority)
        .await
        .map_err(|source| TryError::Connect {
            authority: authority(),
            source,
        })?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(transport("HTTP handshake with"))?;
    // The connection future drives the socket; it ends with the request.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(transport("request to"))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| match e.downcast::<hyper::Error>() {
            Ok(source) => transport("reading the answer from")(*source),
            // `Limited` fails with its own error only when the cap is passed.
            Err(_) => TryError::TooLarge {
                authority: authority(),
            },
        })?
        .to_bytes();
    Ok(Answer { status, body })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    fn fast(attempts: u32) -> RetryPolicy {
        RetryPolicy {
            attempts,
            first_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn urls_parse_or_say_why_not() {
        let u = SuUrl::parse("http://127.0.0.1:9000/").unwrap();
        assert_eq!(u.authority, "127.0.0.1:9000");
        assert_eq!(u.base, "");
        assert_eq!(u.as_str(), "http://127.0.0.1:9000");
        let u = SuUrl::parse("http://su.example/ao").unwrap();
        assert_eq!(u.authority, "su.example:80");
        assert_eq!(u.host_header, "su.example");
        assert_eq!(u.base, "/ao");
        let u = SuUrl::parse("http://su.example:8080/a/b//").unwrap();
        assert_eq!(
            (
                u.authority.as_str(),
                u.host_header.as_str(),
                u.base.as_str()
            ),
            ("su.example:8080", "su.example:8080", "/a/b")
        );
        let u = SuUrl::parse("http://[::1]:81").unwrap();
        assert_eq!(u.authority, "[::1]:81");
        assert_eq!(SuUrl::parse("http://[::1]").unwrap().authority, "[::1]:80");
        assert!(
            SuUrl::parse("https://su.example")
                .unwrap_err()
                .to_string()
                .contains("TLS")
        );
        let err = SuUrl::parse("su.example").unwrap_err();
        assert!(
            matches!(&err, UrlError::NotHttp(u) if u == "su.example"),
            "{err}"
        );
        assert!(err.to_string().contains("http://"), "{err}");
        assert!(matches!(
            SuUrl::parse("ftp://su.example"),
            Err(UrlError::NotHttp(_))
        ));
        for no_host in ["http://", "http:///ao", "http://:80", "http://user@host"] {
            assert!(
                matches!(SuUrl::parse(no_host), Err(UrlError::NoHost(_))),
                "{no_host}"
            );
        }
        for extra in ["http://host/a?b=1", "http://host/a#frag", "http://host?x"] {
            assert!(
                matches!(SuUrl::parse(extra), Err(UrlError::QueryOrFragment(_))),
                "{extra}"
            );
        }
        for port in ["http://host:port", "http://host:", "http://host:65536"] {
            let err = SuUrl::parse(port).unwrap_err();
            assert!(matches!(err, UrlError::Port { .. }), "{port}: {err}");
            assert!(err.to_string().contains("port"), "{err}");
        }
        assert!(matches!(
            SuUrl::parse("http://ho st"),
            Err(UrlError::Invalid { .. })
        ));
    }

    #[test]
    fn retry_is_decided_on_the_variant() {
        let status = |status| TryError::Status {
            status,
            excerpt: String::new(),
        };
        assert!(status(StatusCode::SERVICE_UNAVAILABLE).is_retryable());
        assert!(status(StatusCode::TOO_MANY_REQUESTS).is_retryable());
        assert!(!status(StatusCode::BAD_REQUEST).is_retryable());
        assert!(TryError::Timeout(Duration::from_secs(1)).is_retryable());
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(
            TryError::Connect {
                authority: "a:1".into(),
                source: refused
            }
            .is_retryable()
        );
        assert!(
            !TryError::TooLarge {
                authority: "a:1".into()
            }
            .is_retryable()
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
        let err = get(&url, "/timestamp", fast(3)).await.unwrap_err();
        assert_eq!(err.tries, 3);
        assert!(matches!(err.last, TryError::Connect { .. }), "{err}");
        let err = err.to_string();
        assert!(err.contains("after 3 tries"), "{err}");
        assert!(err.contains(&port.to_string()), "{err}");
    }

    /// An SU that answers every request with `status`, counting the requests.
    async fn answering(status: &'static str) -> (SuUrl, Arc<AtomicU32>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = SuUrl::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let count = Arc::new(AtomicU32::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: 4\r\nconnection: close\r\n\r\nbusy"
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        (url, count)
    }

    #[tokio::test]
    async fn try_again_statuses_are_retried_and_others_answered() {
        let (url, count) = answering("503 Service Unavailable").await;
        let err = get(&url, "/x", fast(3)).await.unwrap_err();
        assert_eq!((err.tries, count.load(Ordering::SeqCst)), (3, 3));
        let text = err.to_string();
        assert!(
            text.contains("answered 503 Service Unavailable: busy"),
            "{text}"
        );
        assert!(
            text.contains("/x") && text.contains("after 3 tries"),
            "{text}"
        );

        let (url, count) = answering("404 Not Found").await;
        let answer = get(&url, "/x", fast(3)).await.unwrap();
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_request_that_cannot_be_built_is_not_retried() {
        let (url, count) = answering("200 OK").await;
        let err = get(&url, "/a b", fast(3)).await.unwrap_err();
        assert!(matches!(err.last, TryError::Request(_)), "{err}");
        assert_eq!(err.tries, 1);
        assert!(err.to_string().contains("after 1 try"), "{err}");
        assert_eq!(count.load(Ordering::SeqCst), 0, "no connection for it");
    }
}
