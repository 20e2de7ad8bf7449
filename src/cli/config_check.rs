//! `aocu config check [PATH]`: validate a configuration and print the effective result.

use std::path::{Path, PathBuf};

use clap::Args;

use super::Outcome;
use crate::config;

/// Arguments of `aocu config check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The file to check (default: --config, else /etc/aocu/aocu.toml when it exists).
    pub path: Option<PathBuf>,
    /// Print the effective configuration as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Validate and print; a bad configuration is reported on stderr with exit status 1.
pub fn run(
    args: CheckArgs,
    global_config: Option<&Path>,
    set: &[(String, String)],
) -> anyhow::Result<Outcome> {
    let file = args.path.as_deref().or(global_config);
    let loaded = match config::load(file, std::env::vars(), set) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("aocu: configuration is invalid: {e}");
            return Ok(Outcome::CheckFailed);
        }
    };
    if args.json {
        let out = serde_json::json!({
            "file": loaded.file,
            "overrides": loaded.overrides.iter().map(|(k, o)| serde_json::json!({"key": k, "from": o})).collect::<Vec<_>>(),
            "unused": loaded.unused.iter().map(|(v, why)| serde_json::json!({"variable": v, "why": why})).collect::<Vec<_>>(),
            "config": loaded.config,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        match &loaded.file {
            Some(path) => println!("# configuration OK: {}", path.display()),
            None => println!("# configuration OK: no file, embedded defaults"),
        }
        for (key, origin) in &loaded.overrides {
            println!("# {key} set by {origin}");
        }
        for (variable, why) in &loaded.unused {
            println!("# {variable} is not used: {why}");
        }
        print!("{}", toml::to_string_pretty(&loaded.config)?);
    }
    Ok(Outcome::Success)
}
