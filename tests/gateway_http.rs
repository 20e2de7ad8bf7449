//! The gateway subset over real HTTP: `POST /graphql` and `GET /raw/{id}` answer what the
//! node's store holds, as AO's clients ask for it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use aocu::ao::{DataItem, Tag, Wallet, b64url, b64url_decode, sha256};
use aocu::store::{Assignment, ModuleRecord, ProcessRecord, ScheduledMessage, Store};
use common::Server;
use rand::RngCore;
use serde_json::{Value, json};

// A canonical ID text (its last character carries no stray bits): `/raw` parses IDs strictly.
const MODULE: &str = "MODULE-ID-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaA";
const PROCESS: &str = "PROCESS-ID-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const MESSAGE: &str = "MESSAGE-ID-cccccccccccccccccccccccccccccccc";
const OWNER: &str = "OWNER-ADDRESS-ddddddddddddddddddddddddddddd";

fn tag(name: &str, value: &str) -> Tag {
    Tag {
        name: name.into(),
        value: value.into(),
    }
}

fn module_tags() -> Vec<Tag> {
    vec![
        tag("Data-Protocol", "ao"),
        tag("Type", "Module"),
        tag(
            "Module-Format",
            "wasm64-unknown-emscripten-draft_2024_02_15",
        ),
        tag("Input-Encoding", "JSON-1"),
        tag("Output-Encoding", "JSON-1"),
        tag("Content-Type", "application/wasm"),
    ]
}

/// A state directory with one module (random bytes), one process and one message.
fn filled_state(wasm: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("open store");
    let module = ModuleRecord {
        id: MODULE.into(),
        owner: Some(OWNER.into()),
        tags: module_tags().into(),
        size: wasm.len() as u64,
        added_at_ms: 1_000,
    };
    store.put_module(&module, wasm).expect("put module");
    let spawn_tags = json!([
        {"name": "Data-Protocol", "value": "ao"}, {"name": "Type", "value": "Process"},
        {"name": "Module", "value": MODULE}, {"name": "Scheduler", "value": "SCHEDULER"}
    ]);
    schedule(
        &store,
        PROCESS,
        json!({"Owner": OWNER, "Tags": spawn_tags, "Data": "spawn data"}),
        2_000,
    );
    let message_tags = json!([
        {"name": "Data-Protocol", "value": "ao"}, {"name": "Type", "value": "Message"},
        {"name": "Action", "value": "Eval"}, {"name": "Content-Type", "value": "text/plain"}
    ]);
    schedule(
        &store,
        MESSAGE,
        json!({"Owner": OWNER, "Target": PROCESS, "Tags": message_tags, "Data": "return 1+1"}),
        3_000,
    );
    dir
}

fn schedule(store: &Store, id: &str, fields: Value, timestamp: u64) {
    store
        .append(PROCESS, None, |current| {
            let slot = current.as_ref().map_or(0, |p| p.next_slot);
            let record = ProcessRecord {
                id: PROCESS.into(),
                owner: OWNER.into(),
                module: MODULE.into(),
                scheduler: "SCHEDULER".into(),
                tags: Default::default(),
                next_slot: slot + 1,
                last_message_id: id.into(),
                last_hash_chain: String::new(),
                last_timestamp: timestamp,
            };
            let message = ScheduledMessage {
                id: id.into(),
                assignment: Assignment {
                    process: PROCESS.into(),
                    slot,
                    epoch: 0,
                    timestamp,
                    block_height: 1,
                    hash_chain: String::new(),
                },
                message: fields,
            };
            Ok((record, message))
        })
        .expect("append");
}

fn start() -> (Server, Vec<u8>) {
    let mut wasm = vec![0u8; 4096];
    rand::rng().fill_bytes(&mut wasm);
    let server = Server::start_in(filled_state(&wasm), &[]);
    (server, wasm)
}

fn graphql(server: &Server, query: &str, variables: Value) -> (u16, Value) {
    let body = json!({ "query": query, "variables": variables }).to_string();
    let (status, text) = server.request("POST", "/graphql", body.as_bytes());
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, json)
}

/// A raw exchange returning the head and the body bytes exactly.
fn exchange(server: &Server, method: &str, path: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&out[..split]).to_ascii_lowercase();
    (head, out[split + 4..].to_vec())
}

#[test]
fn aoconnect_module_query_reads_the_module_tags() {
    let (server, _) = start();
    let query = "\n    query GetTransactions ($transactionIds: [ID!]!) {\n      transactions(ids: $transactionIds) {\n        edges {\n          node {\n            owner {\n              address\n            }\n            tags {\n              name\n              value\n            }\n            block {\n              id\n              height\n              timestamp\n            }\n          }\n        }\n      }\n    }";
    let (status, body) = graphql(&server, query, json!({"transactionIds": [MODULE]}));
    assert_eq!(status, 200, "{body}");
    let node = &body["data"]["transactions"]["edges"][0]["node"];
    assert_eq!(node["owner"]["address"], json!(OWNER));
    assert_eq!(node["block"], Value::Null);
    let tags: Vec<Value> = module_tags()
        .iter()
        .map(|t| json!({"name": t.name, "value": t.value}))
        .collect();
    assert_eq!(node["tags"], Value::Array(tags));

    let (status, body) = graphql(&server, query, json!({"transactionIds": ["X".repeat(43)]}));
    assert_eq!(status, 200);
    assert_eq!(body, json!({"data": {"transactions": {"edges": []}}}));
}

#[test]
fn processes_and_messages_are_transactions() {
    let (server, _) = start();
    // ao-scheduler-utils' process lookup: by ID, restricted to ao data items.
    let query = r#"query GetTransactions ($transactionIds: [ID!]!) {
        transactions(ids: $transactionIds tags: [{ name: "Data-Protocol", values: ["ao"] }]) {
          edges { node { id owner { address } recipient tags { name value } data { size type } } } } }"#;
    let (status, body) = graphql(
        &server,
        query,
        json!({"transactionIds": [PROCESS, MESSAGE]}),
    );
    assert_eq!(status, 200, "{body}");
    let edges = body["data"]["transactions"]["edges"].as_array().unwrap();
    let ids: Vec<&str> = edges
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap())
        .collect();
    // Newest first (HEIGHT_DESC is the default order).
    assert_eq!(ids, [MESSAGE, PROCESS]);
    assert_eq!(edges[0]["node"]["recipient"], json!(PROCESS));
    assert_eq!(
        edges[0]["node"]["data"],
        json!({"size": "10", "type": "text/plain"})
    );
    assert_eq!(
        edges[1]["node"]["tags"][3],
        json!({"name": "Scheduler", "value": "SCHEDULER"})
    );

    // Everything an owner has, oldest first, two per page.
    let query = r#"query ($after: String) { transactions(owners: ["OWNER-ADDRESS-ddddddddddddddddddddddddddddd"], sort: HEIGHT_ASC, first: 2, after: $after) {
        pageInfo { hasNextPage } edges { cursor node { id } } } }"#;
    let (_, page1) = graphql(&server, query, json!({}));
    let conn = &page1["data"]["transactions"];
    assert_eq!(conn["pageInfo"]["hasNextPage"], json!(true));
    assert_eq!(conn["edges"][0]["node"]["id"], json!(MODULE));
    assert_eq!(conn["edges"][1]["node"]["id"], json!(PROCESS));
    let cursor = conn["edges"][1]["cursor"].clone();
    let (_, page2) = graphql(&server, query, json!({"after": cursor}));
    let conn = &page2["data"]["transactions"];
    assert_eq!(conn["pageInfo"]["hasNextPage"], json!(false));
    assert_eq!(conn["edges"].as_array().unwrap().len(), 1);
    assert_eq!(conn["edges"][0]["node"]["id"], json!(MESSAGE));
}

#[test]
fn get_form_of_graphql() {
    let (server, _) = start();
    let path = format!(
        "/graphql?query=%7B+transaction%28id%3A+%22{MODULE}%22%29+%7B+id+data+%7B+size+%7D+%7D+%7D"
    );
    let (status, body) = server.get_json(&path);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"data": {"transaction": {"id": MODULE, "data": {"size": "4096"}}}})
    );
}

#[test]
fn bad_and_unsupported_queries_are_400_and_say_why() {
    let (server, _) = start();
    let cases = [
        (
            "{ blocks { edges { cursor } } }",
            "unsupported-query",
            "blocks",
        ),
        (
            "{ transactions(ingested_at: {min: 1}) { edges { cursor } } }",
            "unsupported-query",
            "ingested_at",
        ),
        (
            "{ transactions { edges { node { ...F } } } } fragment F on Transaction { id }",
            "unsupported-query",
            "fragments",
        ),
        (
            "mutation { transactions { edges { cursor } } }",
            "unsupported-query",
            "mutation",
        ),
        (
            "{ transactions { edges { node { id } }",
            "bad-query",
            "line 1",
        ),
        (
            "query ($ids: [ID!]!) { transactions(ids: $ids) { edges { cursor } } }",
            "bad-query",
            "$ids",
        ),
    ];
    for (query, kind, needle) in cases {
        let (status, body) = graphql(&server, query, json!({}));
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["kind"], json!(kind), "{query}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{query}: {message}");
        assert_eq!(body["error"].as_str(), Some(message));
    }
    for (body, needle) in [
        (&b"{\"query\": 5}"[..], "`query` must be a string"),
        (
            b"{\"query\": \"{ a }\", \"variables\": [] }",
            "`variables` must be an object",
        ),
        (b"not json", "not JSON"),
    ] {
        let (status, text) = server.request("POST", "/graphql", body);
        assert_eq!(status, 400, "{text}");
        assert!(text.contains(needle), "{text}");
    }
    let (status, _) = server.request("PUT", "/graphql", b"");
    assert_eq!(status, 405);
    let big = vec![b' '; 2 * 1024 * 1024];
    let (status, _) = server.request("POST", "/graphql", &big);
    assert_eq!(status, 413);
    // The node still answers after all that.
    let (status, _) = graphql(&server, "{ transactions { edges { cursor } } }", json!({}));
    assert_eq!(status, 200);
}

#[test]
fn raw_serves_module_bytes_and_message_data() {
    let (server, wasm) = start();
    let (head, body) = exchange(&server, "GET", &format!("/raw/{MODULE}"));
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: application/wasm"), "{head}");
    assert_eq!(body, wasm);

    let (head, body) = exchange(&server, "HEAD", &format!("/raw/{MODULE}"));
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains(&format!("content-length: {}", wasm.len())),
        "{head}"
    );
    assert!(body.is_empty());

    let (head, body) = exchange(&server, "GET", &format!("/raw/{MESSAGE}"));
    assert!(head.contains("content-type: text/plain"), "{head}");
    assert_eq!(body, b"return 1+1");

    let (status, _) = server.request("GET", &format!("/raw/{}Y", "Z".repeat(42)), b"");
    assert_eq!(status, 404);
    // Not the canonical text of any ID (the last character's unused bits are set): refused.
    let (status, _) = server.request("GET", &format!("/raw/{}", "Z".repeat(43)), b"");
    assert_eq!(status, 400);
    let (status, body) = server.request("GET", "/raw/short", b"");
    assert_eq!(status, 400, "{body}");
    let (status, _) = server.request("POST", &format!("/raw/{MODULE}"), b"");
    assert_eq!(status, 405);
}

/// What a gateway shows of a signed item, read from the exact bytes it was posted as: the
/// ANS-104 header is the signature type (2 bytes), the signature, then the owner (512 bytes
/// each for type 1, Arweave RSA-4096).
fn header_of(bytes: &[u8]) -> (String, String) {
    assert_eq!(&bytes[..2], &[1, 0], "signature type 1");
    let signature = b64url(&bytes[2..514]);
    let key = b64url(&bytes[514..1026]);
    (key, signature)
}

#[test]
fn owner_keys_and_signatures_are_those_of_the_stored_items() {
    // The node generates its wallet; the client signs with another one.
    let server = Server::start(&[]);
    let client = Wallet::generate().unwrap();

    // A module the node signs (raw WASM), and one its publisher signed.
    let wasm = wat::parse_str("(module (memory i64 1))").unwrap();
    let (status, text) = server.request("POST", "/~module@1.0", &wasm);
    assert_eq!(status, 200, "{text}");
    let node_module: Value = serde_json::from_str(&text).unwrap();
    let node_address = node_module["owner"].as_str().unwrap().to_string();
    let tags = aocu::ao::module_item::module_tags(&wasm, &[tag("Name", "published")]);
    let published = DataItem::signed(&client, None, None, tags, wasm.clone()).unwrap();
    let published_bytes = published.to_bytes();
    let (status, text) = server.request("POST", "/~module@1.0", &published_bytes);
    assert_eq!(status, 200, "{text}");

    // A process of the published module and one message to it, both posted as bytes.
    let spawn = DataItem::signed(
        &client,
        None,
        None,
        vec![
            tag("Data-Protocol", "ao"),
            tag("Type", "Process"),
            tag("Module", &published.id()),
            tag("Scheduler", &node_address),
        ],
        b"1984".to_vec(),
    )
    .unwrap();
    let message = DataItem::signed(
        &client,
        Some(spawn.raw_id()),
        None,
        vec![
            tag("Data-Protocol", "ao"),
            tag("Type", "Message"),
            tag("Action", "Eval"),
        ],
        b"return 1+1".to_vec(),
    )
    .unwrap();
    let (spawn_bytes, message_bytes) = (spawn.to_bytes(), message.to_bytes());
    for bytes in [&spawn_bytes, &message_bytes] {
        let (status, text) = server.request("POST", "/", bytes);
        assert_eq!(status, 202, "{text}");
    }

    let query = r#"query ($ids: [ID!]!) { transactions(ids: $ids, first: 10) {
        edges { node { id signature owner { address key } } } } }"#;
    let ids = [
        node_module["id"].as_str().unwrap().to_string(),
        published.id(),
        spawn.id(),
        message.id(),
    ];
    let (status, body) = graphql(&server, query, json!({ "ids": ids }));
    assert_eq!(status, 200, "{body}");
    let edges = body["data"]["transactions"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 4, "{body}");
    let node = |id: &str| {
        edges
            .iter()
            .map(|e| &e["node"])
            .find(|n| n["id"] == id)
            .unwrap_or_else(|| panic!("{id} missing: {body}"))
    };

    // Items posted as bytes: key and signature are those bytes' header, the address is the
    // key's SHA-256.
    for (item, bytes) in [
        (&published, &published_bytes),
        (&spawn, &spawn_bytes),
        (&message, &message_bytes),
    ] {
        let shown = node(&item.id());
        let (key, signature) = header_of(bytes);
        assert_eq!(shown["owner"]["key"], json!(key), "{shown}");
        assert_eq!(shown["signature"], json!(signature), "{shown}");
        assert_eq!(shown["owner"]["address"], json!(client.address()));
    }

    // The item the node signed: its key is the node's (its address is the key's SHA-256) and
    // its ID is the signature's SHA-256, as for every Arweave item.
    let shown = node(ids[0].as_str());
    let key = b64url_decode(shown["owner"]["key"].as_str().unwrap()).unwrap();
    let signature = b64url_decode(shown["signature"].as_str().unwrap()).unwrap();
    assert_eq!((key.len(), signature.len()), (512, 512));
    assert_eq!(b64url(&sha256(&key)), node_address);
    assert_eq!(b64url(&sha256(&signature)), ids[0]);

    // The node's Scheduler-Location carries the node's key too.
    let query = r#"query ($owner: String!) { transactions(owners: [$owner],
        tags: [{ name: "Type", values: ["Scheduler-Location"] }], first: 1) {
        edges { node { owner { address key } } } } }"#;
    let (status, body) = graphql(&server, query, json!({ "owner": node_address }));
    assert_eq!(status, 200, "{body}");
    let owner = &body["data"]["transactions"]["edges"][0]["node"]["owner"];
    assert_eq!(owner["key"], json!(b64url(&key)), "{body}");
}
