//! `aocu router register`: join an AO router with the node's key ([`crate::router`]), and
//! the same join at `aocu serve` start when `[router] url` is set.
//!
//! Joining is idempotent: a route the router has accepted from this key is recorded in the
//! state directory and not posted again (`--force` posts it anyway, e.g. to a router that
//! lost its routes).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::json;

use super::Outcome;
use crate::ao::Wallet;
use crate::config::{Config, Loaded};
use crate::router::{Joined, Registrations, Route};

/// `aocu router ...`
#[derive(Debug, Subcommand)]
pub enum RouterCommand {
    /// Register this node's route with an AO router (`~router@1.0/routes`), signed by the node
    /// wallet; nothing is sent when the router already took this route.
    Register(RegisterArgs),
}

/// Arguments of `aocu router register`; each flag overrides its `[router]` key.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The router's base URL (key `router.url`).
    #[arg(long, value_name = "URL")]
    pub router: Option<String>,
    /// The node's public base URL, where the router sends requests (key `router.prefix`).
    #[arg(long, value_name = "URL")]
    pub prefix: Option<String>,
    /// Price per request (key `router.price`; default: the price schedule's per-message).
    #[arg(long, value_name = "P")]
    pub price: Option<u64>,
    /// The requests offered, a path regex (key `router.template`).
    #[arg(long, value_name = "REGEX")]
    pub template: Option<String>,
    /// Post the route even when the router took it before.
    #[arg(long)]
    pub force: bool,
    /// State directory (key `state-dir`): the node wallet and the record of registrations.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl RouterCommand {
    /// These flags as configuration overrides.
    pub fn config_flags(&self) -> Vec<(String, String)> {
        let RouterCommand::Register(args) = self;
        let mut flags = super::state_dir_flag(args.state_dir.as_ref());
        let keyed = [
            ("router.url", args.router.clone()),
            ("router.prefix", args.prefix.clone()),
            ("router.price", args.price.map(|p| p.to_string())),
            ("router.template", args.template.clone()),
        ];
        for (key, value) in keyed {
            if let Some(value) = value {
                flags.push((key.to_string(), value));
            }
        }
        flags
    }
}

/// Run `aocu router ...`.
pub fn run(loaded: &Loaded, command: &RouterCommand) -> anyhow::Result<Outcome> {
    let RouterCommand::Register(args) = command;
    let config = &loaded.config;
    if config.router.url.is_empty() {
        bail!("no router: give --router URL (or set `router.url`)");
    }
    let per_message = schedule_per_message(loaded)?;
    let wallet_path = config.wallet_path();
    let wallet = Wallet::load_or_generate(&wallet_path)
        .with_context(|| format!("node wallet {}", wallet_path.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let joined = runtime.block_on(join(config, &wallet, per_message, args.force))?;
    let (registered, accepted) = match joined {
        Joined::Registered(a) => (true, a),
        Joined::AlreadyRegistered(a) => (false, a),
    };
    let line = json!({
        "router": accepted.router, "registered": registered, "already-registered": !registered,
        "route": accepted.route, "signer": accepted.signer, "at": accepted.at,
        "answer": accepted.answer,
    });
    println!("{line}");
    Ok(Outcome::Success)
}

/// Join `config`'s router with `wallet`, at `per_message` unless `router.price` sets a price.
pub async fn join(
    config: &Config,
    wallet: &Wallet,
    per_message: u64,
    force: bool,
) -> anyhow::Result<Joined> {
    let router = crate::net::Url::parse(&config.router.url).context("key `router.url`")?;
    let route: Route = config.router.route(per_message);
    let client =
        crate::net::Client::new(&config.gateway_client()).context("building the client")?;
    let record = Registrations::in_dir(&config.state_dir);
    crate::router::join(&client, wallet, &router, &route, &record, force)
        .await
        .with_context(|| format!("registering with {router}"))
}

/// At `aocu serve` start: join the configured router in the background, once the node wallet
/// is ready, and say in the log how it went.
pub fn join_at_start(
    config: &Config,
    scheduler: Arc<crate::sched::NodeScheduler>,
    price: Arc<crate::price::Schedule>,
) {
    if config.router.url.is_empty() {
        return;
    }
    let config = config.clone();
    tokio::spawn(async move {
        let wallet = match scheduler.get().await {
            Ok(scheduler) => scheduler.wallet().clone(),
            Err(e) => {
                tracing::error!(error = %e, "cannot join the router: no node wallet");
                return;
            }
        };
        let mut wait = FIRST_RETRY;
        loop {
            match join(&config, &wallet, price.get().per_message, false).await {
                Ok(Joined::Registered(a)) => {
                    tracing::info!(router = %a.router, route = ?a.route, answer = %a.answer, "joined the router");
                    return;
                }
                Ok(Joined::AlreadyRegistered(a)) => {
                    tracing::info!(router = %a.router, route = ?a.route, "the router took this route before");
                    return;
                }
                // A router that answered no will answer no again: say so once.
                Err(e) if is_refusal(&e) => {
                    tracing::warn!(error = format!("{e:#}"), "the router refused the route");
                    return;
                }
                Err(e) => {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        retry_in_s = wait.as_secs(),
                        "cannot join the router yet"
                    );
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(LAST_RETRY);
                }
            }
        }
    });
}

/// First wait before joining again a router that could not be reached; it doubles up to
/// [`LAST_RETRY`], so a router that comes up later is joined without a restart.
const FIRST_RETRY: std::time::Duration = std::time::Duration::from_secs(1);
/// Longest wait between two tries.
const LAST_RETRY: std::time::Duration = std::time::Duration::from_secs(600);

/// Whether `error` is the router's own no (not a failure to reach it or to sign).
fn is_refusal(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<crate::router::RouterError>(),
        Some(crate::router::RouterError::Refused { .. } | crate::router::RouterError::Route { .. })
    )
}

/// The per-message price in force on this machine: its matched profile's, under `[price]`.
fn schedule_per_message(loaded: &Loaded) -> anyhow::Result<u64> {
    if loaded.config.router.price >= 0 {
        return Ok(0); // not used: the route has its own price
    }
    let matched = super::bench::profile_match(loaded)?;
    Ok(loaded.config.price_schedule(matched.as_ref())?.per_message)
}
