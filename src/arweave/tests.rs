//! The gateway client against a gateway served inside the test (hyper: `/graphql`, `/raw/{id}`,
//! `/info`), plain and over TLS with a certificate made here.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::height::BlockHeight;
use super::*;
use crate::ao::{Id, Tag, Tags};
use crate::net::{ClientSettings, RetryPolicy, TlsSettings};

/// What the test gateway holds and how it behaves.
#[derive(Default)]
struct Holdings {
    /// id → (tags, bytes).
    txs: HashMap<String, (Tags, Vec<u8>)>,
    /// scheduler address → tags of its Scheduler-Location record.
    locations: HashMap<String, Tags>,
    height: Option<u64>,
    /// Answer every request with 503.
    busy: bool,
    /// Accept connections and never answer.
    silent: bool,
}

struct TestGateway {
    url: Url,
    requests: Arc<AtomicU32>,
}

async fn gateway(holdings: Holdings, tls: Option<tokio_rustls::TlsAcceptor>) -> TestGateway {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = Url::parse(&format!("{scheme}://{}", listener.local_addr().unwrap())).unwrap();
    let holdings = Arc::new(holdings);
    let requests = Arc::new(AtomicU32::new(0));
    let counted = requests.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            if holdings.silent {
                held.push(stream);
                continue;
            }
            let (holdings, counted, tls) = (holdings.clone(), counted.clone(), tls.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<Incoming>| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let holdings = holdings.clone();
                    async move { Ok::<_, Infallible>(answer(&holdings, req).await) }
                });
                let http = hyper::server::conn::http1::Builder::new();
                match tls {
                    Some(acceptor) => {
                        if let Ok(s) = acceptor.accept(stream).await {
                            let _ = http.serve_connection(TokioIo::new(s), service).await;
                        }
                    }
                    None => {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
            });
        }
    });
    TestGateway { url, requests }
}

async fn answer(h: &Holdings, req: hyper::Request<Incoming>) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: Vec<u8>| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r
    };
    if h.busy {
        return reply(StatusCode::SERVICE_UNAVAILABLE, b"busy".to_vec());
    }
    let path = req.uri().path().to_string();
    if path == "/info" {
        return match h.height {
            Some(height) => reply(StatusCode::OK, json!({"height": height}).to_string().into()),
            None => reply(StatusCode::NOT_FOUND, Vec::new()),
        };
    }
    if let Some(id) = path.strip_prefix("/raw/") {
        return match h.txs.get(id) {
            Some((_, bytes)) => reply(StatusCode::OK, bytes.clone()),
            None => reply(StatusCode::NOT_FOUND, Vec::new()),
        };
    }
    if path == "/graphql" {
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let asked: Value = serde_json::from_slice(&body).unwrap();
        let vars = &asked["variables"];
        let edges: Vec<Value> = if let Some(owner) = vars["owner"].as_str() {
            h.locations
                .get(owner)
                .map(|tags| json!({"node": {"tags": tags}}))
                .into_iter()
                .collect()
        } else {
            let ids = vars["ids"]
                .as_array()
                .or(vars["transactionIds"].as_array())
                .cloned()
                .unwrap_or_default();
            ids.iter()
                .filter_map(|id| {
                    let id = id.as_str()?;
                    let (tags, bytes) = h.txs.get(id)?;
                    Some(json!({"node": {
                        "id": id,
                        "owner": {"address": "publisher", "key": "k"},
                        "tags": tags,
                        "data": {"size": bytes.len().to_string()},
                    }}))
                })
                .collect()
        };
        let out = json!({"data": {"transactions": {"edges": edges}}});
        return reply(StatusCode::OK, out.to_string().into());
    }
    reply(StatusCode::NOT_FOUND, Vec::new())
}

fn wasm() -> Vec<u8> {
    wat::parse_str("(module (memory 1))").unwrap()
}

fn module_tags(overrides: &[(&str, &str)]) -> Tags {
    let overrides: Vec<Tag> = overrides.iter().map(|(n, v)| Tag::new(*n, *v)).collect();
    crate::ao::module_item::module_tags(&wasm(), &overrides)
}

fn id(n: u8) -> Id {
    crate::ao::b64url(&[n; 32]).parse().unwrap()
}

fn settings(attempts: u32, timeout: Duration) -> ClientSettings {
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

fn gateways(urls: &[&Url], settings: &ClientSettings, max: usize) -> (Gateways, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let client = crate::net::Client::new(settings).unwrap();
    let urls = urls.iter().map(|u| (*u).clone()).collect();
    (Gateways::new(urls, client, store, max), dir)
}

fn holding(id: &Id, tags: Tags, bytes: Vec<u8>) -> Holdings {
    Holdings {
        txs: HashMap::from([(id.to_string(), (tags, bytes))]),
        ..Holdings::default()
    }
}

#[tokio::test]
async fn a_module_is_fetched_checked_and_cached() {
    let m = id(1);
    let gw = gateway(holding(&m, module_tags(&[]), wasm()), None).await;
    let (gateways, _dir) = gateways(&[&gw.url], &settings(2, Duration::from_secs(5)), 1 << 20);
    let module = gateways.module(&m).await.unwrap();
    assert_eq!(module.bytes, wasm());
    assert_eq!(module.record.tags.get("Type"), Some("Module"));
    assert_eq!(module.record.owner.as_deref(), Some("publisher"));
    let stored = gateways.store().module_bytes(&m.to_string()).unwrap();
    assert_eq!(stored.as_deref(), Some(&wasm()[..]));
    let asked = gw.requests.load(Ordering::SeqCst);
    assert_eq!(asked, 2, "one GraphQL query and one /raw");
    // The second time it comes from the store.
    assert_eq!(gateways.module(&m).await.unwrap(), module);
    assert_eq!(gw.requests.load(Ordering::SeqCst), asked);
}

#[tokio::test]
async fn wrong_tags_are_refused_and_nothing_is_stored() {
    let cases: [(&str, Tags); 4] = [
        ("Type", module_tags(&[("Type", "Process")])),
        ("Data-Protocol", module_tags(&[("Data-Protocol", "other")])),
        (
            "Module-Format",
            module_tags(&[])
                .iter()
                .filter(|t| t.name != "Module-Format")
                .cloned()
                .collect(),
        ),
        ("Memory-Limit", module_tags(&[("Memory-Limit", "lots")])),
    ];
    for (named, tags) in cases {
        let m = id(2);
        let gw = gateway(holding(&m, tags, wasm()), None).await;
        let (gateways, _dir) = gateways(&[&gw.url], &settings(3, Duration::from_secs(5)), 1 << 20);
        let err = gateways.module(&m).await.unwrap_err();
        assert!(
            matches!(err, GatewayError::Refused { .. }),
            "{named}: {err}"
        );
        assert!(err.to_string().contains(named), "{named}: {err}");
        assert!(gateways.store().module(&m.to_string()).unwrap().is_none());
        assert!(
            gateways
                .store()
                .module_bytes(&m.to_string())
                .unwrap()
                .is_none()
        );
        assert_eq!(
            gw.requests.load(Ordering::SeqCst),
            1,
            "{named}: no bytes fetched"
        );
    }
}

#[tokio::test]
async fn bytes_that_are_not_wasm_or_too_large_are_refused() {
    let m = id(3);
    let gw = gateway(holding(&m, module_tags(&[]), b"<html>".to_vec()), None).await;
    let (gws, _dir) = gateways(&[&gw.url], &settings(2, Duration::from_secs(5)), 1 << 20);
    let err = gws.module(&m).await.unwrap_err().to_string();
    assert!(err.contains("not a WebAssembly binary"), "{err}");
    assert!(gws.store().module(&m.to_string()).unwrap().is_none());

    let gw = gateway(holding(&m, module_tags(&[]), wasm()), None).await;
    let (gws, _dir) = gateways(&[&gw.url], &settings(2, Duration::from_secs(5)), 8);
    let err = gws.module(&m).await.unwrap_err().to_string();
    assert!(err.contains("over the limit of 8"), "{err}");
    assert!(gws.store().module(&m.to_string()).unwrap().is_none());
}

#[tokio::test]
async fn a_gateway_that_never_answers_times_out_in_time() {
    let gw = gateway(
        Holdings {
            silent: true,
            ..Holdings::default()
        },
        None,
    )
    .await;
    let (gws, _dir) = gateways(
        &[&gw.url],
        &settings(2, Duration::from_millis(300)),
        1 << 20,
    );
    let started = Instant::now();
    let err = gws.module(&id(4)).await.unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(err.to_string().contains("within 300ms"), "{err}");
    assert!(matches!(
        err,
        GatewayError::Request {
            source: crate::net::TryError::Timeout { .. },
            ..
        }
    ));
}

#[tokio::test]
async fn retries_reach_the_second_gateway() {
    let m = id(5);
    let down = gateway(
        Holdings {
            busy: true,
            ..Holdings::default()
        },
        None,
    )
    .await;
    let empty = gateway(Holdings::default(), None).await;
    let up = gateway(holding(&m, module_tags(&[]), wasm()), None).await;
    // A busy gateway and one without the module pass to the one that has it.
    let (gws, _dir) = gateways(
        &[&down.url, &empty.url, &up.url],
        &settings(4, Duration::from_secs(5)),
        1 << 20,
    );
    assert_eq!(gws.module(&m).await.unwrap().bytes, wasm());
    assert!(down.requests.load(Ordering::SeqCst) >= 1);
    assert!(empty.requests.load(Ordering::SeqCst) >= 1);
    // No gateway has it: not found, after each was asked.
    let (gws, _dir) = gateways(
        &[&empty.url, &up.url],
        &settings(4, Duration::from_secs(5)),
        1 << 20,
    );
    let err = gws.module(&id(6)).await.unwrap_err();
    assert!(matches!(err, GatewayError::NotFound(_)), "{err}");
}

#[tokio::test]
async fn locations_and_heights() {
    let address = crate::ao::b64url(&[7u8; 32]);
    let su_url = "https://su.example:8443";
    let tags: Tags = [
        Tag::new("Data-Protocol", "ao"),
        Tag::new("Type", "Scheduler-Location"),
        Tag::new("Url", su_url),
        Tag::new("Time-To-Live", "3600000"),
    ]
    .into_iter()
    .collect();
    let gw = gateway(
        Holdings {
            locations: HashMap::from([(address.clone(), tags)]),
            height: Some(1_600_123),
            ..Holdings::default()
        },
        None,
    )
    .await;
    let (gws, _dir) = gateways(&[&gw.url], &settings(2, Duration::from_secs(5)), 1 << 20);
    let location = gws.scheduler_location(&address).await.unwrap();
    assert_eq!(location.url.as_str(), su_url);
    assert_eq!(location.ttl, Duration::from_secs(3600));
    let asked = gw.requests.load(Ordering::SeqCst);
    gws.scheduler_location(&address).await.unwrap();
    assert_eq!(
        gw.requests.load(Ordering::SeqCst),
        asked,
        "cached for its TTL"
    );
    let err = gws.scheduler_location("nobody").await.unwrap_err();
    assert!(matches!(err, GatewayError::NotFound(_)), "{err}");

    let (height, from) = gws.block_height().await.unwrap();
    assert_eq!((height, from.as_str()), (1_600_123, gw.url.as_str()));
    let cell = BlockHeight::restore(gws.store(), 42);
    assert_eq!(cell.with_source(), (42, height::Source::Config));
    Arc::new(gws).follow_height(cell.clone(), None).await;
    assert_eq!(cell.get(), 1_600_123);
    assert_eq!(cell.describe()["block_height_source"], "gateway");
}

#[tokio::test]
async fn the_height_survives_a_restart() {
    let gw = gateway(
        Holdings {
            height: Some(1_500_000),
            ..Holdings::default()
        },
        None,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let client = crate::net::Client::new(&settings(1, Duration::from_secs(5))).unwrap();
        let gws = Arc::new(Gateways::new(
            vec![gw.url.clone()],
            client,
            store.clone(),
            1,
        ));
        let cell = BlockHeight::restore(&store, 0);
        gws.follow_height(cell.clone(), None).await;
        assert_eq!(cell.get(), 1_500_000);
    }
    let store = Store::open(dir.path()).unwrap();
    let cell = BlockHeight::restore(&store, 7);
    let (h, source) = cell.with_source();
    assert_eq!(h, 1_500_000);
    assert!(
        matches!(source, height::Source::Stored { .. }),
        "{source:?}"
    );
}

#[tokio::test]
async fn a_tls_gateway_with_a_wrong_certificate_is_refused_by_name() {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(made.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![made.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let m = id(8);
    let gw = gateway(holding(&m, module_tags(&[]), wasm()), Some(acceptor)).await;
    // Not trusted: refused, the certificate problem named.
    let (gws, _dir) = gateways(&[&gw.url], &settings(2, Duration::from_secs(5)), 1 << 20);
    let err = gws.module(&m).await.unwrap_err().to_string();
    assert!(
        err.contains("invalid peer certificate: UnknownIssuer"),
        "{err}"
    );
    // Trusted through the CA file: fetched.
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, made.cert.pem()).unwrap();
    let mut trusting = settings(2, Duration::from_secs(5));
    trusting.tls.ca_file = Some(ca);
    let (gws, _dir) = gateways(&[&gw.url], &trusting, 1 << 20);
    assert_eq!(gws.module(&m).await.unwrap().bytes, wasm());
}

mod fuzz;
