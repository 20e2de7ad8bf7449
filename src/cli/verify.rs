//! `aocu verify`: checks the signatures of ANS-104 data items and bundles, in one batch of the
//! node's verifier per run: one line per item (`FILE[#i]: ID TYPE OWNER-ADDRESS OK` or
//! `FAILED (why)`), or JSON; exit 1 when any item fails or a file is neither an item nor a
//! bundle.
//!
//! A file is a bundle when it decodes as one to its last byte (header count, sizes and IDs
//! consistent); anything else is read as one data item.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use super::Outcome;
use crate::ao::{DataItem, bundle};
use crate::hash::Engine;

/// Files larger than this are refused unread (a data item of AO is far smaller).
const MAX_FILE_BYTES: u64 = 1 << 30;

/// Arguments of `aocu verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Engine: `auto` uses a hardware GPU for batches above the crossover.
    #[arg(long, value_enum, default_value = "auto")]
    pub engine: Engine,
    /// Print one JSON object per item instead of lines.
    #[arg(long)]
    pub json: bool,
    /// Data items or bundles (binary ANS-104).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// One item's outcome (or a file's, when it did not parse).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ItemReport {
    /// The file (lossy UTF-8).
    pub file: String,
    /// The item's index in a bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The item ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The signature type's wire number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_type: Option<u16>,
    /// The type's name (arbundles').
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_name: Option<&'static str>,
    /// `base64url(SHA-256(owner))`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_address: Option<String>,
    /// Whether the signature holds.
    pub verified: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ItemReport {
    fn line(&self) -> String {
        let place = match self.index {
            Some(i) => format!("{}[#{i}]", self.file),
            None => self.file.clone(),
        };
        let verdict = match &self.reason {
            None => "OK".to_string(),
            Some(why) => format!("FAILED ({why})"),
        };
        match (&self.id, self.signature_name, &self.owner_address) {
            (Some(id), Some(name), Some(owner)) => {
                format!("{place}: {id} {name} {owner} {verdict}")
            }
            _ => format!("{place}: {verdict}"),
        }
    }
}

/// A file read as items, or why it could not be.
struct FileItems {
    file: String,
    bundled: bool,
    items: Result<Vec<DataItem>, String>,
}

/// Installs the node's verifier for `engine`, with the crossover of the matched hardware
/// profile for `auto`.
pub fn install(loaded: &crate::config::Loaded, engine: Engine) -> anyhow::Result<()> {
    // Only `auto` reads the profile: matching it enumerates the GPUs, which costs more than
    // checking a few signatures.
    let crossover = match engine {
        Engine::Auto => super::bench::matched_profile(loaded)?
            .and_then(|p| p.capacity.verify_gpu_crossover_signatures)
            .and_then(|c| usize::try_from(c).ok()),
        Engine::Cpu | Engine::Gpu => None,
    };
    let verifier = crate::verify::Verifier::open(engine, crossover, None)
        .context("opening the verification engine")?;
    crate::verify::install(verifier);
    Ok(())
}

/// Runs `aocu verify` on the verifier installed as the node's.
pub fn run(args: &VerifyArgs) -> anyhow::Result<Outcome> {
    let files: Vec<FileItems> = args.files.iter().map(|p| read(p)).collect();
    let all: Vec<&DataItem> = files
        .iter()
        .filter_map(|f| f.items.as_ref().ok())
        .flatten()
        .collect();
    let mut verdicts = DataItem::verdicts(&all).into_iter();
    let mut reports = Vec::new();
    for f in &files {
        match &f.items {
            Err(why) => reports.push(ItemReport {
                file: f.file.clone(),
                index: None,
                id: None,
                signature_type: None,
                signature_name: None,
                owner_address: None,
                verified: false,
                reason: Some(why.clone()),
            }),
            Ok(items) => {
                for (i, item) in items.iter().enumerate() {
                    let reason = match verdicts.next().context("one verdict per item")? {
                        Some(Ok(())) => None,
                        Some(Err(failure)) => Some(failure.to_string()),
                        None => Some(format!(
                            "signature type {} ({}) is not verified by this node",
                            item.signature_type.as_u16(),
                            item.signature_type.name()
                        )),
                    };
                    reports.push(ItemReport {
                        file: f.file.clone(),
                        index: f.bundled.then_some(i),
                        id: Some(item.id()),
                        signature_type: Some(item.signature_type.as_u16()),
                        signature_name: Some(item.signature_type.name()),
                        owner_address: Some(item.owner_address()),
                        verified: reason.is_none(),
                        reason,
                    });
                }
            }
        }
    }
    for r in &reports {
        if args.json {
            println!("{}", serde_json::to_string(r)?);
        } else {
            println!("{}", r.line());
        }
    }
    let failed = reports.iter().filter(|r| !r.verified).count();
    if failed > 0 {
        eprintln!("aocu: {failed} of {} items FAILED", reports.len());
        return Ok(Outcome::CheckFailed);
    }
    Ok(Outcome::Success)
}

fn read(path: &std::path::Path) -> FileItems {
    let file = path.to_string_lossy().into_owned();
    let items = read_bytes(path).and_then(|bytes| parse(&bytes));
    let bundled = matches!(&items, Ok((_, true)));
    FileItems {
        file,
        bundled,
        items: items.map(|(items, _)| items),
    }
}

fn read_bytes(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let len = std::fs::metadata(path)
        .map_err(|e| format!("cannot read: {e}"))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(format!("{len} bytes, over the {MAX_FILE_BYTES}-byte limit"));
    }
    std::fs::read(path).map_err(|e| format!("cannot read: {e}"))
}

/// The items of a bundle that spans the whole file, else the one item the file holds.
fn parse(bytes: &[u8]) -> Result<(Vec<DataItem>, bool), String> {
    if let Ok((items, spanned)) = bundle::decode_with_len(bytes)
        && spanned == bytes.len()
    {
        return Ok((items, true));
    }
    DataItem::parse(bytes)
        .map(|item| (vec![item], false))
        .map_err(|e| format!("neither a bundle nor a data item: {e}"))
}
