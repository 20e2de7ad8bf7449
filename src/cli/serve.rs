//! `aocu serve`: start the node and run until SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::Outcome;
use crate::config::{Config, Loaded};
use crate::exec::CorePlan;
use crate::http::{self, NodeState};
use crate::hw::{self, profile::ProfileSet};
use crate::meter::Meter;
use crate::node::NodeIdentity;
use crate::store::Store;

/// Arguments of `aocu serve` (shortcuts for configuration keys).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address (key `listen`); port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// State directory (key `state-dir`).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl ServeArgs {
    /// These flags as configuration overrides.
    pub fn config_flags(&self) -> Vec<(String, String)> {
        let mut flags = Vec::new();
        if let Some(listen) = self.listen {
            flags.push(("listen".to_string(), listen.to_string()));
        }
        if let Some(dir) = &self.state_dir {
            flags.push(("state-dir".to_string(), dir.display().to_string()));
        }
        flags
    }
}

/// Run the node until a shutdown signal.
pub fn run(loaded: Loaded, reload: super::reload::Loader) -> anyhow::Result<Outcome> {
    let config = loaded.config;
    let unused = loaded.unused;
    let log = super::init_logging(&config.log);
    // A bad `executors` key stops the node here, before it listens (and before GPU discovery),
    // with the reason.
    let plan =
        CorePlan::new(&config.executors, &hw::cpu::discover()).context("planning executors")?;
    tracing::info!(cpus = ?plan.cpus, "executor core plan");
    let hardware = hw::discover(Duration::from_millis(config.gpu_discovery_timeout_ms));
    let profiles =
        ProfileSet::load(Some(&config.profiles_dir)).context("loading hardware profiles")?;
    let profile = profiles.best_match(&hardware);
    let price = Arc::new(crate::price::Schedule::new(
        config.price_schedule(profile.as_ref())?,
    ));
    let budget = config.process_memory_budget(&hardware.memory);
    tracing::info!(
        bytes = budget,
        allowed_ram = hardware.memory.allowed_bytes(),
        "memory budget of resident processes"
    );
    install_hasher(config.hash_engine, profile.as_ref())?;
    install_verifier(config.verify_engine, profile.as_ref())?;
    let store = Arc::new(
        Store::open(&config.state_dir)
            .with_context(|| format!("opening the state in {}", config.state_dir.display()))?,
    );
    // Metering totals survive restarts: read them back now, write them at shutdown.
    let meter = Meter::new(plan.len());
    if let Err(e) = meter.restore(&store) {
        tracing::warn!(error = %e, "cannot read the saved metering totals; starting from zero");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("aocu-http")
        .build()
        .context("starting the async runtime")?;
    let modules = Arc::new(
        crate::wasm::ModuleCache::with_dir(
            crate::wasm::WasmEngine::new().context("starting the wasm engine")?,
            &config.state_dir.join("modules"),
        )
        .context("opening the module cache")?,
    );
    // The height kept from the last run, else the `block-height` key, until a gateway answers.
    let block_height = crate::arweave::height::BlockHeight::restore(&store, config.block_height);
    let scheduler = Arc::new(crate::sched::NodeScheduler::new(
        store.clone(),
        config.wallet_path(),
        block_height.clone(),
    ));
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr().context("reading the listen address")?;
        // The compute unit: one executor per planned core (started inside the runtime, which
        // its background evaluations and outbox pushes use), metering into the node meter.
        let pool = crate::exec::Pool::new(&plan, config.executor_queue_depth)
            .context("starting the executors")?;
        let executors = pool.monitor();
        let sink_meter = meter.clone();
        let gateways = gateways(&config, &store)?;
        if let Some(gateways) = &gateways {
            let every = (config.block_height_refresh_seconds > 0)
                .then(|| Duration::from_secs(config.block_height_refresh_seconds));
            tokio::spawn(gateways.clone().follow_height(block_height.clone(), every));
        }
        let access = Arc::new(config.access().context("access lists")?);
        if !access.is_open() {
            tracing::info!(
                allow_processes = config.allow_processes.len(),
                deny_processes = config.deny_processes.len(),
                allow_owners = config.allow_owners.len(),
                "access lists in force"
            );
        }
        let remote = if config.schedulers.is_empty() && gateways.is_none() {
            None
        } else {
            // In HyperBEAM mode HyperBEAM is the scheduler of every process it sends: its
            // slots arrive in `POST /result`, so no SU is looked up for them.
            let located = gateways
                .clone()
                .filter(|_| config.hyperbeam_url.is_empty())
                .map(|gateways| crate::sched::remote::Located {
                    gateways,
                    node: scheduler.clone(),
                });
            let remote = crate::sched::remote::RemoteSchedulers::new(
                store.clone(),
                &config.schedulers,
                crate::net::Client::new(&config.su_client()).context("building the SU client")?,
                located,
                access.clone(),
            )
            .context("configuring the remote schedulers")?;
            Some(Arc::new(remote))
        };
        let cu = crate::cu::ComputeUnit::new(
            crate::cu::Context {
                store: store.clone(),
                modules,
                limits: config.node_limits(),
                checkpoints: crate::cu::CheckpointEvery {
                    messages: config.checkpoint_every_messages,
                    interval: Duration::from_secs(config.checkpoint_every_seconds),
                },
                meter: Some(Arc::new(move |cost: &crate::cu::Cost| sink_meter.record(cost))),
                cron: config.hyperbeam_url.is_empty(),
                budget: Arc::new(crate::cu::MemoryBudget::new(budget)),
                weave: weave_source(&config, gateways.as_ref()),
                imports: checkpoint_imports(&config, gateways.as_ref()),
                publisher: checkpoint_publisher(&config, &scheduler)?,
                price: price.clone(),
                blocks: gateways.clone().map(|g| {
                    Arc::new(crate::cu::blocks::GatewayBlocks::new(
                        g,
                        tokio::runtime::Handle::current(),
                        config.node_limits().message_timeout,
                    ))
                }),
            },
            pool,
            crate::cu::Settings {
                eager: config.eager_evaluation,
                access: access.clone(),
            },
            crate::cu::Peers {
                scheduler: Some(scheduler.clone()),
                remote,
                gateways,
            },
        );
        let hyperbeam = if config.hyperbeam_url.is_empty() {
            None
        } else {
            let url = crate::net::Url::parse(&config.hyperbeam_url).context("hyperbeam-url")?;
            let client = crate::net::Client::new(&config.su_client())
                .context("building the HyperBEAM client")?;
            tracing::info!(hb = url.as_str(), "HyperBEAM mode: computing for HyperBEAM");
            Some(Arc::new(crate::cu::hbu::HyperBeam::new(
                cu.clone(),
                url,
                client,
            )))
        };
        for (variable, why) in &unused {
            tracing::info!(variable, why, "HyperBEAM variable not used");
        }
        if let Err(e) = cu.catch_up_all() {
            tracing::warn!(error = %e, "cannot list the processes to evaluate at start");
        }
        let identity = Arc::new(NodeIdentity::new(config.node_name.clone(), addr));
        let reloader = Arc::new(
            super::reload::Reloader::new(reload, config.clone(), log).with_live(
                super::reload::Live {
                    price: price.clone(),
                    profile_price: profile
                        .as_ref()
                        .map_or_else(crate::price::free, |m| m.profile.price.clone()),
                    access: access.clone(),
                    identity: identity.clone(),
                },
            ),
        );
        let operator = operator_authority(&config, &reloader)?;
        let pay = config
            .simple_pay
            .then(|| Arc::new(crate::pay::SimplePay::new(store.clone(), price.clone())));
        let state = Arc::new(NodeState {
            identity,
            hardware,
            profile,
            price,
            executors: Some(executors),
            meter,
            store,
            scheduler: scheduler.clone(),
            block_height,
            http_metrics: crate::http::metrics::HttpMetrics::default(),
            max_body_bytes: config.max_body_bytes,
            cu: Some(cu.clone()),
            hyperbeam,
            access,
            limiter: crate::http::limit::RateLimiter::new(config.rate_limit_per_minute),
            operator: Some(operator),
            pay,
        });
        super::router::join_at_start(&config, state.scheduler.clone(), state.price.clone());
        // An existing wallet loads now; a missing one is generated (RSA-4096: seconds of CPU)
        // by the first request that needs the scheduler, so nodes that never schedule pay nothing.
        if config.wallet_path().exists() {
            tokio::spawn(async move {
                if let Err(e) = scheduler.get().await {
                    tracing::error!(error = %e, "the scheduler wallet is not available");
                }
            });
        }
        let shutdown = shutdown_signal()?;
        #[cfg(unix)]
        reloader.on_sighup()?;
        // The first line on stdout is the address: scripts and tests read it (port 0).
        println!("aocu listening on http://{addr}");
        tracing::info!(%addr, profile = state.profile.as_ref().map(|m| m.profile.name.as_str()), "node started");
        notify_systemd("READY=1");
        if let Some(interval) = watchdog_interval() {
            // Ping from the runtime itself: a wedged runtime stops pinging and systemd restarts us.
            tokio::spawn(async move {
                loop {
                    notify_systemd("WATCHDOG=1");
                    tokio::time::sleep(interval).await;
                }
            });
        }
        http::serve(listener, state.clone(), shutdown).await;
        // Checkpoint what the executors hold, so the next start resumes without replay.
        cu.checkpoint_all().await;
        if let Err(e) = state.meter.persist(&state.store) {
            tracing::warn!(error = %e, "cannot save the metering totals");
        }
        notify_systemd("STOPPING=1");
        tracing::info!("node stopped");
        Ok(Outcome::Success)
    })
}

/// The configured gateways (`None` when `gateways` is empty), read with their own client
/// (`gateway-timeout-ms`, `gateway-attempts`) and caching into `store`.
/// The operator's authority over the node message: `operator-key`'s address, or the node
/// wallet's when it is empty, changing the running configuration through `reloader`.
fn operator_authority(
    config: &Config,
    reloader: &Arc<super::reload::Reloader>,
) -> anyhow::Result<Arc<crate::operator::Operator>> {
    let address = if config.operator_key.as_os_str().is_empty() {
        None
    } else {
        let address =
            crate::operator::address_of_key_file(&config.operator_key).context("operator-key")?;
        tracing::info!(operator = %address, "operator key");
        Some(address)
    };
    Ok(Arc::new(crate::operator::Operator::new(
        address,
        reloader.permanence(),
        reloader.clone(),
    )))
}

fn gateways(
    config: &crate::config::Config,
    store: &Arc<Store>,
) -> anyhow::Result<Option<Arc<crate::arweave::Gateways>>> {
    if config.gateways.is_empty() {
        return Ok(None);
    }
    let urls = config
        .gateways
        .iter()
        .map(|u| crate::net::Url::parse(u))
        .collect::<Result<Vec<_>, _>>()
        .context("key `gateways`")?;
    let client =
        crate::net::Client::new(&config.gateway_client()).context("building the gateway client")?;
    tracing::info!(gateways = ?config.gateways, "gateways");
    Ok(Some(Arc::new(crate::arweave::Gateways::new(
        urls,
        client,
        store.clone(),
        usize::try_from(config.max_module_bytes).unwrap_or(usize::MAX),
    ))))
}

/// WeaveDrive's source: the gateways (none: WeaveDrive opens give nothing), cached under
/// `<state-dir>/weavedrive`, files up to `weavedrive-max-bytes`.
fn weave_source(
    config: &crate::config::Config,
    gateways: Option<&Arc<crate::arweave::Gateways>>,
) -> Option<Arc<dyn crate::wasm::weavedrive::Source>> {
    let gateways = gateways?.clone();
    Some(Arc::new(crate::cu::weave::GatewayDrive::new(
        gateways,
        config.state_dir.join("weavedrive"),
        usize::try_from(config.weavedrive_max_bytes).unwrap_or(usize::MAX),
        tokio::runtime::Handle::current(),
    )))
}

/// Arweave checkpoint imports for cold starts (`checkpoint-import`, with gateways), trusting
/// `checkpoint-trusted-owners` or, when that is empty, the node wallet (when it exists yet).
fn checkpoint_imports(
    config: &crate::config::Config,
    gateways: Option<&Arc<crate::arweave::Gateways>>,
) -> Option<Arc<crate::cu::imported::ArweaveCheckpoints>> {
    let gateways = gateways.filter(|_| config.checkpoint_import)?.clone();
    let owners = if config.checkpoint_trusted_owners.is_empty() {
        let wallet = crate::ao::Wallet::load(&config.wallet_path()).ok()?;
        vec![wallet.address().to_string()]
    } else {
        config.checkpoint_trusted_owners.clone()
    };
    tracing::info!(?owners, "Arweave checkpoints imported on cold starts");
    Some(Arc::new(crate::cu::imported::ArweaveCheckpoints::new(
        gateways,
        owners,
        Duration::from_millis(config.checkpoint_lookup_timeout_ms),
        tokio::runtime::Handle::current(),
    )))
}

/// The checkpoint publisher (`checkpoint-publish-every-seconds` > 0, to
/// `checkpoint-upload-url`), signing with the node wallet.
fn checkpoint_publisher(
    config: &crate::config::Config,
    scheduler: &Arc<crate::sched::NodeScheduler>,
) -> anyhow::Result<Option<Arc<crate::cu::publish::Publisher>>> {
    if config.checkpoint_publish_every_seconds == 0 {
        return Ok(None);
    }
    let url = crate::net::Url::parse(&config.checkpoint_upload_url)
        .context("key `checkpoint-upload-url`")?;
    let client =
        crate::net::Client::new(&config.gateway_client()).context("building the upload client")?;
    let every = Duration::from_secs(config.checkpoint_publish_every_seconds);
    tracing::info!(url = %url.as_str(), every_s = every.as_secs(), "checkpoints published");
    Ok(Some(Arc::new(crate::cu::publish::Publisher::new(
        scheduler.clone(),
        client,
        url,
        every,
        tokio::runtime::Handle::current(),
    ))))
}

/// Opens the node's hasher (every digest the node takes goes through it) on the configured
/// engine, with the CPU/GPU crossover of the matched profile, and installs it.
fn install_hasher(
    engine: crate::hash::Engine,
    profile: Option<&crate::hw::profile::Match>,
) -> anyhow::Result<()> {
    let crossover = profile.and_then(|m| m.profile.capacity.hash_gpu_crossover_bytes);
    let hasher = crate::hash::Hasher::open(engine, crossover)
        .with_context(|| format!("opening the hash engine (key `hash-engine` = {engine:?})"))?;
    let uses_gpu = hasher.gpu().map(|g| g.adapter_info().name.clone());
    tracing::info!(?engine, ?crossover, gpu = ?uses_gpu, "node hasher");
    // Only `serve` installs one, once per process; a second call would keep the first.
    if !crate::hash::shared::install(hasher) {
        tracing::warn!("a node hasher was already installed; keeping it");
    }
    Ok(())
}

/// Opens the node's verifier (every signature the node checks goes through it) on the
/// configured engine, sharing the hasher's GPU device when it has one, and installs it.
fn install_verifier(
    engine: crate::hash::Engine,
    profile: Option<&crate::hw::profile::Match>,
) -> anyhow::Result<()> {
    let crossover = profile
        .and_then(|m| m.profile.capacity.verify_gpu_crossover_signatures)
        .and_then(|c| usize::try_from(c).ok());
    let verifier = crate::verify::Verifier::open(engine, crossover, crate::hash::shared().gpu())
        .with_context(|| {
            format!("opening the verification engine (key `verify-engine` = {engine:?})")
        })?;
    tracing::info!(?engine, ?crossover, gpu = ?verifier.gpu_adapter(), "node verifier");
    if !crate::verify::install(verifier) {
        tracing::warn!("a node verifier was already installed; keeping it");
    }
    Ok(())
}

/// A future that completes on SIGTERM or SIGINT. The handlers are installed before this
/// returns, so a signal sent right after the address line is printed is not lost.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                _ = int.recv() => tracing::info!("SIGINT: shutting down"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("Ctrl-C: shutting down");
        })
    }
}

/// Half of systemd's `WatchdogSec=` (passed as `WATCHDOG_USEC`), when it is for this process.
fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    let for_us = std::env::var("WATCHDOG_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_none_or(|pid| pid == std::process::id());
    (for_us && usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// Tell systemd (`Type=notify`) about our state, when started by it.
fn notify_systemd(state: &str) {
    #[cfg(unix)]
    if let Some(socket) = std::env::var_os("NOTIFY_SOCKET")
        && let Err(e) = send_notify(&socket, state)
    {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Send `state` to the `NOTIFY_SOCKET` named `socket`: a path, or `@name` for a socket in
/// Linux's abstract namespace (what systemd gives a service in a user manager or a container).
#[cfg(unix)]
fn send_notify(socket: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    let sender = std::os::unix::net::UnixDatagram::unbound()?;
    if let Some(name) = socket.as_encoded_bytes().strip_prefix(b"@") {
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt as _;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            sender.send_to_addr(state.as_bytes(), &addr)?;
        }
        // Other systems have no abstract namespace: no systemd to tell.
        #[cfg(not(target_os = "linux"))]
        let _ = name;
        return Ok(());
    }
    sender.send_to(state.as_bytes(), std::path::Path::new(socket))?;
    Ok(())
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::net::UnixDatagram;

    use super::*;

    fn received(socket: &UnixDatagram) -> String {
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 64];
        let n = socket.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn notifies_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt as _;
        let name = format!(
            "aocu-notify-test-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        );
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
        let systemd = UnixDatagram::bind_addr(&addr).unwrap();
        send_notify(std::ffi::OsStr::new(&format!("@{name}")), "READY=1").unwrap();
        assert_eq!(received(&systemd), "READY=1");
    }

    #[test]
    fn notifies_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let systemd = UnixDatagram::bind(&path).unwrap();
        send_notify(path.as_os_str(), "STOPPING=1").unwrap();
        assert_eq!(received(&systemd), "STOPPING=1");
        // A socket nobody listens on is an error (logged by `notify_systemd`), not a panic.
        assert!(send_notify(dir.path().join("gone").as_os_str(), "READY=1").is_err());
    }
}
