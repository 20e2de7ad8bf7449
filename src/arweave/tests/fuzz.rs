//! Property-based fuzzing of what the gateway client reads: whatever a gateway answers (any
//! bytes, JSON of any shape, JSON shaped like the GraphQL answers AO's gateways give with
//! values of the wrong type, missing or hostile, any status), every call of [`Gateways`]
//! returns a value or a typed error and never panics.
//!
//! One scripted gateway serves every case: each request is answered with the case's status
//! and body. 256 cases per property by default; `AOCU_FUZZ_CASES=100000 cargo test --lib
//! arweave::tests::fuzz` runs more.

use std::sync::Mutex;

use proptest::prelude::*;
use proptest::test_runner::Config;

use super::*;

/// Cases per property: `AOCU_FUZZ_CASES`, else 256.
fn config() -> Config {
    let cases = std::env::var("AOCU_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    Config {
        cases,
        // No regression files in the source tree: a failure prints its minimal input.
        failure_persistence: None,
        ..Config::default()
    }
}

/// What the scripted gateway answers now: (status, body).
type Script = Arc<Mutex<(u16, Vec<u8>)>>;

/// The runtime, the scripted gateway on it, and clients of it (one attempt per call, so a
/// case is one request or a few).
struct Rig {
    runtime: tokio::runtime::Runtime,
    script: Script,
    gateways: Gateways,
    _dir: tempfile::TempDir,
}

fn rig() -> &'static Rig {
    static RIG: std::sync::OnceLock<Rig> = std::sync::OnceLock::new();
    RIG.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let script: Script = Arc::new(Mutex::new((200, Vec::new())));
        let url = runtime.block_on(scripted(script.clone()));
        let (gateways, dir) = {
            let _entered = runtime.enter();
            gateways(&[&url], &settings(1, Duration::from_secs(5)), 1 << 20)
        };
        Rig {
            runtime,
            script,
            gateways,
            _dir: dir,
        }
    })
}

async fn scripted(script: Script) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let script = script.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_req: hyper::Request<Incoming>| {
                    let (status, body) = script.lock().unwrap().clone();
                    let mut r = Response::new(Full::new(Bytes::from(body)));
                    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                    async move { Ok::<_, Infallible>(r) }
                });
                let http = hyper::server::conn::http1::Builder::new();
                let _ = http.serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    url
}

/// The ID every call asks for, so that a generated answer can name it.
fn asked() -> Id {
    id(7)
}

/// Keys of the answers the client reads, and values that hit its edges.
fn json_like() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "data",
        "transactions",
        "edges",
        "node",
        "tags",
        "name",
        "value",
        "id",
        "owner",
        "address",
        "key",
        "blocks",
        "pageInfo",
        "hasNextPage",
        "height",
        "timestamp",
        "size",
        "signature",
        "errors",
        "cursor",
        "block",
        "Scheduler",
        "Url",
        "Time-To-Live",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(u64::MAX)),
        Just(json!(-1)),
        Just(json!(asked().to_string())),
        prop::sample::select(vec![
            "ao",
            "Module",
            "Scheduler-Location",
            "Process",
            "Checkpoint",
            "wasm64-unknown-emscripten-draft_2024_02_15",
            "http://127.0.0.1:1",
            "not a url",
            "1-kb",
            "99999999999999999999999",
            "",
        ])
        .prop_map(|s| json!(s)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|fields| {
                Value::Object(
                    fields
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                )
            }),
        ]
    })
}

/// A whole answer: `{"data": ...}` around a generated value, raw JSON, or raw bytes.
fn answer_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => json_like().prop_map(|v| json!({"data": v}).to_string().into_bytes()),
        2 => json_like().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![8 => Just(200u16), 1 => Just(404u16), 1 => 100u16..600]
}

/// Every call the node makes of a gateway, against the scripted answer: none may panic.
fn every_call(status: u16, body: Vec<u8>) {
    let rig = rig();
    *rig.script.lock().unwrap() = (status, body);
    let g = &rig.gateways;
    let id = asked();
    let text = id.to_string();
    rig.runtime.block_on(async {
        let _ = g.module(&id).await;
        let _ = g.scheduler_location(&text).await;
        let _ = g.process_scheduler(&text).await;
        let _ = g.checkpoints(&text, std::slice::from_ref(&text), 50).await;
        let _ = g.blocks(0, i64::MAX).await;
        let _ = g.block_height().await;
        let _ = g
            .graphql_has_edges("query { transactions { edges { node { id } } } }")
            .await;
        let _ = g.raw(&text, 1 << 16).await;
    });
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_gateway_answer_is_a_value_or_an_error(status in status(), body in answer_body()) {
        every_call(status, body);
    }
}

/// Answers shaped exactly like the real ones but for one hostile value each.
#[test]
fn hostile_values_in_well_shaped_answers() {
    let tx = |tags: Value| {
        json!({"data": {"transactions": {"edges": [{"node": {
            "id": asked().to_string(), "owner": {"address": "a", "key": "k"}, "tags": tags,
            "data": {"size": "99999999999999999999999"}, "signature": "s"
        }}]}}})
    };
    let bodies = [
        tx(json!([{"name": "Type", "value": "Module"}])),
        tx(json!([{"name": 5, "value": null}])),
        tx(json!("tags")),
        json!({"data": {"blocks": {"pageInfo": {"hasNextPage": true},
            "edges": [{"node": {"height": -1, "timestamp": 1}}]}}}),
        json!({"data": {"blocks": {"pageInfo": {"hasNextPage": true},
            "edges": [{"node": {"height": i64::MAX, "timestamp": i64::MAX}}]}}}),
        json!({"data": {"blocks": {"pageInfo": {"hasNextPage": true},
            "edges": [{"node": {"height": 0, "timestamp": i64::MIN}}]}}}),
        json!({"height": -5}),
        json!({"height": u64::MAX}),
        json!({"errors": [{"message": "boom"}]}),
    ];
    for body in bodies {
        every_call(200, body.to_string().into_bytes());
    }
}
