//! Publishing checkpoints to Arweave from the running node (`checkpoint-publish-every-seconds`
//! with `checkpoint-upload-url`): when the node takes a local checkpoint of a process and the
//! process was last published longer ago than the interval, the same memory is written as AO's
//! checkpoint item ([`crate::ao::checkpoint_item`]), signed by the node wallet and uploaded as
//! AO's Node CU uploads (`POST {url}/tx/arweave`).
//!
//! The executor only copies the memory and returns: signing, the level-9 gzip and the upload run
//! on the node's runtime (the gzip on a blocking thread). A failed upload is logged and the
//! process is tried again at its next checkpoint after the interval.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::ao::checkpoint_item::{self, CheckpointMeta};
use crate::net::{Client, Url};
use crate::sched::NodeScheduler;

/// Uploads processes' checkpoints, each at most once per interval.
#[derive(Debug)]
pub struct Publisher {
    scheduler: Arc<NodeScheduler>,
    client: Client,
    url: Url,
    every: Duration,
    unit: String,
    runtime: tokio::runtime::Handle,
    last: Mutex<HashMap<String, Instant>>,
}

impl Publisher {
    /// Upload to `url` with `client`, signing with the node wallet of `scheduler`, each process
    /// at most once `every`.
    pub fn new(
        scheduler: Arc<NodeScheduler>,
        client: Client,
        url: Url,
        every: Duration,
        runtime: tokio::runtime::Handle,
    ) -> Publisher {
        Publisher {
            scheduler,
            client,
            url,
            every,
            unit: checkpoint_item::unit_identifier(),
            runtime,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `process` is due (never published by this run, or longer ago than the interval);
    /// when it is, it counts as published now, so that one checkpoint is sent once.
    pub fn take_due(&self, process: &str) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match last.get(process) {
            Some(at) if now.duration_since(*at) < self.every => false,
            _ => {
                last.insert(process.to_string(), now);
                true
            }
        }
    }

    /// Sign and upload a checkpoint of `memory` at `meta`, in the background.
    pub fn publish(self: &Arc<Self>, meta: CheckpointMeta, memory: Vec<u8>) {
        let this = self.clone();
        self.runtime.spawn(async move {
            let process = meta.process.clone();
            let slot = meta.nonce;
            match this.sign_and_upload(meta, memory).await {
                Ok(id) => tracing::info!(process, slot, checkpoint = id, "checkpoint published"),
                Err(reason) => {
                    // Due again at its next checkpoint.
                    this.forget(&process);
                    tracing::warn!(process, slot, %reason, "checkpoint not published");
                }
            }
        });
    }

    fn forget(&self, process: &str) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.remove(process);
    }

    async fn sign_and_upload(
        &self,
        meta: CheckpointMeta,
        memory: Vec<u8>,
    ) -> Result<String, String> {
        let wallet = self
            .scheduler
            .get()
            .await
            .map_err(|e| e.to_string())?
            .wallet()
            .clone();
        let unit = self.unit.clone();
        let item = tokio::task::spawn_blocking(move || {
            checkpoint_item::build(&wallet, &meta, &memory, &unit).map(|item| item.to_bytes())
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        crate::arweave::checkpoints::upload(&self.client, &self.url, Bytes::from(item))
            .await
            .map_err(|e| e.to_string())
    }
}
