//! `aocu checkpoint export PROCESS [--out FILE]`: the process' newest checkpoint as AO's
//! Arweave checkpoint item ([`crate::ao::checkpoint_item`]), signed by the node wallet, written
//! to a file and, when `checkpoint-upload-url` is set, uploaded there as AO's Node CU uploads
//! it (`POST {url}/tx/arweave`, the raw item).
//!
//! It opens the state database itself, so it runs on a stopped node (a running node holds the
//! database). A stopped node has checkpointed every process it held.

use std::path::PathBuf;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Args, Subcommand};
use serde_json::json;

use super::Outcome;
use crate::ao::Wallet;
use crate::ao::checkpoint_item;
use crate::config::Loaded;
use crate::store::Store;

/// `aocu checkpoint ...`
#[derive(Debug, Subcommand)]
pub enum CheckpointCommand {
    /// Write a process' newest checkpoint as AO's checkpoint data item (and upload it when
    /// `checkpoint-upload-url` is set).
    Export(ExportArgs),
}

/// Arguments of `aocu checkpoint export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The process ID.
    pub process: String,
    /// Where to write the item (default: `<process>-<slot>.checkpoint` here).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// State directory (key `state-dir`).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl CheckpointCommand {
    /// These flags as configuration overrides.
    pub fn config_flags(&self) -> Vec<(String, String)> {
        let CheckpointCommand::Export(args) = self;
        super::state_dir_flag(args.state_dir.as_ref())
    }
}

/// Run `aocu checkpoint ...`.
pub fn run(loaded: &Loaded, command: &CheckpointCommand) -> anyhow::Result<Outcome> {
    match command {
        CheckpointCommand::Export(args) => export(loaded, args),
    }
}

fn export(loaded: &Loaded, args: &ExportArgs) -> anyhow::Result<Outcome> {
    let config = &loaded.config;
    let pid: crate::ao::Id = args
        .process
        .parse()
        .with_context(|| format!("`{}` is not a process ID", args.process))?;
    let pid = pid.to_string();
    let store = Store::open(&config.state_dir).context("opening the state database")?;
    let Some(record) = store.process(&pid)? else {
        bail!("process {pid} is not on this node");
    };
    let Some((slot, frame)) = store.latest_checkpoint(&pid, u64::MAX)? else {
        bail!(
            "process {pid} has no checkpoint yet (a node checkpoints what it holds when it stops)"
        );
    };
    let snapshot = crate::cu::checkpoint::decode(slot, &frame)
        .with_context(|| format!("checkpoint of process {pid} at slot {slot}"))?;
    let memory = crate::wasm::snapshot::Snapshot::from_bytes(&snapshot)
        .with_context(|| format!("checkpoint of process {pid} at slot {slot}"))?
        .memory;
    let meta = crate::cu::checkpoint::item_meta(&store, &pid, &record.module, slot)?;
    let wallet_path = config.wallet_path();
    let wallet = Wallet::load_or_generate(&wallet_path)
        .with_context(|| format!("node wallet {}", wallet_path.display()))?;
    let unit = checkpoint_item::unit_identifier();
    let item = checkpoint_item::build(&wallet, &meta, &memory, &unit)?;
    let bytes = item.to_bytes();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{pid}-{slot}.checkpoint")));
    write_whole(&out, &bytes)?;
    let bytes_len = bytes.len();
    let uploaded = match config.checkpoint_upload_url.as_str() {
        "" => None,
        url => Some(upload(config, url, bytes)?),
    };
    let line = json!({
        "id": item.id(), "process": pid, "nonce": slot, "file": out.display().to_string(),
        "bytes": bytes_len, "memory-bytes": memory.len(),
        "sha-256": checkpoint_item::memory_digest(&memory), "uploaded": uploaded,
    });
    println!("{line}");
    Ok(Outcome::Success)
}

/// Write `bytes` to `path` through a temporary file beside it: whole or not at all.
fn write_whole(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("writing {}", path.display()))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
}

/// `POST {url}/tx/arweave` with the raw item; the ID the uploader answers.
fn upload(config: &crate::config::Config, url: &str, item: Vec<u8>) -> anyhow::Result<String> {
    let base = crate::net::Url::parse(url).context("key `checkpoint-upload-url`")?;
    let client =
        crate::net::Client::new(&config.gateway_client()).context("building the client")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let uploaded = crate::arweave::checkpoints::upload(&client, &base, Bytes::from(item));
    runtime
        .block_on(uploaded)
        .with_context(|| format!("uploading to {url}"))
}
