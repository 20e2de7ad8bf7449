//! `aocu module add PATH [--tag NAME=VALUE ...]`: sign a WASM module with the node wallet and
//! AO's module tags, store it, print its 43-character ID.
//!
//! It opens the state database itself, so it runs on a stopped node (a running node holds the
//! database: use `POST /~module@1.0` there).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::Outcome;
use crate::ao::Tag;
use crate::ao::{Wallet, module_item};
use crate::config::Loaded;
use crate::store::Store;

/// `aocu module ...`
#[derive(Debug, Subcommand)]
pub enum ModuleCommand {
    /// Add a WASM module: sign it with the node wallet, store it, print its ID.
    Add(AddArgs),
}

/// Arguments of `aocu module add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The `.wasm` file.
    pub path: PathBuf,
    /// A module tag, replacing the default of the same name (repeatable), e.g.
    /// `--tag Memory-Limit=4-gb`.
    #[arg(long = "tag", value_name = "NAME=VALUE", value_parser = super::parse_key_value)]
    pub tags: Vec<(String, String)>,
    /// State directory (key `state-dir`).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print `{"id", "owner", "tags", "size"}` as JSON instead of the bare ID.
    #[arg(long)]
    pub json: bool,
}

impl AddArgs {
    /// These flags as configuration overrides.
    pub fn config_flags(&self) -> Vec<(String, String)> {
        super::state_dir_flag(self.state_dir.as_ref())
    }
}

/// Run `aocu module ...`.
pub fn run(loaded: &Loaded, command: &ModuleCommand) -> anyhow::Result<Outcome> {
    match command {
        ModuleCommand::Add(args) => add(loaded, args),
    }
}

fn add(loaded: &Loaded, args: &AddArgs) -> anyhow::Result<Outcome> {
    let config = &loaded.config;
    let wasm =
        std::fs::read(&args.path).with_context(|| format!("reading {}", args.path.display()))?;
    let store = Store::open(&config.state_dir).context("opening the state database")?;
    let wallet_path = config.wallet_path();
    let wallet = Wallet::load_or_generate(&wallet_path)
        .with_context(|| format!("node wallet {}", wallet_path.display()))?;
    let overrides: Vec<Tag> = args
        .tags
        .iter()
        .map(|(name, value)| Tag::new(name, value))
        .collect();
    let item = module_item::build(&wallet, wasm, &overrides)
        .with_context(|| format!("building the module item for {}", args.path.display()))?;
    let record = store.put_module_item(&item).context("storing the module")?;
    if args.json {
        let out = serde_json::json!({
            "id": record.id,
            "owner": record.owner,
            "tags": record.tags,
            "size": record.size,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{}", record.id);
    }
    Ok(Outcome::Success)
}
