//! A stand-in for a peer the node calls (an Arweave gateway, a bundler): a plain HTTP/1.1
//! server on 127.0.0.1 that answers each request with what a closure says, one thread per
//! connection, `Connection: close`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

/// One request as the stub read it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `HEAD`, `POST`, ...
    pub method: String,
    /// The path and query.
    pub path: String,
    /// The `Range` header, lower-cased, when there is one.
    pub range: Option<String>,
    /// The body (lossy UTF-8).
    pub body: String,
    /// The body as it came.
    pub body_bytes: Vec<u8>,
}

/// What the stub answers: a status and a body; `None` closes without answering (after the
/// handler returns, so a handler that sleeps plays a peer that hangs).
pub type Answer = Option<(u16, Vec<u8>)>;

/// Serve `handler` on a free port; its address.
pub fn serve(handler: impl Fn(&Request) -> Answer + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let handler = Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handler = handler.clone();
            std::thread::spawn(move || answer(stream, handler.as_ref()));
        }
    });
    addr
}

fn answer(mut stream: TcpStream, handler: &(dyn Fn(&Request) -> Answer + Send + Sync)) {
    let Some(request) = read_request(&stream) else {
        return;
    };
    let Some((status, body)) = handler(&request) else {
        return;
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    if request.method != "HEAD" {
        let _ = stream.write_all(&body);
    }
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let (mut length, mut range) = (0usize, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
        let lower = header.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if let Some(v) = lower.strip_prefix("range:") {
            range = Some(v.trim().to_string());
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        range,
        body: String::from_utf8_lossy(&body).into_owned(),
        body_bytes: body,
    })
}
