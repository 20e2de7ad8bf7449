//! Checkpoints imported from Arweave: on a cold start of a process (nothing of it on this
//! node yet), its newest checkpoint signed by a trusted owner is looked up on the gateways,
//! downloaded, checked and loaded, and evaluation continues from the slot after it.
//!
//! As AO's Node CU finds them: the `GetAoProcessCheckpoints` GraphQL search
//! ([`Gateways::checkpoints`]), the newest `Nonce` first, the data from `/raw/{id}` gunzipped.
//! Stricter than the Node CU, every candidate is checked: signed by a trusted owner (config
//! `checkpoint-trusted-owners`, default the node's own wallet), for this process and its module,
//! tags that parse, data that gunzips within the memory limit to memory that hashes to its
//! `SHA-256` tag. A candidate that fails is skipped with a warning and the next older one is
//! tried; when none is left the process replays from slot 0.
//!
//! The lookup runs on the node's runtime while the executor waits no longer than
//! `checkpoint-lookup-timeout-ms` for the search; a process already on the node never looks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ao::checkpoint_item::{self, CheckpointMeta};
use crate::arweave::Gateways;
use crate::arweave::checkpoints::Candidate;

/// How many checkpoints one search lists (the Node CU's page).
const SEARCH_LIMIT: u32 = 50;

/// Longest a checkpoint's download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// Where imported checkpoints come from.
#[derive(Debug)]
pub struct ArweaveCheckpoints {
    gateways: Arc<Gateways>,
    owners: Vec<String>,
    lookup_timeout: Duration,
    runtime: tokio::runtime::Handle,
}

/// A checkpoint found and checked: where it was taken and the memory.
#[derive(Debug)]
pub struct Imported {
    /// The item's ID.
    pub id: String,
    /// Its metadata (the slot is `nonce`).
    pub meta: CheckpointMeta,
    /// The process memory.
    pub memory: Vec<u8>,
}

impl ArweaveCheckpoints {
    /// Search `gateways` for checkpoints signed by `owners` (on `runtime`), waiting at most
    /// `lookup_timeout` for a search.
    pub fn new(
        gateways: Arc<Gateways>,
        owners: Vec<String>,
        lookup_timeout: Duration,
        runtime: tokio::runtime::Handle,
    ) -> ArweaveCheckpoints {
        ArweaveCheckpoints {
            gateways,
            owners,
            lookup_timeout,
            runtime,
        }
    }

    /// The newest usable checkpoint of `process` (running `module`) whose memory fits in
    /// `max_memory` bytes; `None` when there is none (or the search failed, which is logged).
    pub fn newest(&self, process: &str, module: &str, max_memory: u64) -> Option<Imported> {
        let mut candidates = self.search(process)?;
        let nonce = |c: &Candidate| c.tags.get("Nonce").and_then(|n| n.parse::<u64>().ok());
        candidates.sort_by_key(|c| std::cmp::Reverse(nonce(c)));
        candidates.into_iter().find_map(|candidate| {
            match self.check(process, module, max_memory, &candidate) {
                Ok(imported) => Some(imported),
                Err(reason) => {
                    tracing::warn!(process, checkpoint = %candidate.id, %reason,
                        "skipping an Arweave checkpoint");
                    None
                }
            }
        })
    }

    fn search(&self, process: &str) -> Option<Vec<Candidate>> {
        let (gateways, owners) = (self.gateways.clone(), self.owners.clone());
        let pid = process.to_string();
        let search = async move { gateways.checkpoints(&pid, &owners, SEARCH_LIMIT).await };
        let deadline = Instant::now() + self.lookup_timeout;
        match super::bridge::wait_until(&self.runtime, search, deadline) {
            Some(Ok(found)) => Some(found),
            Some(Err(e)) => {
                tracing::warn!(process, error = %e, "the Arweave checkpoint search failed");
                None
            }
            None => {
                tracing::warn!(
                    process,
                    timeout_ms = self.lookup_timeout.as_millis() as u64,
                    "the Arweave checkpoint search timed out"
                );
                None
            }
        }
    }

    fn check(
        &self,
        process: &str,
        module: &str,
        max_memory: u64,
        candidate: &Candidate,
    ) -> Result<Imported, String> {
        if !self.owners.contains(&candidate.owner) {
            return Err(format!(
                "signed by {}, not a trusted owner",
                candidate.owner
            ));
        }
        let meta = checkpoint_item::meta_of(&candidate.tags).map_err(|e| e.to_string())?;
        if meta.process != process {
            return Err(format!("it is a checkpoint of process {}", meta.process));
        }
        if meta.module != module {
            return Err(format!(
                "taken with module {}, the process runs {module}",
                meta.module
            ));
        }
        let gateways = self.gateways.clone();
        let id = candidate.id.clone();
        let limit = usize::try_from(max_memory).unwrap_or(usize::MAX);
        let download = async move { gateways.raw(&id, limit).await };
        let deadline = Instant::now() + DOWNLOAD_TIMEOUT;
        let data = match super::bridge::wait_until(&self.runtime, download, deadline) {
            Some(Ok(Some(data))) => data,
            Some(Ok(None)) => return Err("no gateway serves its data".into()),
            Some(Err(e)) => return Err(format!("download failed: {e}")),
            None => return Err("download timed out".into()),
        };
        let memory = checkpoint_item::unpack(&candidate.tags, &data, max_memory)
            .map_err(|e| e.to_string())?;
        Ok(Imported {
            id: candidate.id.clone(),
            meta,
            memory,
        })
    }
}
