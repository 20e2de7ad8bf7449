//! The node's WeaveDrive source: the configured gateways, with every file kept under
//! `<state-dir>/weavedrive/{tx,block,data}/<id>` once read.
//!
//! The cache is what makes WeaveDrive reads deterministic across replays and restarts: a
//! message replayed (a rollback, a restart from an older checkpoint) reads the bytes its first
//! evaluation read, whatever the gateways answer by then. Files are written to a temporary
//! name and renamed, so a crash leaves either the whole file or none.
//!
//! The executor thread that asks waits on a channel while the read runs on the node's async
//! runtime, never past the message's deadline.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;

use crate::arweave::{GatewayError, Gateways};
use crate::wasm::weavedrive::{Fetch, Source, SourceError};

/// WeaveDrive reads from the gateways, cached on disk.
#[derive(Debug)]
pub struct GatewayDrive {
    gateways: Arc<Gateways>,
    cache: PathBuf,
    max_bytes: usize,
    runtime: tokio::runtime::Handle,
}

impl GatewayDrive {
    /// Reads from `gateways` on `runtime`, files up to `max_bytes`, cached under `cache`.
    pub fn new(
        gateways: Arc<Gateways>,
        cache: PathBuf,
        max_bytes: usize,
        runtime: tokio::runtime::Handle,
    ) -> GatewayDrive {
        GatewayDrive {
            gateways,
            cache,
            max_bytes,
            runtime,
        }
    }

    /// Run `future` on the runtime and wait for it until `deadline`.
    fn wait<T, F>(&self, future: F, deadline: Instant) -> Result<T, SourceError>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T, GatewayError>> + Send + 'static,
    {
        match super::bridge::wait_until(&self.runtime, future, deadline) {
            Some(answer) => answer.map_err(|e| SourceError(e.to_string())),
            None => Err(SourceError(
                "no answer within the message's time limit".into(),
            )),
        }
    }

    fn cached(&self, what: Fetch<'_>) -> Option<PathBuf> {
        let (kind, id) = match what {
            Fetch::TxHeader(id) => ("tx", id),
            Fetch::Block(height) => ("block", height),
            Fetch::Data(id) => ("data", id),
        };
        let safe = !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        safe.then(|| self.cache.join(kind).join(id))
    }
}

impl Source for GatewayDrive {
    fn fetch(&self, what: Fetch<'_>, deadline: Instant) -> Result<Option<Bytes>, SourceError> {
        let file = self
            .cached(what)
            .ok_or_else(|| SourceError(format!("{}: not an Arweave ID", what.path())))?;
        if let Ok(bytes) = std::fs::read(&file) {
            return Ok(Some(Bytes::from(bytes)));
        }
        let gateways = self.gateways.clone();
        let (path, max) = (what.path(), self.max_bytes);
        let answer = self.wait(
            async move { gateways.weave_get(&path, max).await },
            deadline,
        )?;
        if let Some(bytes) = &answer
            && let Err(e) = keep(&file, bytes)
        {
            // Served anyway: the next read asks the gateways again.
            tracing::warn!(file = %file.display(), error = %e, "cannot cache a WeaveDrive file");
        }
        Ok(answer)
    }

    fn has_results(&self, query: &str, deadline: Instant) -> Result<bool, SourceError> {
        let gateways = self.gateways.clone();
        let query = query.to_string();
        self.wait(
            async move { gateways.graphql_has_edges(&query).await },
            deadline,
        )
    }
}

/// Write `bytes` to `file` whole or not at all.
fn keep(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.part", std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&tmp, file)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}
