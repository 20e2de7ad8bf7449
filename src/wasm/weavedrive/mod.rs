//! WeaveDrive: the file access to Arweave that AOS processes built with emscripten use
//! (`io.open('/data/<id>')`, `/tx/<id>`, `/block/<height>`), through the module's
//! `__asyncjs__weavedrive_open` / `_read` / `_close` imports.
//!
//! The behaviour follows the `@permaweb/weavedrive` package (0.0.18, the version AO's Node CU
//! pins) as AO's reference loader wires it; `docs/weavedrive.md` lists the facts and where
//! aocu differs. In short:
//! - `/tx/{id}`: the gateway's `GET /tx/{id}` JSON with `ownerAddress` (the owner's address)
//!   added; `/block/{height}`: the text of `GET /block/height/{height}`; `/data/{id}`: the
//!   transaction's data (`GET /{id}`), readable only when admitted (see [`Admission`]).
//! - Any other path opens nothing (`fopen` gives `NULL`, `io.open` gives `nil`).
//! - A file that cannot be served (no gateway has it, a data read not admitted, a gateway
//!   error or timeout) ends the message with an `Error`, as the reference's `HALT` does; the
//!   process goes back to its state before the message.
//!
//! The reference awaits the network through Asyncify (unwinding the module's stack and
//! rewinding it once the promise settles). A host function here may block, so the import
//! answers directly: the module sees the same return values and memory, and the exports
//! `asyncify_*` are never called. The executor thread waits for the read, bounded by what is
//! left of the message's wall-clock limit.

mod admission;
mod files;
pub(super) mod host;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use sha2::{Digest as _, Sha256};

use crate::ao::Tags;

pub use admission::{Admission, Kind, Mode};
pub use files::{Contents, Files, NotReadable, Whence};

/// The module format for which AO's Node CU always attaches WeaveDrive.
pub const WASM64_FORMAT: &str = "wasm64-unknown-emscripten-draft_2024_02_15";

/// What the drive asks its source for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch<'a> {
    /// `GET /tx/{id}`: a transaction's header (JSON).
    TxHeader(&'a str),
    /// `GET /block/height/{height}`: a block (JSON text).
    Block(&'a str),
    /// `GET /{id}`: a transaction's data.
    Data(&'a str),
}

impl Fetch<'_> {
    /// The gateway path.
    pub fn path(&self) -> String {
        match self {
            Fetch::TxHeader(id) => format!("/tx/{id}"),
            Fetch::Block(height) => format!("/block/height/{height}"),
            Fetch::Data(id) => format!("/{id}"),
        }
    }
}

/// The source could not answer (network, gateway, size limit, deadline).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// Where the drive's bytes come from: the node's gateways (with a local cache), or anything a
/// test or tool provides. Called on the executor thread; each call returns by `deadline`.
pub trait Source: Send + Sync + std::fmt::Debug {
    /// The bytes of `what`; `None` when no gateway has it.
    fn fetch(&self, what: Fetch<'_>, deadline: Instant) -> Result<Option<Bytes>, SourceError>;
    /// Whether the GraphQL `query` finds at least one transaction.
    fn has_results(&self, query: &str, deadline: Instant) -> Result<bool, SourceError>;
}

/// Why a WeaveDrive open or read ended the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriveError {
    /// No gateway has it.
    #[error("{path}: not found on the gateways")]
    NotFound {
        /// The file.
        path: String,
    },
    /// The data may not be read by this process (see [`Admission`]).
    #[error("{path}: not admitted ({reason})")]
    NotAdmitted {
        /// The file.
        path: String,
        /// Which rule refused it.
        reason: String,
    },
    /// The gateways answered something that is not a header.
    #[error("{path}: {reason}")]
    BadHeader {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The source failed.
    #[error("{path}: {source}")]
    Source {
        /// The file.
        path: String,
        /// Why.
        source: SourceError,
    },
}

/// The drive of one process: its source and the rules of what it may read.
#[derive(Debug, Clone)]
pub struct Drive {
    source: Arc<dyn Source>,
    admission: Admission,
}

/// A path the drive serves, parsed as the reference does (`/category/id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target<'a> {
    Tx(&'a str),
    Block(&'a str),
    Data(&'a str),
}

fn target(path: &str) -> Option<Target<'_>> {
    let mut parts = path.split('/');
    let _before_first_slash = parts.next();
    let category = parts.next()?;
    let id = parts.next().unwrap_or("");
    // The id goes into a URL and a GraphQL string: only base64url characters (Arweave IDs,
    // block heights) can name anything there.
    let id_ok = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match category {
        "tx" => Some(Target::Tx(id)).filter(|_| id_ok),
        "block" => Some(Target::Block(id)).filter(|_| id_ok),
        "data" => Some(Target::Data(id)).filter(|_| id_ok),
        _ => None,
    }
}

impl Drive {
    /// The drive of a process with `process_tags` running a module with `module_tags`, or
    /// `None` when AO's CU attaches no WeaveDrive to that module (neither the 64-bit
    /// emscripten format nor an `Extension: WeaveDrive` tag): its opens then give nothing.
    pub fn for_process(
        source: Arc<dyn Source>,
        process_tags: &Tags,
        module_tags: &Tags,
    ) -> Option<Drive> {
        let attached = module_tags.get("Module-Format") == Some(WASM64_FORMAT)
            || module_tags.get_all("Extension").any(|e| e == "WeaveDrive");
        attached.then(|| Drive {
            source,
            admission: Admission::of(process_tags, module_tags),
        })
    }

    /// Open `path` for a message at `block_height`: a descriptor in `files`, or 0 when the
    /// path names nothing the drive serves.
    pub fn open(
        &self,
        files: &mut Files,
        path: &str,
        block_height: u64,
        deadline: Instant,
    ) -> Result<i32, DriveError> {
        let Some(target) = target(path) else {
            // A path that is not `/tx/…`, `/block/…` or `/data/…` (or `/headers/…`, not
            // implemented by the reference either) opens nothing.
            return Ok(0);
        };
        let contents = match target {
            Target::Tx(id) => Contents::Header(tx_header(
                &self.fetch(path, Fetch::TxHeader(id), deadline)?,
                path,
            )?),
            Target::Block(height) => Contents::Header(block_text(&self.fetch(
                path,
                Fetch::Block(height),
                deadline,
            )?)),
            Target::Data(id) => {
                // Admission is checked once per instance, as the reference checks it only when
                // it creates the file.
                if !files.was_admitted(id) {
                    self.admission
                        .admit(id, block_height, self.source.as_ref(), deadline)
                        .map_err(|reason| DriveError::NotAdmitted {
                            path: path.to_string(),
                            reason,
                        })?;
                    files.admitted(id);
                }
                Contents::Data(Arc::from(&self.fetch(path, Fetch::Data(id), deadline)?[..]))
            }
        };
        Ok(files.open(contents))
    }

    fn fetch(&self, path: &str, what: Fetch<'_>, deadline: Instant) -> Result<Bytes, DriveError> {
        match self.source.fetch(what, deadline) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(DriveError::NotFound {
                path: path.to_string(),
            }),
            Err(source) => Err(DriveError::Source {
                path: path.to_string(),
                source,
            }),
        }
    }
}

/// The `/tx/{id}` file: the gateway's JSON with `ownerAddress` (base64url of the SHA-256 of
/// the owner) set, written compactly with the gateway's key order kept, as the reference's
/// `JSON.stringify({...entry, ownerAddress})` does.
fn tx_header(body: &[u8], path: &str) -> Result<Arc<[u8]>, DriveError> {
    let bad = |reason: String| DriveError::BadHeader {
        path: path.to_string(),
        reason,
    };
    let text = strip_bom(body);
    let mut entry: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| bad(format!("the header is not JSON: {e}")))?;
    let object = entry
        .as_object_mut()
        .ok_or_else(|| bad("the header is not a JSON object".into()))?;
    let owner = object
        .get("owner")
        .and_then(|o| o.as_str())
        .ok_or_else(|| bad("the header has no `owner`".into()))?;
    let key = crate::ao::b64url_decode(owner)
        .map_err(|_| bad("the header's `owner` is not base64url".into()))?;
    let address = crate::ao::b64url(&Sha256::digest(&key));
    object.insert("ownerAddress".into(), serde_json::Value::String(address));
    let bytes = serde_json::to_vec(&entry).map_err(|e| bad(e.to_string()))?;
    Ok(Arc::from(bytes))
}

/// The `/block/{height}` file: the answer as text (invalid UTF-8 replaced, a leading BOM
/// dropped), as the reference's `res.text()` gives it.
fn block_text(body: &[u8]) -> Arc<[u8]> {
    Arc::from(String::from_utf8_lossy(strip_bom(body)).as_bytes())
}

fn strip_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

#[cfg(test)]
mod tests;
