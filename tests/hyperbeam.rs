//! aocu as HyperBEAM's CU: a small server here plays HyperBEAM's scheduler
//! (`/~scheduler@1.0/schedule`, aos-2 pages built as `../shared/HYPERBEAM-CU.md` section 5
//! describes), the node is started the way `genesis-wasm@1.0` starts its CU (only HyperBEAM's
//! environment variables), and the test posts slots as HyperBEAM does: one-edge aos-2 pages to
//! `POST /result/{slot}?process-id=`.
//!
//! Two processes, `aos-2-pure.wasm` (legacy-SU assignments with `Nonce` and a checked
//! `Hash-Chain`, block height above 1,440,000) and `aos-dock.wasm` (HyperBEAM-native `Slot`
//! assignments, no chain): slot 0 comes from the scheduler on the cold start of slot 1; then
//! Evals from the owner, an Eval from a stranger, two `Send`s, a skipped slot (whose
//! `Original-Assignment-Id` the next link of the chain uses). Every answer is checked against
//! the same messages run through `aocu eval --json`. Then dry-runs, a snapshot, `kill -9`, a
//! restart, and the next slot continues the state; bad input is refused and changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod common;
mod prereq;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The scheduler's (HyperBEAM's) address and the process owner's.
const HB_ADDRESS: &str = "hbHBhbHBhbHBhbHBhbHBhbHBhbHBhbHBhbHBhbHBhbH";
const OWNER: &str = "ownerOWNERownerOWNERownerOWNERownerOWNER012";
const STRANGER: &str = "strangerSTRANGERstrangerSTRANGERstranger012";
const TARGET_A: &str = "targetAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const TARGET_B: &str = "targetBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

/// A 43-character ID from a seed (what HyperBEAM's IDs look like).
fn id(seed: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(seed.as_bytes()))
}

fn raw_id(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

fn tag(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value })
}

/// One process as HyperBEAM schedules it, and the messages the CU must feed it.
struct Proc {
    pid: String,
    module: Value,
    legacy: bool,
    height: u64,
    process_tags: Vec<Value>,
    /// (assignment ID of the previous slot, or its original after a skip; its hash chain).
    prev: (String, String),
    timestamp: u64,
    /// The `{message, env}` lines `aocu eval` gets: every evaluated slot.
    eval_lines: Vec<Value>,
    /// Which slot each eval line is.
    eval_slots: Vec<u64>,
}

impl Proc {
    fn new(name: &str, module: Value, legacy: bool) -> Proc {
        let pid = id(&format!("process {name}"));
        let process_tags = vec![
            tag("Data-Protocol", "ao"),
            tag("Variant", "ao.TN.1"),
            tag("Type", "Process"),
            tag("Module", module["id"].as_str().unwrap()),
            tag("Scheduler", HB_ADDRESS),
            tag("Name", name),
        ];
        Proc {
            pid,
            module,
            legacy,
            height: if legacy { 1_500_000 } else { 1_000 },
            process_tags,
            prev: (String::new(), String::new()),
            timestamp: 1_750_000_000_000,
            eval_lines: Vec::new(),
            eval_slots: Vec::new(),
        }
    }

    fn env(&self) -> Value {
        json!({
            "Process": { "Id": self.pid, "Owner": OWNER, "Tags": self.process_tags },
            "Module": {
                "Id": self.module["id"], "Owner": self.module["owner"], "Tags": self.module["tags"]
            },
        })
    }

    /// The one-edge aos-2 page of `slot`, and (unless skipped) the message the CU must feed.
    fn page(&mut self, slot: u64, from: &str, tags: Vec<Value>, data: Value, skip: bool) -> Value {
        self.timestamp += 1_000;
        let message_id = if slot == 0 {
            self.pid.clone()
        } else {
            id(&format!("{} message {slot}", self.pid))
        };
        let assignment_id = id(&format!("{} assignment {slot}", self.pid));
        let link = if slot == 0 {
            URL_SAFE_NO_PAD.encode(Sha256::digest(raw_id(&self.pid)))
        } else {
            let mut input = raw_id(&self.prev.0);
            input.extend(raw_id(&self.prev.1));
            URL_SAFE_NO_PAD.encode(Sha256::digest(&input))
        };
        let (height, ts) = (self.height.to_string(), self.timestamp.to_string());
        let mut a_tags = if self.legacy {
            vec![
                tag("Process", &self.pid),
                tag("Epoch", "0"),
                tag("Nonce", &slot.to_string()),
                tag("Hash-Chain", &link),
                tag("Block-Height", &format!("{:012}", self.height)),
                tag("Timestamp", &ts),
                tag("Message", &message_id),
                tag("Data-Protocol", "ao"),
                tag("Variant", "ao.TN.1"),
                tag("Type", "Assignment"),
            ]
        } else {
            vec![
                tag("Data-Protocol", "ao"),
                tag("Variant", "ao.N.1"),
                tag("Process", &self.pid),
                tag("Epoch", "0"),
                tag("Slot", &slot.to_string()),
                tag("Block-Height", &height),
                tag("Block-Hash", &id("block")),
                tag("Block-Timestamp", &(self.timestamp / 1000).to_string()),
                tag("Timestamp", &ts),
                tag("Type", "Assignment"),
            ]
        };
        let original = id(&format!("{} assignment {}", self.pid, slot - slot.min(1)));
        if skip {
            a_tags.push(tag("Skip", "true"));
            a_tags.push(tag("Original-Assignment-Id", &original));
        }
        let signature = URL_SAFE_NO_PAD.encode([7u8; 512]);
        let message = json!({
            "Id": message_id, "Anchor": "", "Owner": from, "From": from, "Tags": tags,
            "Target": self.pid, "Data": data, "Signature": signature, "PublicKey": "",
        });
        let assignment = json!({
            "Id": assignment_id, "Anchor": "", "Owner": HB_ADDRESS, "From": HB_ADDRESS,
            "Tags": a_tags, "Target": "", "Data": null, "Signature": "", "PublicKey": "",
        });
        let chain = if self.legacy {
            link.clone()
        } else {
            String::new()
        };
        if !skip {
            let mut fed = json!({
                "Id": message_id, "Signature": signature, "Owner": from, "From": from,
                "Anchor": "", "Tags": message["Tags"], "Data": message["Data"],
                "Epoch": 0, "Nonce": slot, "Timestamp": self.timestamp,
                "Block-Height": self.height, "Hash-Chain": chain,
                "Module": self.module["id"], "Cron": false, "Target": self.pid,
            });
            if data.is_null() {
                fed["Data"] = Value::Null;
            }
            self.eval_lines
                .push(json!({ "message": fed, "env": self.env() }));
            self.eval_slots.push(slot);
        }
        self.prev = (if skip { original } else { assignment_id }, link);
        json!({
            "page_info": {
                "process": self.pid, "has_next_page": false, "timestamp": ts,
                "block-height": height, "block-hash": id("block"),
            },
            "edges": [{ "cursor": slot, "node": { "message": message, "assignment": assignment } }],
        })
    }

    fn process_page(&mut self) -> Value {
        let tags = self.process_tags.clone();
        self.page(0, OWNER, tags, json!(""), false)
    }

    fn eval(&mut self, slot: u64, from: &str, code: &str) -> Value {
        self.page(slot, from, vec![tag("Action", "Eval")], json!(code), false)
    }

    /// What `aocu eval --json` answers for every evaluated slot so far.
    fn expected(&self, dir: &Path) -> BTreeMap<u64, Value> {
        let file = dir.join(format!("{}.jsonl", self.pid));
        let text: Vec<String> = self.eval_lines.iter().map(Value::to_string).collect();
        std::fs::write(&file, text.join("\n")).unwrap();
        let wasm = self.module["path"].as_str().unwrap();
        let out = common::aocu()
            .args(["eval", "--json", "--module", wasm, "--messages"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), self.eval_slots.len());
        self.eval_slots.iter().copied().zip(lines).collect()
    }
}

/// `aocu eval`'s line in the shape HyperBEAM reads: `Output` an object with `data`.
fn as_hyperbeam_reads(line: &Value) -> Value {
    let output = match line.get("Output") {
        Some(Value::Object(o)) => {
            let mut o = o.clone();
            o.entry("data").or_insert(json!(""));
            Value::Object(o)
        }
        Some(Value::String(s)) => json!({ "data": s }),
        Some(Value::Number(n)) => json!({ "data": n.to_string() }),
        _ => json!({ "data": "" }),
    };
    let list = |name: &str| {
        line.get(name)
            .filter(|v| v.is_array())
            .cloned()
            .unwrap_or(json!([]))
    };
    let mut out = json!({
        "Output": output, "Messages": list("Messages"), "Spawns": list("Spawns"),
        "Assignments": list("Assignments"),
    });
    if let Some(e) = line.get("Error").filter(|e| !e.is_null()) {
        out["Error"] = e.clone();
    }
    out
}

fn assert_matches(answer: &Value, line: &Value, what: &str) {
    let expected = as_hyperbeam_reads(line);
    for field in ["Output", "Messages", "Spawns", "Assignments"] {
        assert_eq!(answer[field], expected[field], "{what}: {field}");
    }
    assert_eq!(answer.get("Error"), expected.get("Error"), "{what}: Error");
}

/// HyperBEAM's scheduler: answers `/~scheduler@1.0/schedule?target=P...` with the process'
/// slot-0 page (as a JSON string holding the JSON for the legacy process, as HyperBEAM at times
/// sends it), counting the requests.
struct FakeHb {
    addr: SocketAddr,
    pages: Arc<Mutex<BTreeMap<String, (Value, bool)>>>,
    requests: Arc<AtomicUsize>,
}

impl FakeHb {
    fn start() -> FakeHb {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let pages: Arc<Mutex<BTreeMap<String, (Value, bool)>>> = Arc::default();
        let requests = Arc::new(AtomicUsize::new(0));
        let (p, r) = (pages.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve_schedule(stream, &p, &r);
            }
        });
        FakeHb {
            addr,
            pages,
            requests,
        }
    }
}

fn serve_schedule(
    mut stream: TcpStream,
    pages: &Mutex<BTreeMap<String, (Value, bool)>>,
    requests: &AtomicUsize,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap_or(0);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
    }
    requests.fetch_add(1, Ordering::SeqCst);
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let query: BTreeMap<String, String> = path
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let found = path.starts_with("/~scheduler@1.0/schedule?")
        && query.get("from").map(String::as_str) == Some("0")
        && query.get("accept").map(String::as_str) == Some("application%2Faos-2");
    let page = query
        .get("target")
        .and_then(|t| pages.lock().unwrap().get(t).cloned())
        .filter(|_| found);
    let (status, body) = match page {
        Some((page, as_string)) if as_string => {
            ("200 OK", Value::String(page.to_string()).to_string())
        }
        Some((page, _)) => ("200 OK", page.to_string()),
        None => (
            "404 Not Found",
            "{\"error\":\"no such schedule\"}".to_string(),
        ),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// `aocu serve` started as `genesis-wasm@1.0` starts its CU: HyperBEAM's environment only.
struct Node {
    child: Child,
    addr: SocketAddr,
}

impl Node {
    fn start(state: &Path, hb: SocketAddr) -> Node {
        Node::start_with(state, hb, &[])
    }

    /// As [`Node::start`], with more environment variables (`AOCU_*` keys).
    fn start_with(state: &Path, hb: SocketAddr, env: &[(&str, &str)]) -> Node {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = common::aocu()
            .arg("serve")
            .env("UNIT_MODE", "hbu")
            .env("HB_URL", format!("http://localhost:{}", hb.port()))
            .env("PORT", port.to_string())
            .env("DB_URL", state)
            .env("NODE_CONFIG_ENV", "production")
            .env("DEFAULT_LOG_LEVEL", "info")
            .env("WALLET_FILE", state.join("wallet.json"))
            .env("DISABLE_PROCESS_FILE_CHECKPOINT_CREATION", "false")
            .env(
                "PROCESS_MEMORY_FILE_CHECKPOINTS_DIR",
                state.join("checkpoints"),
            )
            .env("PROCESS_MEMORY_CACHE_MAX_SIZE", "12_000_000_000")
            .env("PROCESS_WASM_SUPPORTED_EXTENSIONS", "WeaveDrive")
            .env("PROCESS_WASM_MEMORY_MAX_LIMIT", "24_000_000_000")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr: SocketAddr = line
            .trim()
            .strip_prefix("aocu listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .parse()
            .unwrap();
        assert_eq!(addr.port(), port, "PORT is where it listens");
        Node { child, addr }
    }

    fn post(&self, path: &str, body: &[u8]) -> (u16, BTreeMap<String, String>, Value) {
        self.request("POST", path, body)
    }

    /// `METHOD path` with a body: (status, lower-cased headers, JSON body).
    fn request(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> (u16, BTreeMap<String, String>, Value) {
        let headers = [("Content-Type", "application/json")];
        let (status, headers, body) = self.exchange(method, path, &headers, body);
        let body = String::from_utf8_lossy(&body).into_owned();
        let json = serde_json::from_str(&body).unwrap_or(Value::String(body));
        (status, headers, json)
    }

    /// `METHOD path` with `headers` and a body: (status, lower-cased headers, body bytes).
    fn exchange(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, BTreeMap<String, String>, Vec<u8>) {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        let mut head =
            format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut out = Vec::new();
        stream.read_to_end(&mut out).unwrap();
        common::split_response(&out)
    }

    fn slot(&self, p: &Proc, slot: u64, page: &Value) -> (BTreeMap<String, String>, Value) {
        let (status, headers, body) = self.post(
            &format!("/result/{slot}?process-id={}", p.pid),
            page.to_string().as_bytes(),
        );
        assert_eq!(status, 200, "slot {slot}: {body}");
        assert_eq!(headers.get("slot"), Some(&slot.to_string()), "slot header");
        assert!(
            body.get("Error").is_none_or(|e| !e.is_null()),
            "no null Error key"
        );
        assert!(body["Output"].get("data").is_some(), "Output.data: {body}");
        (headers, body)
    }

    fn kill(mut self) {
        // SIGKILL: no shutdown, no checkpoint at exit.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `aocu module add` on the stopped node's state: the module's `{id, owner, tags}` and path.
fn add_module(state: &Path, wasm: &Path) -> Value {
    let out = common::aocu()
        .args(["module", "add", "--json", "--state-dir"])
        .arg(state)
        .arg(wasm)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut module: Value = serde_json::from_slice(&out.stdout).unwrap();
    module["path"] = json!(wasm.display().to_string());
    module
}

fn testdata(name: &str) -> Option<PathBuf> {
    prereq::testdata(&format!("wasm/{name}"))
}

#[test]
fn hyperbeam_runs_aos_through_aocu() {
    let (Some(pure), Some(dock)) = (testdata("aos-2-pure.wasm"), testdata("aos-dock.wasm")) else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut legacy = Proc::new("pure", add_module(state.path(), &pure), true);
    let mut native = Proc::new("dock", add_module(state.path(), &dock), false);
    let hb = FakeHb::start();
    for (p, as_string) in [(&mut legacy, true), (&mut native, false)] {
        let page = p.process_page();
        hb.pages
            .lock()
            .unwrap()
            .insert(p.pid.clone(), (page, as_string));
    }
    let node = Node::start(state.path(), hb.addr);
    // HyperBEAM's liveness probe, and the Node CU's healthcheck.
    let started = std::time::Instant::now();
    let (status, _, body) = node.request("GET", "/status", b"");
    assert_eq!(status, 200, "{body}");
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
    let (status, _, body) = node.request("GET", "/", b"");
    assert_eq!(status, 200, "{body}");

    let mut answers: Vec<(String, u64, Value)> = Vec::new();
    for p in [&mut legacy, &mut native] {
        let send = format!(
            "Send({{Target = \"{TARGET_A}\", Action = \"Ping\", Data = \"one\"}}); \
             Send({{Target = \"{TARGET_B}\", Action = \"Ping\", Data = \"two\"}}); return 'sent'"
        );
        let pages = [
            p.eval(1, OWNER, "X = 40; return X"),
            p.eval(2, STRANGER, "X = 0; return 'stranger'"),
            p.eval(3, OWNER, &send),
        ];
        for (k, page) in pages.iter().enumerate() {
            let slot = k as u64 + 1;
            let (headers, body) = node.slot(p, slot, page);
            if slot == 1 {
                assert_eq!(headers.get("cold-start").map(String::as_str), Some("true"));
            }
            assert_eq!(
                headers.get("ao-types").map(String::as_str),
                Some(
                    "timestamp=integer,block-height=integer,slot=integer,cold-start=atom,cu-cached=atom,eval-stream-length=integer"
                )
            );
            assert_eq!(headers.get("block-height"), Some(&p.height.to_string()));
            answers.push((p.pid.clone(), slot, body));
        }
        // Slot 4: HyperBEAM's deduplicated repeat of slot 3, skipped.
        let page = p.page(4, OWNER, vec![tag("Action", "Eval")], json!(send), true);
        let (_, skipped) = node.slot(p, 4, &page);
        assert_eq!(
            skipped["Messages"],
            json!([]),
            "a skipped slot is not evaluated"
        );
        assert_eq!(
            skipped["Output"],
            json!({"data": "", "prompt": "", "print": false})
        );
        let page = p.eval(5, OWNER, "X = X + 2; return X");
        answers.push((p.pid.clone(), 5, node.slot(p, 5, &page).1));
    }
    assert_eq!(
        hb.requests.load(Ordering::SeqCst),
        2,
        "one schedule read per cold process"
    );

    // The outbox in order, as HyperBEAM reads it.
    let send = &answers
        .iter()
        .find(|(pid, s, _)| *pid == legacy.pid && *s == 3)
        .unwrap()
        .2;
    let targets: Vec<&str> = send["Messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["Target"].as_str())
        .collect();
    assert_eq!(targets, [TARGET_A, TARGET_B]);

    // Dry-runs: HyperBEAM's message JSON (Owner empty, Data null) and an owner's Eval.
    for p in [&legacy, &native] {
        let body = json!({"Id": "", "Anchor": "", "Owner": "", "From": "", "Target": p.pid,
            "Tags": [{"name": "Action", "value": "Info"}], "Data": null, "Signature": "",
            "PublicKey": ""});
        let (status, _, answer) = node.post(
            &format!("/dry-run?process-id={}", p.pid),
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 200, "{answer}");
        assert!(answer["Output"].get("data").is_some(), "{answer}");
        let body = json!({"Owner": OWNER, "From": OWNER, "Target": p.pid,
            "Tags": [{"name": "Action", "value": "Eval"}], "Data": "X = 1000; return X"});
        let (status, _, answer) = node.post(
            &format!("/dry-run?process-id={}", p.pid),
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 200, "{answer}");
        assert!(answer.to_string().contains("1000"), "{answer}");
    }

    // Bad input changes nothing: not a page, not the page of this slot, not the next slot, a
    // hash chain that does not follow.
    let p = &mut legacy;
    let path = format!("/result/6?process-id={}", p.pid);
    let (status, _, e) = node.post(&path, b"{\"edges\": 5}");
    assert_eq!(status, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("aos-2"), "{e}");
    let (status, _, e) = node.post(&path, b"not json");
    assert_eq!(status, 400, "{e}");
    let mut later = Proc::new("pure", p.module.clone(), true);
    later.pid = p.pid.clone();
    later.prev = p.prev.clone();
    let page9 = later.eval(9, OWNER, "X = -1");
    let (status, _, e) = node.post(
        &format!("/result/9?process-id={}", p.pid),
        page9.to_string().as_bytes(),
    );
    assert_eq!(status, 422, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("not the next slot"),
        "{e}"
    );
    let (status, _, e) = node.post(&path, page9.to_string().as_bytes());
    assert_eq!(status, 400, "the page of slot 9 for slot 6: {e}");
    let mut forged = later.eval(6, OWNER, "X = -1");
    forged["edges"][0]["node"]["assignment"]["Tags"][3]["value"] = json!(id("wrong link"));
    let (status, _, e) = node.post(&path, forged.to_string().as_bytes());
    assert_eq!(status, 422, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("HashChain invalid"),
        "{e}"
    );

    // A snapshot, then kill -9 and a restart: slot 6 continues the state.
    let (status, headers, snap) = node.post(&format!("/snapshot/{}", native.pid), b"{}");
    assert_eq!(status, 200, "{snap}");
    assert_eq!(
        headers.get("snapshot-ordinate").map(String::as_str),
        Some("5")
    );
    assert_eq!(snap["success"], true);
    let (status, _, none) = node.post(&format!("/snapshot/{}", id("nobody")), b"");
    assert_eq!(status, 404, "{none}");
    node.kill();
    let node = Node::start(state.path(), hb.addr);
    for p in [&mut legacy, &mut native] {
        let page = p.eval(6, OWNER, "X = X * 10; return X");
        let (headers, body) = node.slot(p, 6, &page);
        assert_eq!(headers.get("cold-start").map(String::as_str), Some("false"));
        answers.push((p.pid.clone(), 6, body));
        // An answered slot posted again is the stored answer.
        let (headers, again) = node.slot(p, 6, &page);
        assert_eq!(headers.get("cu-cached").map(String::as_str), Some("true"));
        assert_eq!(again, answers.last().unwrap().2);
    }
    assert_eq!(
        hb.requests.load(Ordering::SeqCst),
        2,
        "a restart reads nothing from HyperBEAM"
    );

    for p in [&legacy, &native] {
        let expected = p.expected(scratch.path());
        for (pid, slot, answer) in answers.iter().filter(|(pid, _, _)| *pid == p.pid) {
            let line = &expected[slot];
            assert_matches(answer, line, &format!("{pid} slot {slot}"));
        }
        let last = &answers.iter().rfind(|(pid, _, _)| *pid == p.pid).unwrap().2;
        assert!(
            last["Output"].to_string().contains("420"),
            "state continued: {last}"
        );
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// Latency of `POST /result/{slot}` for a warm AOS process (`return 1+1`) against the
/// evaluation alone, and of the first slot of a cold process (schedule read, slot 0, slot 1).
/// Not a check: run it on a release build and read the figures,
/// `cargo test --release --test hyperbeam -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement; run with --ignored --nocapture on a release build"]
fn hyperbeam_result_latency() {
    let Some(pure) = testdata("aos-2-pure.wasm") else {
        return;
    };
    let slots: u64 = std::env::var("AOCU_HB_SLOTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(500);
    let state = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut p = Proc::new("latency", add_module(state.path(), &pure), false);
    let hb = FakeHb::start();
    let page = p.process_page();
    hb.pages
        .lock()
        .unwrap()
        .insert(p.pid.clone(), (page, false));
    let node = Node::start(state.path(), hb.addr);
    let page = p.eval(1, OWNER, "return 1+1");
    let started = std::time::Instant::now();
    node.slot(&p, 1, &page);
    let cold_ms = started.elapsed().as_secs_f64() * 1e3;
    let node_wall_ns = || {
        let (_, _, info) = node.request("GET", "/~meta@1.0/info", b"");
        info["metering"]["node"]["wall-ns"].as_f64().unwrap()
    };
    let wall_before = node_wall_ns();
    let mut latencies = Vec::new();
    for slot in 2..=slots + 1 {
        let page = p.eval(slot, OWNER, "return 1+1");
        let started = std::time::Instant::now();
        let (_, body) = node.slot(&p, slot, &page);
        latencies.push(started.elapsed().as_secs_f64() * 1e6);
        assert_eq!(body["Output"]["data"], "2", "{body}");
    }
    let node_mean_us = (node_wall_ns() - wall_before) / slots as f64 / 1e3;
    // The evaluation alone: the same messages through `aocu eval`, its metering wall time.
    let expected = p.expected(scratch.path());
    let mut eval_us: Vec<f64> = expected
        .iter()
        .filter(|(slot, _)| **slot >= 2)
        .map(|(_, line)| line["Metering"]["wall-ns"].as_f64().unwrap() / 1e3)
        .collect();
    latencies.sort_by(f64::total_cmp);
    eval_us.sort_by(f64::total_cmp);
    let (l50, l99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    let (e50, e99) = (percentile(&eval_us, 0.5), percentile(&eval_us, 0.99));
    println!("warm POST /result/{{slot}} over {slots} slots: p50 {l50:.0} us, p99 {l99:.0} us");
    println!("evaluation alone (aocu eval metering wall-ns): p50 {e50:.0} us, p99 {e99:.0} us");
    println!(
        "ratio: p50 {:.2}x, p99 {:.2}x; overhead p50 {:.0} us",
        l50 / e50,
        l99 / e99,
        l50 - e50
    );
    println!("the node's own meter: mean evaluation {node_mean_us:.0} us per slot");
    println!("cold first slot (schedule read + slot 0 + slot 1): {cold_ms:.1} ms");
}

/// `allow-owners` in HyperBEAM mode: a cold start of a process whose owner is not on the list
/// is refused before the process is stored, and nothing is evaluated.
#[test]
fn hyperbeam_cold_start_of_a_refused_owner_stores_nothing() {
    let Some(pure) = testdata("aos-2-pure.wasm") else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let mut p = Proc::new("refused", add_module(state.path(), &pure), true);
    let hb = FakeHb::start();
    hb.pages
        .lock()
        .unwrap()
        .insert(p.pid.clone(), (p.process_page(), true));
    let someone = id("someone else");
    let owners = format!("[\"{someone}\"]");
    let node = Node::start_with(state.path(), hb.addr, &[("AOCU_ALLOW_OWNERS", &owners)]);
    let page = p.eval(1, OWNER, "return 1");
    for _ in 0..2 {
        let (status, _, body) = node.post(
            &format!("/result/1?process-id={}", p.pid),
            page.to_string().as_bytes(),
        );
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["kind"], "owner-not-allowed", "{body}");
        assert!(body["error"].as_str().unwrap().contains(OWNER), "{body}");
    }
    let dry = json!({"Owner": OWNER, "From": OWNER, "Target": p.pid, "Data": "return 1",
                     "Tags": [tag("Action", "Eval")]});
    let (status, _, body) = node.post(
        &format!("/dry-run?process-id={}", p.pid),
        dry.to_string().as_bytes(),
    );
    assert_eq!(status, 403, "{body}");
    // Not stored: a snapshot finds no process, and nothing was metered.
    let (status, _, body) = node.post(&format!("/snapshot/{}", p.pid), b"{}");
    assert_eq!(status, 404, "{body}");
    let (status, _, metering) = node.request("GET", "/~meta@1.0/info/metering", b"");
    assert_eq!(status, 200);
    assert_eq!(metering["node"]["messages"], 0, "{metering}");
    assert_eq!(metering["processes"], 0, "{metering}");
}

/// The checkpoint HyperBEAM hands a CU through `POST /state` after `genesis-wasm@1.0/import`:
/// the item's tags as lower-case headers (`../shared/HYPERBEAM-CU.md` section 3.4), the gzipped
/// memory as the body.
fn checkpoint_headers(
    p: &Proc,
    nonce: u64,
    at: &(u64, String, String),
    sha: &str,
) -> Vec<(String, String)> {
    let (timestamp, assignment, link) = at;
    [
        ("data-protocol", "ao"),
        ("variant", "ao.TN.1"),
        ("type", "Checkpoint"),
        ("module", p.module["id"].as_str().unwrap()),
        ("process", &p.pid),
        ("nonce", &nonce.to_string()),
        ("timestamp", &timestamp.to_string()),
        ("block-height", &p.height.to_string()),
        ("content-type", "application/octet-stream"),
        ("sha-256", sha),
        ("content-encoding", "gzip"),
        ("assignment", assignment),
        ("hash-chain", link),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect()
}

/// `POST /state`: node A evaluates slots 1..3 and gives its memory; a fresh node B, whose only
/// source for the module is a gateway (A's), is handed that memory as HyperBEAM hands an
/// imported checkpoint, and answers slots 4 and (after `kill -9`) 5 exactly as A does,
/// evaluating only those. Bad headers or memory load nothing.
#[test]
fn hyperbeam_post_state_loads_an_imported_checkpoint() {
    use std::io::Write as _;
    let Some(pure) = testdata("aos-2-pure.wasm") else {
        return;
    };
    let (state_a, state_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut p = Proc::new("imported", add_module(state_a.path(), &pure), true);
    let hb = FakeHb::start();
    let spawn = p.process_page();
    hb.pages
        .lock()
        .unwrap()
        .insert(p.pid.clone(), (spawn, false));
    let a = Node::start(state_a.path(), hb.addr);
    for (slot, code) in [
        (1, "X = 40; return X"),
        (2, "X = X + 1; return X"),
        (3, "X = X + 1; return X"),
    ] {
        let page = p.eval(slot, OWNER, code);
        a.slot(&p, slot, &page);
    }
    let at3 = (
        p.timestamp,
        id(&format!("{} assignment 3", p.pid)),
        p.prev.1.clone(),
    );
    let (status, _, memory) = a.exchange("GET", &format!("/state/{}", p.pid), &[], b"");
    assert_eq!(status, 200);
    let sha = hex::encode(Sha256::digest(&memory));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(9));
    gz.write_all(&memory).unwrap();
    let gz = gz.finish().unwrap();

    // B has no module: its cold start fetches it with GATEWAY_URL, here node A's own gateway
    // routes (`/graphql`, `/raw/{id}`).
    let gateway = format!("http://{}", a.addr);
    let b_env = [("GATEWAY_URL", gateway.as_str())];
    let b = Node::start_with(state_b.path(), hb.addr, &b_env);
    let post_state = |headers: &[(String, String)], body: &[u8]| {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let (status, _, body) = b.exchange("POST", "/state", &headers, body);
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    let good = checkpoint_headers(&p, 3, &at3, &sha);
    let with = |name: &str, value: &str| {
        let mut h = good.clone();
        h.retain(|(n, _)| n != name);
        if !value.is_empty() {
            h.push((name.to_string(), value.to_string()));
        }
        h
    };
    let refusals = [
        (with("sha-256", &"0".repeat(64)), gz.clone(), "SHA-256"),
        (good.clone(), gz[..gz.len() / 2].to_vec(), "gunzip"),
        (with("module", &id("another module")), gz.clone(), "module"),
        (with("nonce", ""), gz.clone(), "Nonce"),
        (with("process", "not-an-id"), gz.clone(), "process"),
    ];
    for (headers, body, what) in &refusals {
        let (status, answer) = post_state(headers, body);
        assert_eq!(status, 400, "{what}: {answer}");
        assert!(answer.contains(what), "{what}: {answer}");
    }
    let page4 = p.eval(4, OWNER, "X = X * 10; return X");
    let (status, _, refused) = b.post(
        &format!("/result/4?process-id={}", p.pid),
        page4.to_string().as_bytes(),
    );
    assert_eq!(status, 422, "nothing was loaded by a refusal: {refused}");

    let (status, answer) = post_state(&good, &gz);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        format!("Successfully cached process memory for process {}", p.pid)
    );
    let (_, from_a) = a.slot(&p, 4, &page4);
    let (_, from_b) = b.slot(&p, 4, &page4);
    assert_eq!(from_b, from_a, "slot 4 on the loaded state");
    assert!(from_b["Output"].to_string().contains("420"), "{from_b}");
    let (_, _, metering) = b.request("GET", "/~meta@1.0/info/metering", b"");
    assert_eq!(
        metering["node"]["messages"], 1,
        "B evaluated slot 4 alone: {metering}"
    );
    let (status, again) = post_state(&good, &gz);
    assert_eq!(
        status, 200,
        "a node past the slot keeps its own state: {again}"
    );

    b.kill();
    let b = Node::start_with(state_b.path(), hb.addr, &b_env);
    let page5 = p.eval(5, OWNER, "X = X + 2; return X");
    let (_, from_a) = a.slot(&p, 5, &page5);
    let (headers, from_b) = b.slot(&p, 5, &page5);
    assert_eq!(headers.get("cold-start").map(String::as_str), Some("false"));
    assert_eq!(
        from_b, from_a,
        "slot 5 after kill -9 restores the loaded base"
    );
    assert_eq!(
        hb.requests.load(Ordering::SeqCst),
        2,
        "one schedule read per node"
    );
}

/// The HyperBEAM suite's cold start over https: HyperBEAM's scheduler and the gateway behind
/// TLS with a certificate made here, trusted through `tls-ca-file`. The slot is answered as
/// `aocu eval` answers it, with the schedule and the module read over TLS; a node trusting
/// another certificate is refused, and the answer names the certificate problem.
#[test]
fn hyperbeam_over_tls_needs_the_ca_file() {
    let Some(pure) = testdata("aos-2-pure.wasm") else {
        return;
    };
    let dirs = tempfile::tempdir().unwrap();
    let gateway_dir = tempfile::tempdir().unwrap();
    let mut p = Proc::new("tls", add_module(gateway_dir.path(), &pure), true);
    let gateway = common::Server::start_in(gateway_dir, &[]);
    let hb = FakeHb::start();
    let spawn = p.process_page();
    hb.pages
        .lock()
        .unwrap()
        .insert(p.pid.clone(), (spawn, false));
    let (pem, acceptor) = common::tls::certificate();
    let hb_tls = common::tls::tls_proxy(hb.addr, acceptor.clone());
    let gateway_tls = common::tls::tls_proxy(gateway.addr, acceptor);
    let (hb_url, gateway_url) = (
        format!("https://{hb_tls}"),
        format!("https://{gateway_tls}"),
    );
    let ca = dirs.path().join("ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    let (other_pem, _) = common::tls::certificate();
    let other_ca = dirs.path().join("other.pem");
    std::fs::write(&other_ca, &other_pem).unwrap();
    let page = p.eval(1, OWNER, "X = 7 * 6; return X");
    let start = |name: &str, ca: &Path| {
        let ca = ca.display().to_string();
        let env = [
            ("HB_URL", hb_url.as_str()),
            ("GATEWAY_URL", gateway_url.as_str()),
            ("AOCU_TLS_CA_FILE", ca.as_str()),
        ];
        Node::start_with(&dirs.path().join(name), hb.addr, &env)
    };

    let trusted = start("trusted", &ca);
    let (headers, answer) = trusted.slot(&p, 1, &page);
    assert_eq!(headers.get("cold-start").map(String::as_str), Some("true"));
    let expected = p.expected(dirs.path());
    assert_matches(&answer, &expected[&1], "slot 1 over TLS");
    assert!(answer["Output"].to_string().contains("42"), "{answer}");

    let refused = start("refused", &other_ca);
    let (status, _, error) = refused.post(
        &format!("/result/1?process-id={}", p.pid),
        page.to_string().as_bytes(),
    );
    assert_eq!(status, 502, "{error}");
    let text = error["error"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        text.contains("certificate"),
        "the refusal names the certificate: {error}"
    );
}
