//! Helpers shared by the integration tests: run the real `aocu` binary, start `aocu serve` on a
//! free port, and speak plain HTTP/1.1 to it over TCP.
#![allow(dead_code)]

pub mod stub;
pub mod tls;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Path of the `aocu` binary built for these tests.
pub fn aocu_bin() -> &'static str {
    env!("CARGO_BIN_EXE_aocu")
}

/// A `Command` for the binary with no config file and no inherited AOCU_* overrides.
pub fn aocu() -> Command {
    let mut cmd = Command::new(aocu_bin());
    for (key, _) in std::env::vars() {
        if key.starts_with("AOCU_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// One RSA-4096 wallet for the whole test binary (generating one takes seconds of CPU), saved
/// as `wallet.json` in a folder that lives as long as the binary: the node's key where a test
/// starts nodes with it, and the client's where it signs with it.
pub fn shared_wallet() -> &'static aocu::ao::Wallet {
    &wallet_and_folder().1
}

/// Where [`shared_wallet`] is saved.
pub fn shared_wallet_path() -> std::path::PathBuf {
    wallet_and_folder().0.path().join("wallet.json")
}

fn wallet_and_folder() -> &'static (tempfile::TempDir, aocu::ao::Wallet) {
    static WALLET: std::sync::OnceLock<(tempfile::TempDir, aocu::ao::Wallet)> =
        std::sync::OnceLock::new();
    WALLET.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let wallet = aocu::ao::Wallet::generate().expect("RSA-4096 key");
        wallet
            .save(&dir.path().join("wallet.json"))
            .expect("saving the wallet");
        (dir, wallet)
    })
}

/// Run `command` to its end; its stdout, after checking it succeeded (its stderr otherwise).
pub fn stdout_of(command: &mut Command) -> Vec<u8> {
    let out = command.output().expect("run the command");
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A request signed by `@permaweb/ao-core-libs` (`tests/node/signed-request.mjs`): with the
/// JWK at `jwk`, sent to `addr` as `mode` says (`send`, `replay`, `tamper`).
pub struct SignedRequest<'a> {
    /// `tests/node`, with its `node_modules`.
    pub node_dir: &'a Path,
    /// The node.
    pub addr: SocketAddr,
    /// The signer's key file.
    pub jwk: &'a Path,
    /// How it is sent.
    pub mode: &'a str,
}

impl SignedRequest<'_> {
    /// `(status, body as JSON)` of each request sent.
    pub fn send(&self, method: &str, path: &str, fields: &[&str]) -> Vec<(u16, serde_json::Value)> {
        let stdout = stdout_of(
            Command::new("node")
                .arg("signed-request.mjs")
                .arg(format!("http://{}", self.addr))
                .arg(self.jwk)
                .args([self.mode, method, path])
                .args(fields)
                .current_dir(self.node_dir),
        );
        String::from_utf8_lossy(&stdout)
            .lines()
            .map(|line| {
                let line: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
                let body = line["body"].as_str().expect("a body");
                let body = serde_json::from_str(body)
                    .unwrap_or_else(|_| serde_json::Value::String(body.to_string()));
                (line["status"].as_u64().expect("a status") as u16, body)
            })
            .collect()
    }
}

/// AO's tags for an item of `kind` (`Process`, `Message`, ...), then `extra`.
pub fn ao_tags(kind: &str, extra: &[(&str, &str)]) -> Vec<aocu::ao::Tag> {
    let mut tags = vec![
        aocu::ao::Tag::new("Data-Protocol", "ao"),
        aocu::ao::Tag::new("Variant", "ao.TN.1"),
        aocu::ao::Tag::new("Type", kind),
    ];
    tags.extend(extra.iter().map(|(n, v)| aocu::ao::Tag::new(*n, *v)));
    tags
}

/// The `Timestamp` of every slot on an SU page (`GET /{process}`), in order.
pub fn page_timestamps(page: &serde_json::Value) -> Vec<i64> {
    let edges = page["edges"].as_array().expect("an SU page");
    edges
        .iter()
        .map(|e| {
            let tags = e["node"]["assignment"]["tags"].as_array().expect("tags");
            let ts = tags
                .iter()
                .find(|t| t["name"] == "Timestamp")
                .expect("Timestamp");
            ts["value"]
                .as_str()
                .expect("text")
                .parse()
                .expect("a number")
        })
        .collect()
}

/// A running `aocu serve`, killed on drop.
pub struct Server {
    /// The child process.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state directory (removed on drop).
    pub state_dir: tempfile::TempDir,
}

impl Server {
    /// Start `aocu serve` on 127.0.0.1:0 with extra arguments and wait for its address line.
    pub fn start(extra: &[&str]) -> Server {
        Server::start_in(tempfile::tempdir().expect("temp dir"), extra)
    }

    /// Like [`Server::start`], on a state directory the test has already filled.
    pub fn start_in(state_dir: tempfile::TempDir, extra: &[&str]) -> Server {
        let (child, addr) = spawn_serve(state_dir.path(), extra);
        Server {
            child,
            addr,
            state_dir,
        }
    }

    /// `aocu serve` on `state_dir` (kept by the caller, so that a restart finds it) with the
    /// node wallet at `wallet`.
    pub fn start_with_wallet(state_dir: &Path, wallet: &Path, extra: &[&str]) -> Server {
        let wallet = format!("wallet={}", wallet.display());
        let mut args = vec!["--set", wallet.as_str()];
        args.extend_from_slice(extra);
        let (child, addr) = spawn_serve(state_dir, &args);
        Server {
            child,
            addr,
            state_dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Send `request` bytes as they are and return the raw response.
    pub fn raw(&self, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        // A server that refuses a body (413) answers and closes before reading it all: the
        // write may then fail (broken pipe) while the answer is already there to read.
        let _ = stream.write_all(request);
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// `METHOD path` with `Connection: close`; returns (status, body).
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        let raw = self.raw(&req);
        parse_response(&raw)
    }

    /// GET a path and parse the JSON body; panics on a non-JSON answer.
    pub fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, body) = self.request("GET", path, b"");
        let json = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {path}: body is not JSON ({e}): {body}"));
        (status, json)
    }
}

/// Send one `METHOD path` request with `Connection: close` and a body of `content_type` to
/// `addr`; the raw response, or `None` when the node is gone (refused, or closed without a
/// whole head). Waits for the answer up to `timeout`.
pub fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
    timeout: Duration,
) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // A server that refuses a body answers and closes before reading it all: the write may
    // then fail (broken pipe) while the answer is already there to read.
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body));
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    let raw = String::from_utf8_lossy(&out).into_owned();
    raw.contains("\r\n\r\n").then_some(raw)
}

/// `POST path` through [`exchange`]: (status, JSON body), `None` when the node is gone;
/// panics on an answer that is not JSON.
pub fn post_json(
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    body: &[u8],
    timeout: Duration,
) -> Option<(u16, serde_json::Value)> {
    let raw = exchange(addr, "POST", path, content_type, body, timeout)?;
    let (status, body) = parse_response(&raw);
    let json = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("POST {path}: the body is not JSON ({e}): {body}"));
    Some((status, json))
}

/// Start `aocu serve` on 127.0.0.1:0 and read the address from its first stdout line.
fn spawn_serve(state_dir: &Path, extra: &[&str]) -> (Child, SocketAddr) {
    let mut child = aocu()
        // Hermetic: no gateway unless the test names one (`--set gateways=[...]` wins).
        .env("AOCU_GATEWAYS", "[]")
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(state_dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start aocu serve");
    let line = first_line(&mut child);
    let addr = line
        .trim()
        .strip_prefix("aocu listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .parse()
        .expect("address");
    (child, addr)
}

/// The first line `child` (started with a piped stdout) prints: where it listens, for the
/// servers the tests start.
pub fn first_line(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("a piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the first line");
    line
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Split a raw HTTP/1.1 response into status and body (handles chunked encoding).
pub fn parse_response(raw: &str) -> (u16, String) {
    let (status, _, body) = split_response(raw.as_bytes());
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Split a raw HTTP/1.1 response into status, lower-cased header names with their values, and
/// the body bytes (chunked encoding removed).
pub fn split_response(raw: &[u8]) -> (u16, BTreeMap<String, String>, Vec<u8>) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]);
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let headers: BTreeMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = &raw[end + 4..];
    let body = if headers.get("transfer-encoding").map(String::as_str) == Some("chunked") {
        dechunk(body)
    } else {
        body.to_vec()
    };
    (status, headers, body)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line) = body.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&body[..line]);
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        let rest = &body[line + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        body = rest.get(n + 2..).unwrap_or_default();
    }
    out
}
