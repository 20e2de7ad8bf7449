//! The CU API measured where a client meets it: an `aocu serve` child process on loopback, a
//! warm AOS process in it, and keep-alive HTTP/1.1 requests from this process, one at a time,
//! each timed. Shared by `aocu bench` (dry-runs) and `benches/cu_http.rs`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ao::{DataItem, Id, Tag, Wallet};

/// A node started for measuring, stopped (and its state removed) on drop.
pub struct LocalNode {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for LocalNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LocalNode {
    /// `exe serve` on a free loopback port, in a fresh state directory, with `wallet` as its
    /// node wallet and no gateway.
    pub fn start(exe: &Path, wallet: &Wallet) -> Result<LocalNode, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let wallet_path = dir.path().join("wallet.json");
        wallet.save(&wallet_path).map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(dir.path().join("state"))
            .arg("--set")
            .arg(format!("wallet={}", wallet_path.display()))
            .args(["--set", "log=warn", "--set", "gateways=[]"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", exe.display()))?;
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        let addr = line
            .trim()
            .strip_prefix("aocu listening on http://")
            .and_then(|a| a.parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            return Err(format!("the node did not start (first line {line:?})"));
        };
        Ok(LocalNode {
            child,
            addr,
            _dir: dir,
        })
    }
}

/// A keep-alive HTTP/1.1 connection that reads `Content-Length` answers.
pub struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    /// Connect to `addr`.
    pub fn new(addr: SocketAddr) -> Result<Conn, String> {
        let stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
        Ok(Conn {
            reader: BufReader::new(stream),
        })
    }

    /// One request; its status and body.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), String> {
        let io = |e: std::io::Error| e.to_string();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes()).map_err(io)?;
        stream.write_all(body).map_err(io)?;
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line).map_err(io)?;
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP answer: {status_line:?}"))?;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).map_err(io)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v
                    .trim()
                    .parse()
                    .map_err(|_| "a bad Content-Length".to_string())?;
            }
        }
        let mut out = vec![0u8; length];
        self.reader.read_exact(&mut out).map_err(io)?;
        Ok((status, out))
    }
}

fn tag(name: &str, value: &str) -> Tag {
    Tag {
        name: name.into(),
        value: value.into(),
    }
}

/// An AO `Eval` message of `code` to `pid`, signed by `wallet`.
pub fn eval_item(wallet: &Wallet, pid: &str, code: &str) -> Result<DataItem, String> {
    let tags = vec![
        tag("Data-Protocol", "ao"),
        tag("Variant", "ao.TN.1"),
        tag("Type", "Message"),
        tag("Action", "Eval"),
    ];
    let target = pid.parse::<Id>().ok().map(Id::into_bytes);
    DataItem::signed(wallet, target, None, tags, code.as_bytes().to_vec())
        .map_err(|e| e.to_string())
}

/// Add `wasm` to `node`, spawn a process of it scheduled by the node (whose wallet is
/// `wallet`), and evaluate one message so that it is warm; the process ID.
pub fn warm_process(node: &LocalNode, wallet: &Wallet, wasm: &[u8]) -> Result<String, String> {
    let mut conn = Conn::new(node.addr)?;
    let (status, body) = conn.request("POST", "/~module@1.0", "application/wasm", wasm)?;
    let answer = |what: &str, body: &[u8]| format!("{what}: {}", String::from_utf8_lossy(body));
    if status != 200 {
        return Err(answer("the node refused the module", &body));
    }
    let module: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| answer("not JSON", &body))?;
    let module = module["id"]
        .as_str()
        .ok_or_else(|| answer("no module id", &body))?;
    let tags = vec![
        tag("Data-Protocol", "ao"),
        tag("Variant", "ao.TN.1"),
        tag("Type", "Process"),
        tag("Module", module),
        tag("Scheduler", wallet.address()),
    ];
    let spawn =
        DataItem::signed(wallet, None, None, tags, b"1984".to_vec()).map_err(|e| e.to_string())?;
    let (status, body) =
        conn.request("POST", "/", "application/octet-stream", &spawn.to_bytes())?;
    if !(200..300).contains(&status) {
        return Err(answer("the node refused the spawn", &body));
    }
    let pid = spawn.id();
    let warm = eval_item(wallet, &pid, "Counter = 0\nreturn 1")?;
    conn.request("POST", "/", "application/octet-stream", &warm.to_bytes())?;
    let path = format!("/result/{}?process-id={pid}", warm.id());
    let (status, body) = conn.request("GET", &path, "text/plain", b"")?;
    if status != 200 {
        return Err(answer("the first result failed", &body));
    }
    Ok(pid)
}

/// `count` dry-runs of `return 1+1` against `pid`, one after another; each one's latency.
pub fn dry_runs(node: &LocalNode, pid: &str, count: usize) -> Result<Vec<Duration>, String> {
    let mut conn = Conn::new(node.addr)?;
    let body = serde_json::json!({
        "Id": "1234", "Owner": "bench", "Target": pid, "Data": "return 1+1",
        "Tags": [{"name": "Action", "value": "Eval"}], "Anchor": "0",
    })
    .to_string();
    let path = format!("/dry-run?process-id={pid}");
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        let (status, answer) = conn.request("POST", &path, "application/json", body.as_bytes())?;
        latencies.push(started.elapsed());
        if status != 200 {
            return Err(format!(
                "a dry-run answered {status}: {}",
                String::from_utf8_lossy(&answer)
            ));
        }
    }
    Ok(latencies)
}

/// The `q` quantile (0..=1) of `samples`, sorted in place.
pub fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * q).round() as usize]
}
