//! `aocu serve`: start the node and run until SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::Outcome;
use crate::config::Loaded;
use crate::http::{self, NodeState};
use crate::hw::{self, profile::ProfileSet};
use crate::node::NodeIdentity;

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
pub fn run(loaded: Loaded) -> anyhow::Result<Outcome> {
    let config = loaded.config;
    super::init_logging(&config.log);
    let hardware = hw::discover(Duration::from_millis(config.gpu_discovery_timeout_ms));
    let profiles =
        ProfileSet::load(Some(&config.profiles_dir)).context("loading hardware profiles")?;
    let profile = profiles.best_match(&hardware);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("aocu-http")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr().context("reading the listen address")?;
        let state = Arc::new(NodeState {
            identity: NodeIdentity::new(config.node_name.clone(), addr),
            hardware,
            profile,
        });
        // The first line on stdout is the address: scripts and tests read it (port 0).
        println!("aocu listening on http://{addr}");
        tracing::info!(%addr, profile = state.profile.as_ref().map(|m| m.profile.name.as_str()), "node started");
        notify_systemd("READY=1");
        http::serve(listener, state, shutdown_signal()).await;
        notify_systemd("STOPPING=1");
        tracing::info!("node stopped");
        Ok(Outcome::Success)
    })
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT: shutting down"),
        () = term => tracing::info!("SIGTERM: shutting down"),
    }
}

/// Tell systemd (`Type=notify`) about our state, when started by it.
fn notify_systemd(state: &str) {
    #[cfg(unix)]
    if let Some(path) = std::env::var_os("NOTIFY_SOCKET") {
        let path = PathBuf::from(path);
        // Abstract sockets (`@name`) are not reachable through a path; skip them quietly.
        if path.to_string_lossy().starts_with('@') {
            return;
        }
        if let Ok(socket) = std::os::unix::net::UnixDatagram::unbound()
            && let Err(e) = socket.send_to(state.as_bytes(), &path)
        {
            tracing::warn!(error = %e, "cannot notify systemd");
        }
    }
}
