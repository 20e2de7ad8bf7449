//! The command line: argument definitions and the dispatch of each subcommand to one function.
//!
//! Exit codes: 0 success, 1 a check failed (e.g. `config check` on a bad file),
//! 2 a usage or runtime error.

pub mod bench;
mod bench_suite;
mod checkpoint;
mod config_check;
mod eval;
pub mod hash;
mod info;
mod install;
mod module;
mod reload;
mod router;
mod serve;
mod verify;
mod verify_bench;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{self, Loaded};

/// `--state-dir DIR` as the configuration override the commands that open the store take.
fn state_dir_flag(dir: Option<&PathBuf>) -> Vec<(String, String)> {
    dir.iter()
        .map(|d| ("state-dir".to_string(), d.display().to_string()))
        .collect()
}

/// aocu — a hardware-aware Compute Unit for AO.
#[derive(Debug, Parser)]
#[command(name = "aocu", version = crate::node::VERSION, about, long_about = None)]
pub struct Cli {
    /// Configuration file (default: /etc/aocu/aocu.toml when it exists).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Override a configuration key: `--set key=value` (repeatable; beats env and file).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the machine: CPU topology, caches, ISA features, memory, GPUs, matched profile.
    Info(info::InfoArgs),
    /// Start the node: HTTP server with `~meta@1.0` and the AO APIs.
    Serve(serve::ServeArgs),
    /// Run an AO process module in memory: one JSON result per message.
    Eval(eval::EvalArgs),
    /// Configuration tools.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// AO modules: add a WASM module to the node's store.
    #[command(subcommand)]
    Module(module::ModuleCommand),
    /// Process checkpoints: export one as AO's Arweave checkpoint item.
    #[command(subcommand)]
    Checkpoint(checkpoint::CheckpointCommand),
    /// AO routers: register this node's route with one.
    #[command(subcommand)]
    Router(router::RouterCommand),
    /// Hash files in batches (`b3sum`/`sha256sum` lines), or verify such lists with `--check`.
    Hash(hash::HashArgs),
    /// Check the signatures of ANS-104 data items and bundles, one line per item.
    Verify(verify::VerifyArgs),
    /// Measure this machine: every section in one table (hashing, signature verification,
    /// AOS evaluation, dry-runs over HTTP), or one of them.
    Bench(BenchArgs),
    /// Install this binary, its systemd unit, sysusers and tmpfiles snippets and a commented
    /// default configuration (idempotent; a changed configuration is kept without --force).
    Install(install::InstallArgs),
}

/// `aocu bench [SECTION]`
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    /// One section only.
    #[command(subcommand)]
    pub command: Option<BenchCommand>,
    /// Every section.
    #[command(flatten)]
    pub suite: bench_suite::SuiteArgs,
}

/// `aocu bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Batch hashing throughput per engine, and the CPU/GPU crossover batch size.
    Hash(bench::HashBenchArgs),
    /// Signature verification rate per engine, scheme and batch size, against the `rsa` crate
    /// and `openssl speed`.
    Verify(verify_bench::VerifyBenchArgs),
}

/// `aocu config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration and print the effective result.
    Check(config_check::CheckArgs),
}

/// Outcome of a command that ran to the end: success, or a check that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: the command ran, and what it checked is wrong.
    CheckFailed,
}

/// Parse the command line and run it; the binary's whole `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::CheckFailed) => ExitCode::from(1),
        Err(e) => {
            eprintln!("aocu: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Info(args) => info::run(&load_config(&cli.config, &cli.set, &[])?, &args),
        Command::Serve(args) => {
            let flags = args.config_flags();
            let (file, set) = (cli.config.clone(), cli.set.clone());
            let reload = move || load_config(&file, &set, &flags);
            serve::run(reload()?, Box::new(reload))
        }
        Command::Eval(args) => eval::run(&load_config(&cli.config, &cli.set, &[])?, &args),
        Command::Config(ConfigCommand::Check(args)) => {
            config_check::run(args, cli.config.as_deref(), &cli.set)
        }
        Command::Hash(args) => {
            let crossover = match args.engine {
                crate::hash::Engine::Auto => {
                    bench::profile_crossover(&load_config(&cli.config, &cli.set, &[])?)?
                }
                _ => None,
            };
            hash::run(&args, crossover)
        }
        Command::Verify(args) => {
            verify::install(&load_config(&cli.config, &cli.set, &[])?, args.engine)?;
            verify::run(&args)
        }
        Command::Bench(BenchArgs { command, suite }) => {
            let loaded = load_config(&cli.config, &cli.set, &[])?;
            match command {
                Some(BenchCommand::Verify(args)) => verify_bench::run(&loaded, &args),
                Some(BenchCommand::Hash(args)) => bench::run_hash(&loaded, &args),
                None => bench_suite::run(&loaded, &suite),
            }
        }
        Command::Install(args) => install::run(&args),
        Command::Module(command) => {
            let flags = match &command {
                module::ModuleCommand::Add(args) => args.config_flags(),
            };
            module::run(&load_config(&cli.config, &cli.set, &flags)?, &command)
        }
        Command::Checkpoint(command) => {
            let flags = command.config_flags();
            checkpoint::run(&load_config(&cli.config, &cli.set, &flags)?, &command)
        }
        Command::Router(command) => {
            let flags = command.config_flags();
            router::run(&load_config(&cli.config, &cli.set, &flags)?, &command)
        }
    }
}

/// Load the configuration with `--set` flags and command-specific flags (which win).
fn load_config(
    file: &Option<PathBuf>,
    set: &[(String, String)],
    command_flags: &[(String, String)],
) -> anyhow::Result<Loaded> {
    let flags: Vec<(String, String)> = set.iter().chain(command_flags).cloned().collect();
    config::load(file.as_deref(), std::env::vars(), &flags).context("invalid configuration")
}

/// A `--set` or `--tag` argument without `=`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected KEY=VALUE, got `{0}`")]
pub struct NotKeyValue(String);

/// `KEY=VALUE` (the key trimmed, the value as written) for clap's `value_parser`.
fn parse_key_value(text: &str) -> Result<(String, String), NotKeyValue> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| NotKeyValue(text.to_string()))
}

/// Start `tracing` output on stderr with the configured filter (`RUST_LOG` wins). The handle
/// changes the filter later (a SIGHUP reload); it is `None` when `RUST_LOG` set it, or when
/// logging was already started.
pub fn init_logging(filter: &str) -> Option<reload::LogFilter> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let from_env = tracing_subscriber::EnvFilter::try_from_default_env().ok();
    let fixed = from_env.is_some();
    let filter = from_env.unwrap_or_else(|| reload::log_filter(filter));
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    let started = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .try_init()
        .is_ok();
    (started && !fixed).then(|| reload::LogFilter::new(handle))
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[test]
    fn key_value_arguments() {
        assert_eq!(
            parse_key_value(" a.b =x=y "),
            Ok(("a.b".to_string(), "x=y ".to_string()))
        );
        assert_eq!(parse_key_value("k="), Ok(("k".to_string(), String::new())));
        assert_eq!(
            parse_key_value("novalue"),
            Err(NotKeyValue("novalue".into()))
        );
        // clap shows the error's message under the flag.
        let err = Cli::try_parse_from(["aocu", "--set", "novalue", "info"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("expected KEY=VALUE, got `novalue`"),
            "{err}"
        );
    }
}
