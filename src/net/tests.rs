//! The client against small servers in the test: plain and TLS (certificates made here with
//! rcgen), retries, timeouts, limits and connection reuse.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::*;

fn fast(attempts: u32, timeout: Duration) -> ClientSettings {
    ClientSettings {
        tls: TlsSettings::default(),
        retry: RetryPolicy {
            attempts,
            first_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            timeout,
        },
    }
}

/// A server answering every request with `status` and `body`; counts connections and requests.
struct TestServer {
    url: Url,
    connections: Arc<AtomicU32>,
    requests: Arc<AtomicU32>,
}

async fn server(
    status: StatusCode,
    body: &'static str,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = Url::parse(&format!("{scheme}://{addr}")).unwrap();
    let connections = Arc::new(AtomicU32::new(0));
    let requests = Arc::new(AtomicU32::new(0));
    let (conns, reqs) = (connections.clone(), requests.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            conns.fetch_add(1, Ordering::SeqCst);
            let reqs = reqs.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_req: hyper::Request<Incoming>| {
                    reqs.fetch_add(1, Ordering::SeqCst);
                    async move {
                        let mut response =
                            Response::new(Full::new(Bytes::from_static(body.as_bytes())));
                        *response.status_mut() = status;
                        Ok::<_, Infallible>(response)
                    }
                });
                let http = hyper::server::conn::http1::Builder::new();
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                    None => {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
            });
        }
    });
    TestServer {
        url,
        connections,
        requests,
    }
}

/// A certificate for `names`, self-signed: (PEM of the certificate, the acceptor serving it).
fn certificate(names: &[&str]) -> (String, tokio_rustls::TlsAcceptor) {
    let made =
        rcgen::generate_simple_self_signed(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    let cert = made.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::try_from(made.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    (
        made.cert.pem(),
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    )
}

fn trusting(pem: &str, dir: &tempfile::TempDir) -> ClientSettings {
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, pem).unwrap();
    let mut settings = fast(3, Duration::from_secs(5));
    settings.tls.ca_file = Some(path);
    settings
}

#[tokio::test]
async fn an_unreachable_peer_is_retried_then_named() {
    // A port nobody listens on: bind, read the port, drop the listener.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let client = Client::new(&fast(3, Duration::from_secs(5))).unwrap();
    let err = client
        .send(Call::get(&url, "/timestamp", 1024))
        .await
        .unwrap_err();
    assert_eq!(err.tries, 3);
    assert!(matches!(err.last, TryError::Connect { .. }), "{err}");
    let err = err.to_string();
    assert!(err.contains("after 3 tries"), "{err}");
    assert!(err.contains(&port.to_string()), "{err}");
}

#[tokio::test]
async fn try_again_statuses_are_retried_and_others_answered() {
    let client = Client::new(&fast(3, Duration::from_secs(5))).unwrap();
    let busy = server(StatusCode::SERVICE_UNAVAILABLE, "busy", None).await;
    let err = client
        .send(Call::get(&busy.url, "/x", 1024))
        .await
        .unwrap_err();
    assert_eq!((err.tries, busy.requests.load(Ordering::SeqCst)), (3, 3));
    let text = err.to_string();
    assert!(text.contains("503 Service Unavailable: busy"), "{text}");
    assert!(
        text.contains("/x") && text.contains("after 3 tries"),
        "{text}"
    );

    let missing = server(StatusCode::NOT_FOUND, "", None).await;
    let answer = client
        .send(Call::get(&missing.url, "/x", 1024))
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_request_that_cannot_be_built_is_not_retried() {
    let client = Client::new(&fast(3, Duration::from_secs(5))).unwrap();
    let ok = server(StatusCode::OK, "{}", None).await;
    let err = client
        .send(Call::get(&ok.url, "/a b", 1024))
        .await
        .unwrap_err();
    assert!(matches!(err.last, TryError::Request(_)), "{err}");
    assert!(err.to_string().contains("after 1 try"), "{err}");
    assert_eq!(
        ok.connections.load(Ordering::SeqCst),
        0,
        "no connection for it"
    );
}

#[tokio::test]
async fn connections_are_reused_and_bodies_limited() {
    let client = Client::new(&fast(3, Duration::from_secs(5))).unwrap();
    let ok = server(StatusCode::OK, "0123456789", None).await;
    for _ in 0..3 {
        let answer = client.send(Call::get(&ok.url, "/x", 10)).await.unwrap();
        assert_eq!(&answer.body[..], b"0123456789");
    }
    assert_eq!(ok.requests.load(Ordering::SeqCst), 3);
    assert_eq!(
        ok.connections.load(Ordering::SeqCst),
        1,
        "one kept connection"
    );
    let err = client.send(Call::get(&ok.url, "/x", 9)).await.unwrap_err();
    assert!(
        matches!(err.last, TryError::TooLarge { limit: 9, .. }),
        "{err}"
    );
    assert_eq!(err.tries, 1, "a limit is not retried");
}

#[tokio::test]
async fn a_peer_that_never_answers_times_out_in_time() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    // Accepts, reads nothing, answers nothing, keeps the sockets open.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let client = Client::new(&fast(2, Duration::from_millis(300))).unwrap();
    let started = Instant::now();
    let err = client
        .send(Call::get(&url, "/info", 1024))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err.last, TryError::Timeout { .. }), "{err}");
    assert_eq!(err.tries, 2);
    assert!(took >= Duration::from_millis(600), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(err.to_string().contains("within 300ms"), "{err}");
}

#[tokio::test]
async fn tls_with_a_trusted_ca_file() {
    let (pem, acceptor) = certificate(&["localhost", "127.0.0.1"]);
    let tls = server(StatusCode::OK, "secure", Some(acceptor)).await;
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(&trusting(&pem, &dir)).unwrap();
    for _ in 0..2 {
        let answer = client.send(Call::get(&tls.url, "/", 1024)).await.unwrap();
        assert_eq!(&answer.body[..], b"secure");
    }
    assert_eq!(
        tls.connections.load(Ordering::SeqCst),
        1,
        "one kept TLS connection"
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_and_named() {
    let (_, acceptor) = certificate(&["localhost", "127.0.0.1"]);
    let tls = server(StatusCode::OK, "secure", Some(acceptor)).await;
    let client = Client::new(&fast(3, Duration::from_secs(5))).unwrap();
    let err = client
        .send(Call::get(&tls.url, "/", 1024))
        .await
        .unwrap_err();
    assert!(matches!(err.last, TryError::Tls { .. }), "{err}");
    assert_eq!(err.tries, 1, "a certificate problem is not retried");
    let text = err.to_string();
    assert!(text.contains("invalid peer certificate"), "{text}");
    assert!(text.contains("UnknownIssuer"), "{text}");
    assert_eq!(tls.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused_and_named() {
    let (pem, acceptor) = certificate(&["other.example"]);
    let tls = server(StatusCode::OK, "secure", Some(acceptor)).await;
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(&trusting(&pem, &dir)).unwrap();
    let err = client
        .send(Call::get(&tls.url, "/", 1024))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err.last, TryError::Tls { .. }), "{text}");
    assert!(text.contains("not valid for name"), "{text}");
}

#[tokio::test]
async fn verification_is_off_only_through_the_explicit_key() {
    let (_, acceptor) = certificate(&["other.example"]);
    let tls = server(StatusCode::OK, "secure", Some(acceptor)).await;
    let mut settings = fast(1, Duration::from_secs(5));
    settings.tls.insecure_skip_verify = true;
    let client = Client::new(&settings).unwrap();
    let answer = client.send(Call::get(&tls.url, "/", 1024)).await.unwrap();
    assert_eq!(&answer.body[..], b"secure");
}

#[tokio::test]
async fn plain_http_to_a_tls_port_is_an_error_not_a_hang() {
    let (_, acceptor) = certificate(&["localhost"]);
    let tls = server(StatusCode::OK, "secure", Some(acceptor)).await;
    let plain = Url::parse(&tls.url.as_str().replace("https://", "http://")).unwrap();
    let client = Client::new(&fast(1, Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    assert!(client.send(Call::get(&plain, "/", 1024)).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(5));
}
